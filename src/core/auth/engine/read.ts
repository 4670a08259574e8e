import { sql } from 'kysely';
import { parseCid } from '../../ids/cid.js';
import { err, ok, type Result } from '../../result.js';
import { abilityMatches } from '../abilities.js';
import { encodeBase64UrlPadded } from '../base64url.js';
import { parseResource } from '../resource.js';
import type { SignedEnvelope } from '../types.js';
import { idKey, inWindow, loadLineages, MAX_CHAIN_NODES, type Lineage } from './chain-store.js';
import { cidOfUrn, controllersOf, controlPrincipal } from './control.js';
import { cidTextOf, dbOf, type EngineContext } from './context.js';
import { admitInvocation, consumeOnce } from './invoke.js';
import type { AuthorizedInvocation, ControlInvocation, DelegationLifecycle, DelegationRecord, DelegationStatus } from './types.js';

export const CAPABILITIES_READ = 'tinycloud.capabilities/read';

/**
 * Authorize an invocation by a control proof rather than a capability chain (`/delegation/status`, WIRE §2.10):
 * admission, exactly one capability `action` on `urn:cid:<cid>`, single use. `principal` is undefined when the
 * proof does not establish control, so the route answers exactly as for a missing delegation.
 */
export async function authorizeControl(ctx: EngineContext, env: SignedEnvelope, action: string): Promise<Result<ControlInvocation>> {
  const now = ctx.clock();
  const admitted = await admitInvocation(ctx, env, now);
  if (!admitted.ok) return admitted;
  const ucan = admitted.value;
  const caps = ucan.info.capabilities;
  const target = caps.length === 1 && caps[0]!.ability === action ? cidOfUrn(caps[0]!.resource) : undefined;
  if (!target) return err('BAD_REQUEST', `The invocation must hold exactly one ${action} capability on urn:cid:<cid>`);
  const once = await consumeOnce(ctx, ucan, now);
  if (!once.ok) return once;
  const principal = await controlPrincipal(dbOf(ctx), now, ucan.info.delegator, ucan.info.parents, target.multihash.bytes, action);
  return ok({
    envelope: ucan,
    invoker: ucan.info.delegator,
    principal: principal.ok ? principal.value : undefined,
    target,
    action,
    authorizedAt: now,
  });
}

function lifecycleOf(lineage: Lineage, now: number): DelegationLifecycle {
  if (lineage.nodes.some((n) => n.revoked)) return 'revoked';
  if (lineage.nodes.some((n) => n.expiry !== null && now >= n.expiry)) return 'expired';
  if (lineage.nodes.some((n) => !inWindow(n, now))) return 'unavailable';
  return 'active';
}

const notFound = (cid: string): DelegationStatus => ({ cid, status: 'not_found', exists: false, active: false, revoked: false, expired: false });

/**
 * `POST /delegation/status`: the lifecycle of one delegation, for its delegator, its delegatee, a delegator above
 * it, or the owner of a space it names. Anyone else learns nothing: the answer is the same as for a missing one.
 */
export async function delegationStatus(ctx: EngineContext, ctl: ControlInvocation, cidText: string): Promise<Result<DelegationStatus>> {
  const cid = parseCid(cidText);
  if (!cid) return err('BAD_REQUEST', 'cid is not a CID');
  if (idKey(cid.multihash.bytes) !== idKey(ctl.target.multihash.bytes)) {
    return err('BAD_REQUEST', 'cid does not match the invocation resource');
  }
  const db = dbOf(ctx);
  const id = cid.multihash.bytes;
  const lineage = (await loadLineages(db, [id])).get(idKey(id));
  if (!lineage || !ctl.principal) return ok(notFound(cidText));
  const ancestors = lineage.nodes.filter((n) => idKey(n.id) !== idKey(id));
  if (!(await controllersOf(db, lineage.parent, ancestors)).has(ctl.principal)) return ok(notFound(cidText));
  const status = lifecycleOf(lineage, ctl.authorizedAt);
  return ok({ cid: cidText, status, exists: true, active: status === 'active', revoked: status === 'revoked', expired: status === 'expired' });
}

interface ListFilters {
  direction?: string;
  path?: string;
  actions?: string[];
}

type ReadParams = { type: 'list'; filters?: ListFilters } | { type: 'chain'; delegation_cid: string };

function readParams(facts: readonly Readonly<Record<string, unknown>>[]): Result<ReadParams> {
  const fact = facts.find((f) => 'capabilitiesReadParams' in f)?.capabilitiesReadParams as Record<string, unknown> | null | undefined;
  if (fact === undefined) return ok({ type: 'list' });
  if (typeof fact !== 'object' || fact === null) return err('BAD_REQUEST', 'capabilitiesReadParams must be an object');
  if (fact.type === 'chain' && typeof fact.delegation_cid === 'string') return ok({ type: 'chain', delegation_cid: fact.delegation_cid });
  if (fact.type === 'list') {
    const f = (fact.filters ?? {}) as Record<string, unknown>;
    const actions = Array.isArray(f.actions) && f.actions.every((a) => typeof a === 'string') ? (f.actions as string[]) : undefined;
    return ok({
      type: 'list',
      filters: {
        ...(typeof f.direction === 'string' && { direction: f.direction }),
        ...(typeof f.path === 'string' && { path: f.path }),
        ...(actions && { actions }),
      },
    });
  }
  return err('BAD_REQUEST', 'capabilitiesReadParams: expected {type: "list", filters?} or {type: "chain", delegation_cid}');
}

/** The stored serialization as an `Authorization` header: a JWT is ASCII; a CACAO is CBOR (a map, major type 5). */
function headerOf(serialization: Uint8Array): string {
  const first = serialization[0] ?? 0;
  return first >= 0xa0 && first <= 0xbf ? encodeBase64UrlPadded(serialization) : Buffer.from(serialization).toString('utf8');
}

async function records(ctx: EngineContext, ids: readonly Uint8Array[]): Promise<Map<string, DelegationRecord & { id: Uint8Array }>> {
  const out = new Map<string, DelegationRecord & { id: Uint8Array }>();
  if (ids.length === 0) return out;
  const db = dbOf(ctx);
  const [rows, abilities, edges] = await Promise.all([
    db.selectFrom('delegation').select(['id', 'delegator', 'delegatee', 'serialization']).where('id', 'in', [...ids]).execute(),
    db.selectFrom('ability').select(['delegation', 'resource', 'ability', 'caveats']).where('delegation', 'in', [...ids]).execute(),
    db.selectFrom('parent_delegation').select(['parent', 'child']).where('child', 'in', [...ids]).execute(),
  ]);
  for (const row of rows) {
    const key = idKey(row.id);
    out.set(key, {
      id: new Uint8Array(row.id),
      capabilities: abilities
        .filter((a) => idKey(a.delegation) === key)
        .map((a) => ({ resource: a.resource, ability: a.ability, caveats: JSON.parse(a.caveats) as Record<string, unknown> })),
      delegator: row.delegator,
      delegate: row.delegatee,
      parents: edges.filter((e) => idKey(e.child) === key).map((e) => cidTextOf(new Uint8Array(e.parent))),
      raw: headerOf(new Uint8Array(row.serialization)),
    });
  }
  return out;
}

const strip = ({ id: _id, ...record }: DelegationRecord & { id: Uint8Array }): DelegationRecord => record;

function pathOf(resource: string): string | undefined {
  const parsed = parseResource(resource);
  return parsed.ok && parsed.value.kind === 'tinycloud' ? `${parsed.value.service}/${parsed.value.path ?? ''}` : undefined;
}

function matchesFilters(record: DelegationRecord, filters: ListFilters, invoker: string): boolean {
  const direction = filters.direction?.toLowerCase();
  if (direction && ['outgoing', 'granted', 'delegated', 'issued'].includes(direction) && record.delegator !== invoker) return false;
  if (direction && ['incoming', 'received'].includes(direction) && record.delegate !== invoker) return false;
  if (filters.path !== undefined) {
    const prefix = filters.path;
    if (!record.capabilities.some((c) => (pathOf(c.resource) ?? '').startsWith(prefix))) return false;
  }
  if (filters.actions && filters.actions.length > 0) {
    const wanted = filters.actions;
    if (!record.capabilities.some((c) => wanted.some((a) => abilityMatches(c.ability, a)))) return false;
  }
  return true;
}

/**
 * `tinycloud.capabilities/read` on `<space>/capabilities/…` (WIRE §4): every live (unrevoked up its chain, every
 * ancestor in its window) delegation naming the space, keyed by CID; or, with the `chain` parameter, one
 * delegation and its ancestors, leaf first.
 */
export async function capabilitiesRead(ctx: EngineContext, inv: AuthorizedInvocation): Promise<Result<Record<string, DelegationRecord> | DelegationRecord[]>> {
  const cap = inv.capabilities.find((c) => c.ability === CAPABILITIES_READ && c.target.kind === 'tinycloud');
  if (!cap || cap.target.kind !== 'tinycloud') return err('BAD_REQUEST', `No ${CAPABILITIES_READ} capability`);
  const space = cap.target.space.text;
  const params = readParams(inv.facts);
  if (!params.ok) return params;
  const db = dbOf(ctx);
  const now = inv.authorizedAt;
  const prefix = `${space}/`;

  if (params.value.type === 'chain') {
    const cid = parseCid(params.value.delegation_cid);
    if (!cid) return err('BAD_REQUEST', 'delegation_cid is not a CID');
    const chain: Uint8Array[] = [];
    const seen = new Set<string>();
    let level = [cid.multihash.bytes];
    while (level.length > 0 && chain.length < MAX_CHAIN_NODES) {
      const fresh = level.filter((id) => !seen.has(idKey(id)));
      fresh.forEach((id) => seen.add(idKey(id)));
      chain.push(...fresh);
      if (fresh.length === 0) break;
      const edges = await db.selectFrom('parent_delegation').select('parent').where('child', 'in', fresh).execute();
      level = edges.map((e) => new Uint8Array(e.parent));
    }
    const found = await records(ctx, chain);
    const leaf = found.get(idKey(cid.multihash.bytes));
    if (!leaf || !leaf.capabilities.some((c) => c.resource.startsWith(prefix))) return err('DELEGATION_NOT_FOUND', 'Delegation not found');
    return ok(chain.map((id) => found.get(idKey(id))).filter((r): r is DelegationRecord & { id: Uint8Array } => r !== undefined).map(strip));
  }

  const touching = await db
    .selectFrom('ability')
    .select('delegation')
    .distinct()
    .where(sql<boolean>`substr(${sql.ref('resource')}, 1, ${sql.lit(prefix.length)}) = ${prefix}`)
    .execute();
  const ids = touching.map((r) => new Uint8Array(r.delegation));
  const lineages = await loadLineages(db, ids);
  const live = ids.filter((id) => {
    const lineage = lineages.get(idKey(id));
    return lineage !== undefined && !lineage.truncated && lifecycleOf(lineage, now) === 'active';
  });
  const found = await records(ctx, live);
  const filters = params.value.filters ?? {};
  const out: Record<string, DelegationRecord> = {};
  for (const record of found.values()) {
    if (matchesFilters(record, filters, inv.invoker)) out[cidTextOf(record.id)] = strip(record);
  }
  return ok(out);
}
