import { abilityClosure } from '../../auth/abilities.js';
import { TinyCloudError } from '../../errors.js';
import { ANY_COLUMN, ROWID } from './catalog.js';
import type { NamedStatement, SqlCaveat, StatementRejection } from './caveats.js';
import { splitColumnKey, type StatementProfile } from './program.js';

/**
 * One SQL capability the invocation holds on this database, already authorized by its delegation chain.
 * `caveats` are every SQL caveat along that chain (all of them apply), or the invocation's `sqlCaveats`
 * fact when the chain carries none: a chain caveat always wins.
 */
export interface SqlGrant {
  readonly ability: string;
  readonly caveats: readonly SqlCaveat[];
}

export type Need = StatementProfile['kind'];

/**
 * What each ability may run. `write` includes reading (a DML statement reads through its WHERE clause anyway)
 * and schema changes (WIRE §5); `schema` runs DDL only; `admin` runs DDL, maintenance (VACUUM, ANALYZE,
 * REINDEX) and the allow-listed PRAGMAs; `*` everything.
 */
export function abilityAllows(ability: string, need: Need): boolean {
  const held = abilityClosure(ability);
  switch (need) {
    case 'read':
      return held.has('tinycloud.sql/read') || held.has('tinycloud.sql/write');
    case 'write':
      return held.has('tinycloud.sql/write');
    case 'schema':
      return held.has('tinycloud.sql/schema') || held.has('tinycloud.sql/write');
    case 'admin':
      return held.has('tinycloud.sql/admin');
  }
}

export const denied = (message: string) => new TinyCloudError('SQL_PERMISSION_DENIED', `Permission denied: ${message}`);
export const rejected = (code: StatementRejection, detail?: string) =>
  new TinyCloudError('SQL_PERMISSION_DENIED', detail ? `${code}: ${detail}` : code, { rejection: code });
const readOnlyViolation = (why: string) => new TinyCloudError('SQL_PERMISSION_DENIED', `Read-only violation: ${why}`);

/** The reason this caveat forbids the statement, or undefined. */
function caveatRefusal(caveat: SqlCaveat, profile: StatementProfile, named: boolean): TinyCloudError | undefined {
  if (caveat.statements && !named) return denied('this capability runs only its named statements');
  if (caveat.readOnly && profile.kind !== 'read') {
    return named ? rejected('sql-write-blocked', 'the named statement writes') : readOnlyViolation('the capability is read-only');
  }
  if ((caveat.tables || caveat.columns) && profile.kind !== 'read' && profile.kind !== 'write') {
    return denied('schema and admin statements are not available under table or column limits');
  }
  if ((caveat.tables || caveat.columns) && profile.virtualTables.size > 0) {
    return denied('virtual tables are not available under table or column limits');
  }
  if (caveat.tables) {
    for (const table of [...profile.tablesRead, ...profile.tablesWritten]) {
      if (!caveat.tables.has(table)) return denied(`table ${table} is outside this capability`);
    }
  }
  if (caveat.columns) {
    for (const key of [...profile.columnsRead, ...profile.columnsWritten]) {
      const [table, column] = splitColumnKey(key);
      if (column === ROWID) continue;
      const name = column.toLowerCase();
      if (column === ANY_COLUMN || !(caveat.columns.has(name) || caveat.columns.has(`${table}.${name}`))) {
        return denied(`column ${table}.${column === ANY_COLUMN ? '(unattributable)' : column} is outside this capability`);
      }
    }
  }
  return undefined;
}

/** Whether `grant` lets the statement run; the error explains the first rule that fails. */
export function grantRefusal(grant: SqlGrant, profile: StatementProfile, named = false): TinyCloudError | undefined {
  if (profile.refused) return denied(profile.refused);
  if (!abilityAllows(grant.ability, profile.kind)) {
    if (profile.kind !== 'read' && abilityAllows(grant.ability, 'read')) {
      return named ? rejected('sql-write-blocked', 'the named statement writes') : readOnlyViolation(`${grant.ability} cannot run ${profile.kind} statements`);
    }
    return denied(`${profile.kind} statements need more than ${grant.ability}`);
  }
  for (const caveat of grant.caveats) {
    const refusal = caveatRefusal(caveat, profile, named);
    if (refusal) return refusal;
  }
  return undefined;
}

/** Any one grant suffices; when none does, the first grant's reason is reported. */
export function authorizeProfile(grants: readonly SqlGrant[], profile: StatementProfile): void {
  let first: TinyCloudError | undefined;
  for (const grant of grants) {
    const refusal = grantRefusal(grant, profile);
    if (!refusal) return;
    first ??= refusal;
  }
  throw first ?? denied('no SQL capability');
}

/** A PRAGMA (already allow-listed) needs admin and no table, column or statement limits. */
export function authorizePragma(grants: readonly SqlGrant[], readonly: boolean): void {
  const ok = grants.some(
    (g) =>
      abilityAllows(g.ability, 'admin') &&
      g.caveats.every((c) => !c.statements && !c.tables && !c.columns && (readonly || !c.readOnly)),
  );
  if (!ok) throw denied('PRAGMA statements need tinycloud.sql/admin');
}

/** Holders limited to named statements may not send SQL of their own: the action-specific rejection. */
export function rawSqlRefusal(grants: readonly SqlGrant[], action: 'query' | 'execute' | 'batch' | 'export'): TinyCloudError | undefined {
  const free = grants.some((g) => g.caveats.every((c) => !c.statements));
  if (free) return undefined;
  const code: StatementRejection = {
    query: 'sql-raw-query-blocked',
    execute: 'sql-raw-execute-blocked',
    batch: 'sql-batch-blocked',
    export: 'sql-export-blocked',
  }[action] as StatementRejection;
  return rejected(code);
}

/** Export hands over every row: it needs read access without table, column or statement limits. */
export function authorizeExport(grants: readonly SqlGrant[]): void {
  const raw = rawSqlRefusal(grants, 'export');
  if (raw) throw raw;
  const ok = grants.some((g) => abilityAllows(g.ability, 'read') && g.caveats.every((c) => !c.tables && !c.columns && !c.statements));
  if (!ok) throw denied('export needs read access to the whole database');
}

export interface NamedStatementGrant {
  grant: SqlGrant;
  statement: NamedStatement;
  constrained: boolean;
}

/** The grant whose caveats name this statement (every statements caveat on it must list it with the same SQL). */
export function findNamedStatement(grants: readonly SqlGrant[], name: string): NamedStatementGrant {
  for (const grant of grants) {
    const lists = grant.caveats.filter((c) => c.statements);
    if (lists.length === 0) continue;
    const found = lists.map((c) => c.statements?.find((s) => s.name === name));
    const first = found[0];
    if (!first || found.some((s) => !s || s.sql !== first.sql)) continue;
    const pins = found.flatMap((s) => s?.fixedParams ?? []);
    return {
      grant,
      statement: { name, sql: first.sql, fixedParams: pins },
      constrained: lists.some((c) => c.constrained),
    };
  }
  throw rejected('sql-statement-not-allowed', `no capability names the statement ${JSON.stringify(name)}`);
}
