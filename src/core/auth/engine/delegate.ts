import type { Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import { writeTransaction } from '../../db/write-transaction.js';
import { appendEpoch } from '../../events/epochs.js';
import { err, ok, type Result } from '../../result.js';
import { verifyEnvelope } from '../envelope.js';
import type { Capability, DelegationInfo, SignedEnvelope } from '../types.js';
import { caveatsToJson, idKey, loadAbilities, loadLineages, MAX_CHAIN_NODES } from './chain-store.js';
import { coverage, dependentCapabilities, spacesOf } from './containment.js';
import { cidTextOf, dbOf, insertActors, type EngineContext } from './context.js';
import { checkAllowlist } from './spaces.js';
import type { DelegateOutcome } from './types.js';

export const HOST_ABILITY = 'tinycloud.space/host';

/** `tinycloud.space/host` on `<space>/space` exactly (no path, query or fragment) creates the space (§2.7.6). */
export function hostedSpaceOf(cap: Capability): string | undefined {
  const t = cap.target;
  if (cap.ability !== HOST_ABILITY || t.kind !== 'tinycloud' || t.service !== 'space') return undefined;
  if (t.path !== undefined || t.query !== undefined || t.fragment !== undefined) return undefined;
  return t.space.text;
}

const timeFailure = (code: 'AUTH_EXPIRED' | 'AUTH_NOT_YET_VALID') => err(code, 'Delegation expired or not yet valid');

/**
 * Parents of a delegation whose capabilities the delegator does not own (§2.7 step 3–4): each cited parent must
 * be stored, delegated to this delegator, unrevoked up its whole ancestry, not terminal, and must nest the
 * child's time window; the dependent capabilities must fall within the abilities of the parents that remain.
 * Returns the parents that remain: the `parent_delegation` edges to store.
 */
export async function checkParents(ctx: EngineContext, info: DelegationInfo, dependent: readonly Capability[]): Promise<Result<Uint8Array[]>> {
  if (info.parents.length === 0) return err('AUTH_PARENT_NOT_FOUND', 'Cannot find parent delegation');
  if (info.parents.length > MAX_CHAIN_NODES) return err('AUTH_CHAIN_TOO_LONG', 'Too many parent delegations');
  const db = dbOf(ctx);
  const lineages = await loadLineages(db, info.parents);
  const survivors: Uint8Array[] = [];
  let nesting: 'expiry' | 'not-before' | undefined;
  for (const cited of info.parents) {
    const lineage = lineages.get(idKey(cited));
    if (!lineage) return err('AUTH_PARENT_NOT_FOUND', 'Cannot find parent delegation');
    const { parent } = lineage;
    if (parent.delegatee !== info.delegator) return err('AUTH_UNAUTHORIZED_DELEGATOR', `Unauthorized Delegator: ${info.delegator}`);
    if (lineage.truncated) return err('AUTH_CHAIN_TOO_LONG', 'Delegation chain too long');
    if (parent.revoked) return err('AUTH_REVOKED', 'delegation-parent-revoked');
    if (lineage.nodes.some((n) => n.revoked)) return err('AUTH_REVOKED', 'delegation-ancestor-revoked');
    if (parent.terminal) return err('AUTH_TERMINAL_PARENT', 'terminal-parent-cannot-redelegate');
    if (parent.expiry !== null && (info.expiry === undefined || info.expiry > parent.expiry)) {
      nesting ??= 'expiry';
      continue;
    }
    if (parent.notBefore !== null && (info.notBefore === undefined || info.notBefore < parent.notBefore)) {
      nesting ??= 'not-before';
      continue;
    }
    survivors.push(parent.id);
  }
  if (survivors.length === 0) {
    return nesting === 'not-before'
      ? err('AUTH_NOT_BEFORE_PARENT', 'Child delegation not-before precedes parent not-before')
      : err('AUTH_EXPIRY_EXCEEDS_PARENT', 'Child delegation expiry exceeds parent expiry');
  }
  const grants = await loadAbilities(db, survivors);
  for (const cap of dependent) {
    const covered = coverage(cap, grants);
    if (covered === 'caveats') return err('AUTH_CAVEAT_ESCALATION', 'child-caveats-not-subset-of-parent');
    if (covered === 'none') return err('AUTH_UNAUTHORIZED_CAPABILITY', `Unauthorized Capability: ${cap.resource}, ${cap.ability}`);
  }
  return ok(survivors);
}

/**
 * `POST /delegate` (WIRE §1.5, §2.7): verify, check the chain, then in one write transaction store the delegation
 * (idempotent by multihash), create spaces it hosts, and append one epoch per hosted space it names. A byte-identical
 * re-post stores nothing new but still activates spaces hosted since it was first seen, so the SDK's
 * "session → host → session again" sequence leaves the session delegation in the new space's history.
 */
export async function delegate(ctx: EngineContext, env: SignedEnvelope): Promise<Result<DelegateOutcome>> {
  const now = ctx.clock();
  const verified = verifyEnvelope(env, now);
  if (!verified.ok) {
    const { code } = verified.error;
    return code === 'AUTH_EXPIRED' || code === 'AUTH_NOT_YET_VALID' ? timeFailure(code) : verified;
  }
  const { info } = env;
  const dependent = dependentCapabilities(info.delegator, info.capabilities);
  let edges: Uint8Array[] = [];
  if (dependent.length > 0) {
    const checked = await checkParents(ctx, info, dependent);
    if (!checked.ok) return checked;
    edges = checked.value;
  }

  const spaces = spacesOf(info.capabilities);
  const hostSpaces = [...new Set(info.capabilities.map(hostedSpaceOf).filter((s): s is string => s !== undefined))];
  if (ctx.allowlist && hostSpaces.length > 0) {
    const present = await ctx.spaces.existing(dbOf(ctx), hostSpaces);
    for (const space of hostSpaces.filter((s) => !present.has(s))) {
      const allowed = await checkAllowlist(ctx.allowlist, space, ctx.fetch);
      if (!allowed.ok) return allowed;
    }
  }

  const cid = cidTextOf(env.multihash);
  const created: string[] = [];
  const outcome = await writeTransaction(ctx.metadata, async (trx): Promise<Result<DelegateOutcome>> => {
    const stored = await trx
      .selectFrom('delegation')
      .select(['id'])
      .where((eb) => eb.or([eb('id', '=', env.multihash), eb('signed_digest', '=', env.signedDigest)]))
      .execute();
    const existing = stored.some((row) => idKey(row.id) === idKey(env.multihash));
    if (!existing && stored.length > 0) {
      return err('CONFLICT', `Delegation already registered as ${cidTextOf(new Uint8Array(stored[0]!.id))}`);
    }
    const hosted = await ctx.spaces.existing(trx, spaces);
    let toActivate: string[];
    if (existing) {
      const seen = spaces.length === 0 ? [] : await trx
        .selectFrom('event_order')
        .select('space')
        .where('event', '=', env.multihash)
        .where('space', 'in', spaces)
        .execute();
      const already = new Set(seen.map((r) => r.space));
      toActivate = spaces.filter((s) => hosted.has(s) && !already.has(s));
    } else {
      await insertDelegationRows(trx, ctx, env, edges, now);
      for (const space of hostSpaces.filter((s) => !hosted.has(s))) {
        await trx.insertInto('space').values({ id: space, created_at: now }).execute();
        created.push(space);
      }
      toActivate = spaces.filter((s) => hosted.has(s) || created.includes(s));
    }
    for (const space of toActivate) {
      await appendEpoch(trx, space, [{ kind: 'delegation', multihash: env.multihash }]);
    }
    const live = new Set([...hosted, ...created]);
    return ok({ cid, activated: toActivate, skipped: spaces.filter((s) => !live.has(s)), existing });
  });
  for (const space of created) ctx.spaces.remember(space);
  return outcome;
}

/**
 * A verified delegation's rows, inside the caller's transaction: the delegation (exact bytes), its actors,
 * one `ability` row per capability and the `parent_delegation` edges of the parents that vouched for it.
 */
export async function insertDelegationRows(
  trx: Transaction<Database>,
  ctx: EngineContext,
  env: SignedEnvelope,
  edges: readonly Uint8Array[],
  receivedAt: number,
): Promise<void> {
  const { info } = env;
  await trx
    .insertInto('delegation')
    .values({
      id: env.multihash,
      delegator: info.delegator,
      delegatee: info.delegatee,
      expiry: info.expiry ?? null,
      not_before: info.notBefore ?? null,
      issued_at: info.issuedAt ?? null,
      facts: info.facts.length > 0 ? JSON.stringify(info.facts) : null,
      terminal: info.terminal ? 1 : 0,
      serialization: env.bytes,
      received_at: receivedAt,
      signed_digest: env.signedDigest,
    })
    .execute();
  await insertActors(trx, ctx, [info.delegator, info.delegatee]);
  if (info.capabilities.length > 0) {
    await trx
      .insertInto('ability')
      .values(info.capabilities.map((c) => ({ delegation: env.multihash, resource: c.resource, ability: c.ability, caveats: caveatsToJson(c.caveats) })))
      .execute();
  }
  const parents = [...new Map(edges.map((e) => [idKey(e), e])).values()];
  if (parents.length > 0) {
    await trx.insertInto('parent_delegation').values(parents.map((parent) => ({ parent, child: env.multihash }))).execute();
  }
}
