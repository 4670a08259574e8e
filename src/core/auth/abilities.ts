/**
 * The ability registry (capabilities.json, version 1; WIRE §2.9, §3): deprecated aliases and the implications
 * a held ability grants. Names outside the registry are valid and match only themselves.
 */
const ALIASES: Readonly<Record<string, string>> = {
  'tinycloud.kv/delete': 'tinycloud.kv/del',
  'tinycloud.sql/select': 'tinycloud.sql/read',
  'tinycloud.duckdb/select': 'tinycloud.duckdb/read',
};

const IMPLIES: Readonly<Record<string, readonly string[]>> = {
  // Our extension (docs/kv-versions.md): whoever may read a key may list its versions.
  'tinycloud.kv/get': ['tinycloud.kv/versions'],
  'tinycloud.sql/admin': ['tinycloud.sql/schema'],
  'tinycloud.sql/*': ['tinycloud.sql/read', 'tinycloud.sql/write', 'tinycloud.sql/schema', 'tinycloud.sql/admin'],
  'tinycloud.duckdb/*': [
    'tinycloud.duckdb/read',
    'tinycloud.duckdb/write',
    'tinycloud.duckdb/admin',
    'tinycloud.duckdb/import',
    'tinycloud.duckdb/export',
  ],
};

/** Abilities the active registry defines (aliases excluded). `tinycloud.delegation/revoke` is used, not listed. */
export const REGISTERED_ABILITIES: ReadonlySet<string> = new Set([
  ...['get', 'list', 'metadata', 'put', 'del', 'versions'].map((a) => `tinycloud.kv/${a}`),
  ...['read', 'write', 'schema', 'admin', '*'].map((a) => `tinycloud.sql/${a}`),
  ...['read', 'write', 'admin', 'import', 'export', '*'].map((a) => `tinycloud.duckdb/${a}`),
  'tinycloud.capabilities/read',
  'tinycloud.delegation/status',
  'tinycloud.delegation/list',
  ...['subscribe', 'register', 'list', 'unregister'].map((a) => `tinycloud.hooks/${a}`),
  ...['decrypt', 'network.create', 'network.revoke'].map((a) => `tinycloud.encryption/${a}`),
  // export / import: our extension (docs/car-format.md), the space as a CAR over `/invoke`.
  ...['host', 'create', 'list', 'info', 'export', 'import'].map((a) => `tinycloud.space/${a}`),
  ...['get', 'list', 'metadata', 'put', 'delete'].map((a) => `tinycloud.vfs/${a}`),
]);

const ABILITY_PART = /^[A-Za-z0-9\-_.+*]+$/;

/** `namespace/name`: exactly one `/`, both parts non-empty from `[A-Za-z0-9-_.+*]` (WIRE §2.3). */
export function isValidAbility(ability: string): boolean {
  const slash = ability.indexOf('/');
  if (slash < 0 || ability.indexOf('/', slash + 1) >= 0) return false;
  return ABILITY_PART.test(ability.slice(0, slash)) && ABILITY_PART.test(ability.slice(slash + 1));
}

export const canonicalAbility = (ability: string): string => ALIASES[ability] ?? ability;

const closures = new Map<string, ReadonlySet<string>>();

/** Every canonical ability that holding `held` grants, itself included. */
export function abilityClosure(held: string): ReadonlySet<string> {
  const start = canonicalAbility(held);
  const cached = closures.get(start);
  if (cached) return cached;
  const closure = new Set<string>();
  const pending = [start];
  while (pending.length > 0) {
    const next = pending.pop() as string;
    if (closure.has(next)) continue;
    closure.add(next);
    pending.push(...(IMPLIES[next] ?? []));
  }
  if (closures.size < 1024) closures.set(start, closure);
  return closure;
}

/** Whether holding `held` authorizes `required`: aliases resolved, implications followed. */
export const abilityMatches = (held: string, required: string): boolean =>
  abilityClosure(held).has(canonicalAbility(required));
