import { existsSync } from 'node:fs';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { principalOf } from '../../core/auth/did.js';
import type { SpaceId } from '../../core/auth/resource.js';
import {
  keyInvoker,
  newDidKey,
  nowSeconds,
  parseProof,
  readDidKeyFile,
  resolveSpace,
  signOwnerDelegation,
  usageError,
  type Invoker,
  type NodeClient,
} from '../../core/client/index.js';
import { readConfigSources, resolveDataDir, validateConfig } from '../../core/config/load.js';
import { initDataDir } from '../../core/datadir.js';
import { isTinyCloudError } from '../../core/errors.js';
import { TinyCloudNode } from '../../core/node.js';
import { ClientCommand, nodeFlag, ownerFlags } from './client-command.js';
import { EXIT } from './exit-codes.js';
import { spaceOfProofs } from './kv-command.js';

export const carFlags = {
  dir: Flags.string({ char: 'd', summary: 'Data directory of the node to work on in-process (storage.datadir).', helpValue: 'DIR', exclusive: ['node'] }),
  config: Flags.string({ char: 'c', summary: 'Config file (default: DIR/tinycloud.toml when present).', helpValue: 'FILE', exclusive: ['node'] }),
  node: { ...nodeFlag, exclusive: ['dir', 'config'] },
  as: Flags.string({ summary: 'With --node: act as this did:key (a key file) under --proof, instead of as the owner.', helpValue: 'KEYFILE', dependsOn: ['proof'] }),
  proof: Flags.string({ summary: 'With --as: the delegation granting the ability (token, file or CID).', helpValue: 'TOKEN|CID', multiple: true, dependsOn: ['as'] }),
  ...ownerFlags,
};

export interface CarFlags {
  dir?: string;
  config?: string;
  node?: string;
  as?: string;
  proof?: string[];
  'owner-key'?: string;
  'chain-id': number;
}

/** How long the delegation an owner signs for one export or import lives. */
const CAR_SESSION_SECONDS = 3600;

/** `tinycloud export` and `tinycloud import`: in-process over a data dir, or over `/invoke` with --node. */
export abstract class CarCommand extends ClientCommand {
  /** A refused file is neither a usage error nor an auth failure: exit 1, with the message naming the block. */
  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (isTinyCloudError(error) && error.code === 'CAR_INVALID') return this.fail(error.message, EXIT.FAILURE, error.code);
    return super.catch(error);
  }

  /**
   * The engine over a data dir, exactly as `serve` opens it (it may be running on the same dir). With `init`, a
   * data dir that has no node yet is initialised first, as `serve` does (restoring onto a fresh machine).
   */
  protected async openLocal(flags: CarFlags, options: { init?: boolean } = {}): Promise<TinyCloudNode> {
    const sources = { configFile: flags.config, flags: { 'storage.datadir': flags.dir } };
    let raw = readConfigSources(sources);
    if (options.init && raw.problems.length === 0) {
      const dataDir = resolveDataDir(raw);
      const hasSecret = raw.values.has('keys.secret') || raw.values.has('keys.secret_file') || existsSync(path.join(dataDir, 'secret'));
      if (!hasSecret) {
        const created = await initDataDir(dataDir);
        this.note(`Initialised ${created.dataDir} (secret in ${created.secretFile})`);
        raw = readConfigSources(sources);
      }
    }
    return TinyCloudNode.open(validateConfig(raw));
  }

  /**
   * Who signs the export/import invocation on a remote node: a delegate key under its proofs, or the owner through
   * a fresh session key holding just `ability` on `<space>/space` (one wallet signature; the delegation is
   * registered with the node and so becomes part of the space's history, as any sign-in does).
   */
  protected async carInvoker(node: NodeClient, flags: CarFlags, space: string | undefined, ability: string): Promise<{ invoker: Invoker; space: SpaceId }> {
    if (flags.as) {
      const signer = await readDidKeyFile(flags.as);
      const proofs = await Promise.all((flags.proof ?? []).map(parseProof));
      for (const proof of proofs) {
        const audience = proof.envelope && principalOf(proof.envelope.info.audience);
        if (audience && audience !== signer.did) throw usageError(`--proof ${proof.cid.toString()} was delegated to ${audience}, not to ${signer.did} (${flags.as})`);
      }
      const resolved = spaceOfProofs(proofs, space);
      for (const proof of proofs) {
        if (proof.token) await node.delegate(proof.token, { action: 'register --proof', space: { id: resolved.text, name: resolved.name }, invoker: signer.did });
      }
      return { invoker: keyInvoker(signer, proofs.map((p) => p.cid)), space: resolved };
    }
    const ownerKey = await this.owner(flags['owner-key']);
    const ownerDid = `did:pkh:eip155:${flags['chain-id']}:${ownerKey.address}`;
    const resolved = resolveSpace(space ?? 'default', ownerDid);
    if (resolved.did !== ownerDid) throw usageError(`${resolved.text} belongs to ${resolved.did}, not to the owner key (${ownerDid})`, 'Use --as KEYFILE --proof TOKEN to act under a delegation.');
    const key = newDidKey();
    const now = Math.floor(nowSeconds());
    const delegation = await signOwnerDelegation({
      owner: await ownerKey.unlock(),
      chainId: flags['chain-id'],
      audience: key.verificationMethod,
      att: { [`${resolved.text}/space`]: { [ability]: [{}] } },
      issuedAt: now,
      expiresAt: now + CAR_SESSION_SECONDS,
    });
    await node.delegate(delegation.token, { action: `sign in for ${ability}`, space: { id: resolved.text, name: resolved.name } });
    return { invoker: keyInvoker(key, [delegation.cid]), space: resolved };
  }
}
