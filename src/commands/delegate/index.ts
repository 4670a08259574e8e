import { Flags } from '@oclif/core';
import { isDid, principalOf, splitDidUrl } from '../../core/auth/did.js';
import {
  attenuationsFor,
  decodeToken,
  normalizeAbility,
  nowSeconds,
  parseProof,
  parseTimeSpec,
  readDidKeyFile,
  resolveSpace,
  signKeyDelegation,
  signOwnerDelegation,
  summarizeDelegation,
  usageError,
  type DelegationSummary,
  type Proof,
  type SignedDelegation,
} from '../../core/client/index.js';
import type { SpaceId } from '../../core/auth/resource.js';
import { ClientCommand, nodeFlag, ownerFlags } from '../_shared/client-command.js';
import { spaceOfProofs } from '../_shared/kv-command.js';

type DelegateOutput = DelegationSummary & { registered: boolean };

const DEFAULT_EXPIRY_SECONDS = 3600;

export default class Delegate extends ClientCommand {
  static override summary = 'Mint a delegation: grant abilities on a space (or a path in it) to a DID.';
  static override description = `As the space owner (TINYCLOUD_ETH_KEY or --owner-key), signs a SIWE message carrying a ReCap (EIP-5573) and encodes it as a CACAO, exactly as the SDK does. With --from KEYFILE --proof TOKEN|CID, the holder of a delegation re-delegates part of it as a UCAN signed by that key; its lifetime defaults to, and may not exceed, the proof's.

Abilities are service/action (kv/get, kv/put, kv/list, kv/del, kv/metadata, kv/versions, sql/read, space/host, …) or full names (tinycloud.kv/get); repeat --ability or separate with commas. They apply to <space>/<service>, or to <space>/<service>/PREFIX with --path (kv/get on --path photos/ covers photos/a.jpg, not docs/x). --expires and --not-before take a duration from now (90s, 15m, 2h, 7d, 1w) or an RFC 3339 time; an owner delegation may say --expires never.

With --node, the delegation is also registered there (POST /delegate); otherwise hand the token over and the delegate's first \`invoke … --proof TOKEN\` registers it. Human output: the token on stdout, a description on stderr.

JSON output (--json): {token, cid, issuer, audience, capabilities: [{resource, ability}], expiresAt, notBefore, proofs, kind, registered}; expiresAt and notBefore are RFC 3339 or null, kind is cacao or ucan, cid is what \`delegate revoke\` takes.`;
  static override examples = [
    '<%= config.bin %> delegate --to did:key:z6Mk… --ability kv/get --path photos/ --expires 1h',
    '<%= config.bin %> delegate --to did:key:z6Mk… --ability kv/get,kv/list --space photos --node http://127.0.0.1:8000 --json',
    '<%= config.bin %> delegate --from bob.key --proof "$TOKEN" --to did:key:z6Mk… --ability kv/get --path photos/2024/ --expires 10m',
  ];
  static override flags = {
    to: Flags.string({ summary: 'The delegate: a DID (did:key:…, did:pkh:…).', required: true, helpValue: 'DID' }),
    ability: Flags.string({ summary: 'Ability to grant (repeatable, or comma-separated).', required: true, multiple: true, helpValue: 'A' }),
    space: Flags.string({
      summary: "The owner's space name (default \"default\") or a full space id; with --from, defaults to the proof's space.",
      helpValue: 'NAME',
    }),
    path: Flags.string({ summary: 'Restrict to keys under this prefix (e.g. photos/).', helpValue: 'PREFIX' }),
    expires: Flags.string({ summary: 'Expiry: a duration from now or an RFC 3339 time (default 1h, or the proof\'s expiry if sooner).', helpValue: '90s|7d|RFC3339' }),
    'not-before': Flags.string({ summary: 'Not valid before: a duration from now or an RFC 3339 time.', helpValue: 'T' }),
    from: Flags.string({ summary: 'Re-delegate as this did:key (a key file) instead of as the owner; needs --proof.', helpValue: 'KEYFILE', dependsOn: ['proof'] }),
    proof: Flags.string({ summary: 'The delegation --from holds: its token, a file holding it, or its CID.', helpValue: 'TOKEN|CID', multiple: true, dependsOn: ['from'] }),
    node: { ...nodeFlag, summary: 'Register the delegation on this node.' },
    ...ownerFlags,
  };

  async run(): Promise<DelegateOutput> {
    const { flags } = await this.parse(Delegate);
    const now = nowSeconds();
    const audience = flags.to.trim();
    if (!isDid(splitDidUrl(audience).did)) throw usageError(`--to ${flags.to} is not a DID`, 'Write e.g. --to did:key:z6Mk… (tinycloud delegate keygen makes one).');
    const abilities = [...new Set(flags.ability.flatMap((a) => a.split(',')).filter((a) => a.trim()).map(normalizeAbility))];
    const notBefore = flags['not-before'] === undefined ? undefined : parseTimeSpec(flags['not-before'], '--not-before', now);

    let signed: SignedDelegation;
    let space: SpaceId;
    let proofs: Proof[] = [];
    if (flags.from) {
      const signer = await readDidKeyFile(flags.from);
      proofs = await Promise.all((flags.proof ?? []).map(parseProof));
      for (const proof of proofs) {
        const holder = proof.envelope && principalOf(proof.envelope.info.audience);
        if (holder && holder !== signer.did) throw usageError(`--proof ${proof.cid.toString()} was delegated to ${holder}, not to ${signer.did} (${flags.from})`);
      }
      space = spaceOfProofs(proofs, flags.space);
      const parentExpiry = minDefined(proofs.map((p) => p.envelope?.info.expiry));
      const parentNotBefore = maxDefined(proofs.map((p) => p.envelope?.info.notBefore));
      if (flags.expires === 'never') throw usageError('A UCAN delegation needs an expiry: --expires never is for owner delegations');
      const expiresAt = flags.expires === undefined
        ? Math.floor(Math.min(now + DEFAULT_EXPIRY_SECONDS, parentExpiry ?? Infinity))
        : parseTimeSpec(flags.expires, '--expires', now);
      if (parentExpiry !== undefined && expiresAt > parentExpiry) {
        throw usageError(`--expires is after the proof expires (${new Date(parentExpiry * 1000).toISOString()})`, 'A delegation cannot outlive its proof.');
      }
      if (parentNotBefore !== undefined && notBefore !== undefined && notBefore < parentNotBefore) {
        throw usageError(`--not-before is before the proof becomes valid (${new Date(parentNotBefore * 1000).toISOString()})`);
      }
      signed = await signKeyDelegation({
        signer,
        audience,
        att: attenuationsFor(space.text, abilities, flags.path),
        proofs: proofs.map((p) => p.cid),
        expiresAt,
        ...((notBefore ?? parentNotBefore) !== undefined && { notBefore: notBefore ?? parentNotBefore }),
      });
    } else {
      const ownerKey = await this.owner(flags['owner-key']);
      const ownerDid = `did:pkh:eip155:${flags['chain-id']}:${ownerKey.address}`;
      space = resolveSpace(flags.space ?? 'default', ownerDid);
      if (space.did !== ownerDid) {
        throw usageError(`${space.text} belongs to ${space.did}, not to the owner key (${ownerDid})`, 'To re-delegate a delegation you hold, use --from KEYFILE --proof TOKEN.');
      }
      const expiresAt = flags.expires === 'never' ? undefined : parseTimeSpec(flags.expires ?? '1h', '--expires', now);
      signed = await signOwnerDelegation({
        owner: await ownerKey.unlock(),
        chainId: flags['chain-id'],
        audience,
        att: attenuationsFor(space.text, abilities, flags.path),
        issuedAt: Math.floor(now),
        ...(expiresAt !== undefined && { expiresAt }),
        ...(notBefore !== undefined && { notBefore }),
      });
    }

    const summary = summarizeDelegation(signed.token, await decodeToken(signed.token, 'the new delegation'));
    let registered = false;
    if (flags.node) {
      const node = this.node(flags.node);
      const context = { action: 'register delegation', space: { id: space.text, name: space.name } };
      for (const proof of proofs) if (proof.token) await node.delegate(proof.token, { ...context, action: 'register --proof' });
      const answer = await node.delegate(signed.token, context);
      registered = true;
      if (answer.skipped.includes(space.text)) {
        this.warn(`${space.text} is not hosted on ${node.display}: the delegation is stored, but nothing can use it there until the owner runs tinycloud delegate host --node ${node.display}`);
      }
    }
    if (!this.jsonEnabled()) {
      this.log(summary.token);
      this.note(`Delegation ${summary.cid} (${summary.kind})`);
      this.note(`  from     ${summary.issuer}`);
      this.note(`  to       ${summary.audience}`);
      for (const cap of summary.capabilities) this.note(`  grants   ${cap.ability} on ${cap.resource}`);
      this.note(`  expires  ${summary.expiresAt ?? 'never'}${summary.notBefore ? `, valid from ${summary.notBefore}` : ''}`);
      if (registered) this.note(`  registered on ${flags.node}`);
    }
    return { ...summary, registered };
  }
}

function minDefined(values: (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : Math.min(...defined);
}

function maxDefined(values: (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : Math.max(...defined);
}
