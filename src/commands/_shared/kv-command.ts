import { Flags } from '@oclif/core';
import { principalOf } from '../../core/auth/did.js';
import type { SpaceId } from '../../core/auth/resource.js';
import {
  KvClient,
  keyInvoker,
  parseProof,
  readDidKeyFile,
  resolveSpace,
  sessionInvoker,
  signIn,
  usageError,
  type Proof,
} from '../../core/client/index.js';
import { ClientCommand, nodeFlag, ownerFlags } from './client-command.js';

export const kvFlags = {
  node: nodeFlag,
  space: Flags.string({
    summary: 'Space: a name of the owner\'s (default "default"), or a full space id tinycloud:pkh:eip155:1:0x…:NAME.',
    helpValue: 'NAME',
  }),
  as: Flags.string({
    summary: 'Act as this did:key (a key file from `delegate keygen`) under --proof, instead of as the owner.',
    helpValue: 'KEYFILE',
    dependsOn: ['proof'],
  }),
  proof: Flags.string({
    summary: 'The delegation to --as: its token (registered with the node first), a file holding it, or its CID.',
    helpValue: 'TOKEN|CID',
    multiple: true,
    dependsOn: ['as'],
  }),
  ...ownerFlags,
};

export interface KvFlags {
  node?: string;
  space?: string;
  as?: string;
  proof?: string[];
  'owner-key'?: string;
  'chain-id': number;
}

export const KV_HELP_AUTH = `Who signs: by default the space owner (TINYCLOUD_ETH_KEY or --owner-key), through a session cached until it expires in $TINYCLOUD_CONFIG_DIR, $XDG_CONFIG_HOME/tinycloud or ~/.config/tinycloud (one wallet signature per session). With --as KEYFILE --proof TOKEN|CID, a delegate's did:key signs, citing the delegation; --space then defaults to the space the proof names.

Exit status: 0 ok, 2 usage, 3 not authorized (the message names the missing capability), 4 not found (key, or space not hosted), 5 node error or unreachable.`;

/** The one space the proofs name (`--space` picks among several, by name or full id). */
export function spaceOfProofs(proofs: readonly Proof[], wanted: string | undefined): SpaceId {
  if (wanted?.startsWith('tinycloud:')) return resolveSpace(wanted);
  const spaces = new Map<string, SpaceId>();
  for (const proof of proofs) {
    for (const cap of proof.envelope?.info.capabilities ?? []) {
      if (cap.target.kind === 'tinycloud') spaces.set(cap.target.space.text, cap.target.space);
    }
  }
  const candidates = [...spaces.values()].filter((s) => wanted === undefined || s.name === wanted);
  if (candidates.length === 1) return candidates[0] as SpaceId;
  if (spaces.size === 0) {
    throw usageError('The proof names no space (a CID says nothing about it)', 'Pass --space with the full space id, tinycloud:pkh:eip155:1:0x…:NAME.');
  }
  throw usageError(
    `The proof names ${candidates.length === 0 ? `no space called ${wanted}` : 'several spaces'}: ${[...spaces.keys()].join(', ')}`,
    'Pass --space with the full space id.',
  );
}

/** Commands that act on KV: resolve who signs (owner session or delegate key + proofs) and the space. */
export abstract class KvCommand extends ClientCommand {
  protected async openKv(flags: KvFlags, options: { stdinIsData?: boolean } = {}): Promise<KvClient> {
    const node = this.node(flags.node);
    if (flags.as) {
      const signer = await readDidKeyFile(flags.as);
      const proofs = await Promise.all((flags.proof ?? []).map(parseProof));
      for (const proof of proofs) {
        const audience = proof.envelope && principalOf(proof.envelope.info.audience);
        if (audience && audience !== signer.did) {
          throw usageError(`--proof ${proof.cid.toString()} was delegated to ${audience}, not to ${signer.did} (${flags.as})`);
        }
      }
      const space = spaceOfProofs(proofs, flags.space);
      // A proof given as a token may never have reached this node; registering is idempotent.
      for (const proof of proofs) {
        if (proof.token) await node.delegate(proof.token, { action: 'register --proof', space: { id: space.text, name: space.name }, invoker: signer.did });
      }
      return new KvClient(node, keyInvoker(signer, proofs.map((p) => p.cid)), space);
    }
    const owner = await this.owner(flags['owner-key'], options.stdinIsData);
    const signedIn = await signIn({
      node,
      owner,
      chainId: flags['chain-id'],
      space: flags.space ?? 'default',
      store: this.sessions(),
    });
    return new KvClient(node, sessionInvoker(signedIn.session), signedIn.space);
  }
}
