import { err, ok, type Result } from '../../result.js';
import { checkTimeWindow } from '../envelope.js';
import { verifyUcanSignature } from '../ucan.js';
import type { Capability, DelegationInfo, SignedEnvelope, UcanEnvelope } from '../types.js';
import { idKey, inWindow, loadAbilities, loadLineages, MAX_CHAIN_NODES, type ChainNode } from './chain-store.js';
import { coverage, dependentCapabilities, spacesOf } from './containment.js';
import { cidTextOf, dbOf, type EngineContext } from './context.js';
import { consumeInvocation, replayExpiry } from './replay.js';
import type { AuthorizedInvocation } from './types.js';

const unauthorizedAction = (cap: Capability) =>
  err('AUTH_UNAUTHORIZED_ACTION', `Unauthorized Action: ${cap.resource} / ${cap.ability}`);

/**
 * Admission of any invocation (WIRE §1.6 steps 1–3): a UCAN, inside its time window, no longer-lived than the
 * cap, and signed by its issuer. The signature is the only public-key operation an invocation costs.
 */
export async function admitInvocation(ctx: EngineContext, env: SignedEnvelope, now: number): Promise<Result<UcanEnvelope>> {
  if (env.kind !== 'ucan') return err('AUTH_MALFORMED', 'Invocations must be UCANs');
  const window = checkTimeWindow(env, now);
  if (!window.ok) return window;
  if ((env.info.expiry as number) - now > ctx.maxLifetimeSecs) {
    return err('AUTH_LIFETIME_EXCEEDED', 'Invocation lifetime exceeds server maximum');
  }
  // Ed25519 (every SDK session key) on the verify pool's threads when there is one; other keys right here.
  const valid =
    ctx.verifyPool && env.key.type === 'Ed25519'
      ? await ctx.verifyPool.verify(env.key.publicKey, env.signingInput, env.signature)
      : verifyUcanSignature(env, env.key);
  return valid ? ok(env) : err('AUTH_BAD_SIGNATURE', 'Failed to verify signature');
}

/** Single use (WIRE §2.12): the token's multihash goes into `invocation_replay`; a second use is 409. */
export async function consumeOnce(ctx: EngineContext, env: UcanEnvelope, now: number): Promise<Result<void>> {
  const expiresAt = replayExpiry(env.info.expiry as number, now, ctx.maxLifetimeSecs);
  const fresh = await consumeInvocation(dbOf(ctx), ctx.metadata.engine, env.multihash, expiresAt);
  return fresh ? ok(undefined) : err('DUPLICATE_INVOCATION', 'duplicate invocation');
}

/**
 * The chain steps of WIRE §2.8 (2–7): the cited parents are stored, distinct, delegated to the invoker and
 * unrevoked up their whole ancestry, and every capability the invoker does not own is contained in the grants
 * of the parents whose lineage `usable` accepts. Live requests pass "every ancestor in its window now"; a CAR
 * import checks historical invocations with a window rule of its own.
 */
export async function checkInvocationChain(
  ctx: EngineContext,
  info: DelegationInfo,
  usable: (lineage: readonly ChainNode[]) => boolean,
): Promise<Result<void>> {
  const dependent = dependentCapabilities(info.delegator, info.capabilities);
  if (dependent.length === 0) return ok(undefined);
  if (info.parents.length === 0) return err('AUTH_PARENT_NOT_FOUND', 'Cannot find parent delegation');
  if (info.parents.length > MAX_CHAIN_NODES) return err('AUTH_CHAIN_TOO_LONG', 'Too many parent delegations');
  if (new Set(info.parents.map(idKey)).size !== info.parents.length) {
    return err('AUTH_PARENT_NOT_FOUND', 'Parent delegations must be distinct');
  }
  const db = dbOf(ctx);
  const lineages = await loadLineages(db, info.parents);
  const live: Uint8Array[] = [];
  for (const [index, cited] of info.parents.entries()) {
    const lineage = lineages.get(idKey(cited));
    if (!lineage) return err('AUTH_PARENT_NOT_FOUND', 'Cannot find parent delegation');
    const { parent } = lineage;
    if (parent.delegatee !== info.delegator) return err('AUTH_UNAUTHORIZED_INVOKER', `Unauthorized Invoker: ${info.delegator}`);
    if (lineage.truncated) return err('AUTH_CHAIN_TOO_LONG', 'Delegation chain too long');
    if (parent.revoked) return err('AUTH_REVOKED', `delegation-revoked: ${info.parentCids[index]?.toString() ?? cidTextOf(cited)}`);
    if (lineage.nodes.some((n) => n.revoked)) return err('AUTH_REVOKED', 'delegation-ancestor-revoked');
    if (usable(lineage.nodes)) live.push(parent.id);
  }
  const grants = await loadAbilities(db, live);
  for (const cap of dependent) {
    if (coverage(cap, grants) !== 'covered') return unauthorizedAction(cap);
  }
  return ok(undefined);
}

/**
 * Authorize an invocation (WIRE §2.8): admission, then the cited parents (stored, distinct, delegated to the
 * invoker, nothing revoked up the chain, every ancestor in its window), containment of each capability the
 * invoker does not own, existence of every space named, and finally single use. Statements for a depth-1
 * chain: lineage (1), abilities (1), spaces (0–1, cached), replay (1).
 */
export async function authorizeInvocation(ctx: EngineContext, env: SignedEnvelope): Promise<Result<AuthorizedInvocation>> {
  const now = ctx.clock();
  const admitted = await admitInvocation(ctx, env, now);
  if (!admitted.ok) return admitted;
  const ucan = admitted.value;
  const { info } = ucan;
  if (info.capabilities.length === 0) return err('AUTH_MALFORMED', 'Invocation grants nothing');
  const db = dbOf(ctx);
  const chain = await checkInvocationChain(ctx, info, (nodes) => nodes.every((n) => inWindow(n, now)));
  if (!chain.ok) return chain;

  const spaces = spacesOf(info.capabilities);
  if (spaces.length > 0) {
    const hosted = await ctx.spaces.existing(db, spaces);
    if (spaces.some((s) => !hosted.has(s))) return err('SPACE_NOT_FOUND', 'Space not found');
  }

  const once = await consumeOnce(ctx, ucan, now);
  if (!once.ok) return once;
  return ok({
    envelope: ucan,
    info,
    invoker: info.delegator,
    capabilities: info.capabilities,
    spaces,
    cid: ucan.cid,
    multihash: ucan.multihash,
    facts: info.facts,
    dialect: ucan.dialect,
    authorizedAt: now,
  });
}
