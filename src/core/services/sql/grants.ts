import { abilityMatches } from '../../auth/abilities.js';
import { CAVEAT_RULES, type CaveatRule } from '../../auth/engine/caveats.js';
import { loadAbilities, type StoredAbility } from '../../auth/engine/chain-store.js';
import { isRootAuthority } from '../../auth/engine/containment.js';
import type { AuthorizedInvocation } from '../../auth/engine/types.js';
import { canonicalJson } from '../../auth/jcs.js';
import { parseResource, resourceExtends } from '../../auth/resource.js';
import type { Capability, Caveat } from '../../auth/types.js';
import type { MetadataDb } from '../../db/database.js';
import { TinyCloudError } from '../../errors.js';
import type { SqlGrant } from './authorize.js';
import { parseSqlCaveat, sqlCaveatContains, type SqlCaveat } from './caveats.js';
import { databaseName } from './files.js';

export const SQL_ABILITY_PREFIX = 'tinycloud.sql/';
/** The invocation fact that may carry caveats when the chain has none (WIRE §5). */
export const SQL_CAVEATS_FACT = 'sqlCaveats';

/** Capabilities the SQL service answers: service `sql` with a `tinycloud.sql/*` ability (WIRE §1.6 step 6). */
export const isSqlCapability = (cap: Capability): boolean =>
  cap.target.kind === 'tinycloud' && cap.target.service === 'sql' && cap.ability.startsWith(SQL_ABILITY_PREFIX);

export interface SqlTarget {
  space: string;
  database: string;
  grants: SqlGrant[];
}

const bad = (message: string) => new TinyCloudError('BAD_REQUEST', message);
const malformed = (message: string) => new TinyCloudError('SQL_PERMISSION_DENIED', message);

function parseCaveats(caveats: readonly Caveat[]): SqlCaveat[] {
  const out: SqlCaveat[] = [];
  for (const raw of caveats) {
    const parsed = parseSqlCaveat(raw);
    if (!parsed.ok) throw malformed(parsed.message);
    if (parsed.caveat) out.push(parsed.caveat);
  }
  return out;
}

/**
 * The database an invocation addresses and the grants it holds there. Every SQL capability must name the same
 * space and path (else 400 "Ambiguous"). Each capability's caveats are its own plus those persisted on the
 * parent delegation that covers it; the `sqlCaveats` fact applies only where the chain carries none.
 */
export async function sqlTargetOf(metadata: MetadataDb, invocation: AuthorizedInvocation): Promise<SqlTarget> {
  const caps = invocation.capabilities.filter(isSqlCapability);
  const first = caps[0];
  if (!first || first.target.kind !== 'tinycloud') throw bad('No SQL capability');
  const paths = new Set(caps.map((c) => (c.target.kind === 'tinycloud' ? `${c.target.space.text}\u0000${c.target.path ?? ''}` : '')));
  if (paths.size !== 1) throw bad('Ambiguous sql capabilities span multiple database paths');

  const dependent = caps.some((c) => !isRootAuthority(invocation.invoker, c));
  const stored = dependent ? await parentAbilities(metadata, invocation.info.parents) : [];
  const fact = factCaveats(invocation.facts);

  const grants: SqlGrant[] = [];
  for (const cap of caps) {
    const own = parseCaveats(cap.caveats);
    if (isRootAuthority(invocation.invoker, cap)) {
      grants.push({ ability: cap.ability, caveats: own.length > 0 ? own : fact });
      continue;
    }
    for (const parent of coveringGrants(cap, stored)) {
      const chain = parseCaveats(parent.caveats);
      const caveats = [...chain, ...own];
      grants.push({ ability: cap.ability, caveats: caveats.length > 0 ? caveats : fact });
    }
  }
  return { space: first.target.space.text, database: databaseName(first.target.path), grants };
}

// A delegation's abilities never change once stored (revocation is the auth engine's concern), so they are
// cached by delegation id: the hot path of a session's invocations skips the query.
const abilityCache = new WeakMap<MetadataDb, Map<string, StoredAbility[]>>();
const ABILITY_CACHE_SIZE = 4096;

async function parentAbilities(metadata: MetadataDb, parents: readonly Uint8Array[]): Promise<StoredAbility[]> {
  let cache = abilityCache.get(metadata);
  if (!cache) abilityCache.set(metadata, (cache = new Map()));
  const hex = (id: Uint8Array) => Buffer.from(id).toString('hex');
  const found = new Map<string, StoredAbility[]>();
  const missing: Uint8Array[] = [];
  for (const parent of parents) {
    const hit = cache.get(hex(parent));
    if (hit) found.set(hex(parent), hit);
    else missing.push(parent);
  }
  if (missing.length > 0) {
    for (const ability of await loadAbilities(metadata.db, missing)) {
      const key = hex(ability.delegation);
      found.set(key, [...(found.get(key) ?? []), ability]);
    }
    // Only delegations that exist are cached: one stored later under a missing id is never hidden.
    for (const parent of missing) {
      const rows = found.get(hex(parent));
      if (rows) cache.set(hex(parent), rows);
      if (cache.size > ABILITY_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    }
  }
  return [...found.values()].flat();
}

function coveringGrants(cap: Capability, stored: readonly StoredAbility[]): StoredAbility[] {
  return stored.filter((s) => {
    if (!abilityMatches(s.ability, cap.ability)) return false;
    const base = parseResource(s.resource);
    return base.ok && resourceExtends(cap.target, base.value);
  });
}

function factCaveats(facts: readonly Readonly<Record<string, unknown>>[]): SqlCaveat[] {
  for (const fact of facts) {
    if (fact && typeof fact === 'object' && SQL_CAVEATS_FACT in fact) return parseCaveats([fact[SQL_CAVEATS_FACT] as Caveat]);
  }
  return [];
}

const isConstrained = (c: Caveat): boolean => (c as Record<string, unknown>).mode === 'constrained-statements';

/**
 * Caveat containment for the constrained-statements profile (WIRE §2.9): a constrained parent caveat needs a
 * contained child caveat; every other parent caveat must reappear unchanged.
 */
export const SQL_CAVEAT_RULE: CaveatRule = {
  name: 'sql-constrained-statements',
  applies: (parent) => parent.some(isConstrained),
  contains: (parent, child) =>
    parent.every((p) =>
      isConstrained(p) ? child.some((c) => isConstrained(c) && sqlCaveatContains(p, c).ok) : child.some((c) => canonicalJson(c) === canonicalJson(p)),
    ),
};

/** Idempotent: the auth engine consults the rule when a chain carries SQL constrained statements. */
export function registerSqlCaveatRule(): void {
  if (!CAVEAT_RULES.includes(SQL_CAVEAT_RULE)) CAVEAT_RULES.push(SQL_CAVEAT_RULE);
}
