import { sql, type Kysely } from 'kysely';
import { prepared } from '../../db/prepared.js';
import type { Database } from '../../db/schema.js';
import type { Caveat } from '../types.js';

/** Ancestry walks stop here; a longer chain fails closed (WIRE §2.7 caps traversal at 64 nodes). */
export const MAX_CHAIN_NODES = 64;

/** One stored delegation reached while walking up from a cited parent. */
export interface ChainNode {
  readonly id: Uint8Array;
  readonly delegator: string;
  readonly delegatee: string;
  readonly expiry: number | null;
  readonly notBefore: number | null;
  readonly terminal: boolean;
  readonly revoked: boolean;
}

/** The ancestry of one cited parent: the parent itself (depth 0) and every delegation above it. */
export interface Lineage {
  readonly parent: ChainNode;
  /** The parent and all its ancestors, each once. */
  readonly nodes: readonly ChainNode[];
  /** More than MAX_CHAIN_NODES delegations above this parent. */
  readonly truncated: boolean;
}

export interface StoredAbility {
  readonly delegation: Uint8Array;
  readonly resource: string;
  readonly ability: string;
  readonly caveats: readonly Caveat[];
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
export const idKey = hex;

interface RawChainRow {
  origin: Uint8Array;
  id: Uint8Array;
  delegator: string;
  delegatee: string;
  expiry: number | string | null;
  not_before: number | string | null;
  terminal: number | string | boolean;
  revoked: number | string | boolean;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));
const flag = (v: number | string | boolean): boolean => v === true || Number(v) === 1;

/** A lineage without its revocation state: immutable once stored, so it can be cached. */
interface Structure {
  readonly parent: Omit<ChainNode, 'revoked'>;
  readonly nodes: readonly Omit<ChainNode, 'revoked'>[];
  readonly truncated: boolean;
}

const MAX_CACHED = 10_000;

/**
 * Per-database caches of what never changes once a delegation is stored: its ancestry (edges are written with
 * the delegation, in its transaction, and never later) and its abilities. Revocation is the only mutable part,
 * and it is read from the database on every call. Keyed by the Kysely instance, so two databases in one process
 * never share entries.
 */
const structures = new WeakMap<object, Map<string, Structure>>();
const abilityCache = new WeakMap<object, Map<string, StoredAbility[]>>();

function cacheOf<V>(caches: WeakMap<object, Map<string, V>>, db: object): Map<string, V> {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  return cache;
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
}

// Asked on every invocation (of the cached ancestry, one or a few ids): compiled once per list length.
const MAX_COMPILED_IDS = 8;
const revokedQueries = Array.from({ length: MAX_COMPILED_IDS + 1 }, (_, n) =>
  prepared((db, ...ids: Uint8Array[]) => db.selectFrom('revocation').select('revoked').where('revoked', 'in', ids.slice(0, n))),
);

async function revokedAmong(db: Kysely<Database>, ids: Uint8Array[]): Promise<{ revoked: Uint8Array }[]> {
  if (ids.length === 0) return [];
  if (ids.length <= MAX_COMPILED_IDS) return (await revokedQueries[ids.length]!(db, ...ids)).rows;
  return db.selectFrom('revocation').select('revoked').where('revoked', 'in', ids).execute();
}

/**
 * Every cited parent with its whole ancestry and revocation state, in ONE statement: for parents seen before,
 * a look-up of revocations of the cached ancestry; otherwise a recursive CTE over `parent_delegation` that also
 * fills the cache. The invocation budget (≤ 5 statements for a depth-1 chain) depends on it. Parents that are
 * not stored are absent from the map.
 */
export async function loadLineages(db: Kysely<Database>, parents: readonly Uint8Array[]): Promise<Map<string, Lineage>> {
  const lineages = new Map<string, Lineage>();
  if (parents.length === 0) return lineages;
  const cache = cacheOf(structures, db);
  const cached = parents.map((p) => cache.get(idKey(p)));
  if (cached.every((c): c is Structure => c !== undefined)) {
    const ids = new Map<string, Uint8Array>();
    for (const structure of cached) for (const node of structure.nodes) ids.set(idKey(node.id), node.id);
    const rows = await revokedAmong(db, [...ids.values()]);
    const revoked = new Set(rows.map((r) => idKey(r.revoked)));
    for (const structure of cached) {
      const mark = (n: Omit<ChainNode, 'revoked'>): ChainNode => ({ ...n, revoked: revoked.has(idKey(n.id)) });
      lineages.set(idKey(structure.parent.id), { parent: mark(structure.parent), nodes: structure.nodes.map(mark), truncated: structure.truncated });
    }
    return lineages;
  }

  const ids = sql.join(parents.map((p) => sql`${p}`));
  const { rows } = await sql<RawChainRow>`
    with recursive chain (origin, id, depth) as (
      select d.id, d.id, 0 from delegation d where d.id in (${ids})
      union
      select chain.origin, pd.parent, chain.depth + 1
        from parent_delegation pd join chain on pd.child = chain.id
        where chain.depth < ${sql.lit(MAX_CHAIN_NODES)}
    )
    select distinct chain.origin as origin, d.id as id, d.delegator as delegator, d.delegatee as delegatee,
      d.expiry as expiry, d.not_before as not_before, d.terminal as terminal,
      case when exists (select 1 from revocation r where r.revoked = d.id) then 1 else 0 end as revoked
    from chain join delegation d on d.id = chain.id
  `.execute(db);

  const grouped = new Map<string, { parent?: ChainNode; nodes: Map<string, ChainNode> }>();
  for (const row of rows) {
    const origin = hex(row.origin);
    const node: ChainNode = {
      id: new Uint8Array(row.id),
      delegator: row.delegator,
      delegatee: row.delegatee,
      expiry: num(row.expiry),
      notBefore: num(row.not_before),
      terminal: flag(row.terminal),
      revoked: flag(row.revoked),
    };
    const group = grouped.get(origin) ?? { nodes: new Map<string, ChainNode>() };
    const key = hex(node.id);
    group.nodes.set(key, node);
    if (key === origin) group.parent = node;
    grouped.set(origin, group);
  }
  for (const [origin, group] of grouped) {
    if (!group.parent) continue;
    const lineage: Lineage = { parent: group.parent, nodes: [...group.nodes.values()], truncated: group.nodes.size > MAX_CHAIN_NODES };
    lineages.set(origin, lineage);
    const bare = ({ revoked: _revoked, ...n }: ChainNode) => n;
    remember(cache, origin, { parent: bare(lineage.parent), nodes: lineage.nodes.map(bare), truncated: lineage.truncated });
  }
  return lineages;
}

/** Stored caveats are a JSON map `{"0": nb0, "1": nb1, …}` (WIRE §2.7); `{}` means unconstrained. */
export function caveatsFromJson(text: string): Caveat[] {
  const map = JSON.parse(text) as Record<string, Caveat>;
  return Object.keys(map)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => map[k] as Caveat);
}

export function caveatsToJson(caveats: readonly Caveat[]): string {
  return JSON.stringify(Object.fromEntries(caveats.map((c, i) => [String(i), c])));
}

/** The abilities of stored delegations (cached: they never change once stored). `delegations` must be stored. */
export async function loadAbilities(db: Kysely<Database>, delegations: readonly Uint8Array[]): Promise<StoredAbility[]> {
  if (delegations.length === 0) return [];
  const cache = cacheOf(abilityCache, db);
  const missing = delegations.filter((d) => !cache.has(idKey(d)));
  if (missing.length > 0) {
    const rows = await db.selectFrom('ability').select(['delegation', 'resource', 'ability', 'caveats']).where('delegation', 'in', missing).execute();
    const byDelegation = new Map<string, StoredAbility[]>(missing.map((d) => [idKey(d), []]));
    for (const r of rows) {
      byDelegation.get(idKey(r.delegation))?.push({
        delegation: new Uint8Array(r.delegation),
        resource: r.resource,
        ability: r.ability,
        caveats: caveatsFromJson(r.caveats),
      });
    }
    // Only non-empty answers are kept: an id with no rows may simply not be stored yet.
    for (const [key, abilities] of byDelegation) if (abilities.length > 0) remember(cache, key, abilities);
    return delegations.flatMap((d) => cache.get(idKey(d)) ?? byDelegation.get(idKey(d)) ?? []);
  }
  return delegations.flatMap((d) => cache.get(idKey(d)) ?? []);
}

/**
 * A delegation is usable at `now` when its own window and every ancestor's window contain `now`
 * (`now < exp`, `now ≥ nbf`; WIRE §2.8 step 6).
 */
export function inWindow(node: Pick<ChainNode, 'expiry' | 'notBefore'>, now: number): boolean {
  return (node.expiry === null || now < node.expiry) && (node.notBefore === null || now >= node.notBefore);
}
