import type Database from 'better-sqlite3';
import { TinyCloudError, isTinyCloudError } from '../../errors.js';
import { abilityAllows, authorizePragma, authorizeProfile, denied, grantRefusal, rejected, type SqlGrant } from './authorize.js';
import type { Connection } from './connections.js';
import { leadingKeyword, parsePragma } from './lexer.js';
import { pragmaRefusal } from './pragmas.js';
import type { StatementProfile } from './program.js';
import type { Output, RunOptions } from './protocol.js';
import { CappedJson, encodeValue, type SqlBindValue } from './values.js';

/**
 * Preparing, profiling, authorizing and running statements on one connection. This runs inside an executor
 * process (`executor.ts`): the profile is taken on the very connection, schema and transaction the statement
 * then runs in, so nothing can change between the decision and the execution.
 */

export interface StatementInput {
  sql: string;
  params: SqlBindValue[];
}

export interface Prepared {
  statement: Database.Statement;
  profile: Pick<StatementProfile, 'kind' | 'readonly' | 'insertsRow' | 'outsideTransaction'>;
}

export interface Executed {
  json: string;
  mutated: boolean;
}

/**
 * Prepares one statement and decides whether the grants allow it. With `probe`, returns undefined instead of
 * throwing when the statement cannot be prepared or profiled here (the write path will report it), and does
 * not authorize.
 */
export function prepareStatement(conn: Connection, input: StatementInput, grants: readonly SqlGrant[], named: boolean, probe: boolean): Prepared | undefined {
  const keyword = leadingKeyword(input.sql);
  if (keyword === undefined) throw new TinyCloudError('SQL_INVALID', 'SQL statement is empty');
  if (keyword === 'EXPLAIN') throw denied('EXPLAIN is not available');
  if (keyword === 'PRAGMA') {
    const pragma = parsePragma(input.sql);
    if (!pragma) throw new TinyCloudError('SQL_INVALID', 'PRAGMA must have the form PRAGMA [main.]name [= value | (value)]');
    const why = pragmaRefusal(pragma);
    if (why) throw denied(why);
    if (named) throw denied('named statements cannot be PRAGMAs');
    if (!grants.some((g) => abilityAllows(g.ability, 'admin'))) throw denied('PRAGMA statements need tinycloud.sql/admin');
    const statement = prepareOrThrow(conn, input.sql);
    authorizePragma(grants, statement.readonly);
    const outsideTransaction = pragma.name === 'wal_checkpoint';
    return { statement, profile: { kind: 'admin', readonly: statement.readonly, insertsRow: false, outsideTransaction } };
  }
  let statement: Database.Statement;
  try {
    statement = prepareOrThrow(conn, input.sql);
  } catch (error) {
    if (probe) return undefined;
    throw error;
  }
  const wantColumns = grants.some((g) => g.caveats.some((c) => c.columns));
  let profile: StatementProfile;
  try {
    profile = conn.inspector.inspect(input.sql, statement, input.params, wantColumns);
  } catch (error) {
    if (probe) return undefined;
    throw translate(error);
  }
  if (probe) return { statement, profile };
  if (named) {
    const refusal = grantRefusal(grants[0] as SqlGrant, profile, true);
    if (refusal) throw refusal;
  } else {
    authorizeProfile(grants, profile);
  }
  return { statement, profile };
}

/** Runs a prepared statement; rows are encoded as they come and the answer fails (413) as soon as it passes the cap. */
export function executeStatement(conn: Connection, prepared: Prepared, input: StatementInput, output: Output, options: Pick<RunOptions, 'maxRows' | 'cap'>): Executed {
  const { statement, profile } = prepared;
  const mode = output === 'auto' ? (statement.reader ? 'rows' : 'changes') : output;
  const mutated = !profile.readonly;
  if (mode === 'rows') {
    const json = new CappedJson(options.cap);
    const columns = statement.reader ? statement.columns().map((c) => c.name) : [];
    json.push(`{"columns":${JSON.stringify(columns)},"rows":[`);
    let count = 0;
    if (statement.reader) {
      statement.raw(true);
      const limit = options.maxRows ?? Infinity;
      const rows = statement.iterate(...input.params) as IterableIterator<unknown[]>;
      for (const row of rows) {
        json.reserve(row); // a row that cannot fit is refused before it is encoded
        json.push(`${count === 0 ? '' : ','}[${row.map(encodeValue).join(',')}]`);
        count += 1;
        // Stop before SQLite computes one more row; for…of closes the iterator (sqlite3_reset) on break and throw.
        if (count >= limit) break;
      }
    } else {
      statement.run(...input.params);
    }
    json.push(`],"rowCount":${count}}`);
    return { json: json.toString(), mutated };
  }
  let changes = 0;
  let lastInsertRowId: bigint | number | null = null;
  if (statement.reader) {
    statement.raw(true);
    for (const _ of statement.iterate(...input.params)) void _;
    if (mutated) {
      const [c, id] = conn.prepare('SELECT changes(), last_insert_rowid()').raw(true).get() as [bigint, bigint];
      changes = Number(c);
      lastInsertRowId = id;
    }
  } else {
    const info = statement.run(...input.params);
    changes = Number(info.changes);
    lastInsertRowId = info.lastInsertRowid;
  }
  const insertId = profile.insertsRow && mutated ? encodeValue(BigInt(lastInsertRowId ?? 0)) : 'null';
  return { json: `{"changes":${changes},"lastInsertRowId":${insertId}}`, mutated };
}

/** Runs statements on the read-only connection, inside one read transaction when there are several. */
export function readAll(conn: Connection, inputs: StatementInput[], grants: readonly SqlGrant[], output: Output, options: RunOptions): string {
  const several = inputs.length > 1;
  if (several) conn.db.exec('BEGIN');
  try {
    const results = inputs.map((input) => {
      const prepared = prepareStatement(conn, input, grants, options.named, false) as Prepared;
      return executeStatement(conn, prepared, input, output, options).json;
    });
    return combine(results, output, options.lastOnly);
  } catch (error) {
    throw translate(error);
  } finally {
    if (several && conn.db.inTransaction) conn.db.exec('COMMIT');
  }
}

/** A read-only constrained caveat whose statement list includes a writing statement is void as a whole. */
export function assertStatementsRead(conn: Connection, grant: SqlGrant): void {
  for (const caveat of grant.caveats) {
    if (!caveat.statements || !caveat.readOnly) continue;
    for (const s of caveat.statements) {
      if (leadingKeyword(s.sql) === 'PRAGMA') throw rejected('sql-write-blocked', `statement ${s.name} is a PRAGMA`);
      let statement: Database.Statement;
      try {
        statement = conn.prepare(s.sql);
      } catch {
        continue; // Cannot be judged against this schema; it is judged again if it is ever invoked.
      }
      if (!statement.readonly) throw rejected('sql-write-blocked', `statement ${s.name} writes`);
    }
  }
}

export function combine(results: string[], output: Output, lastOnly: boolean): string {
  if (lastOnly || output === 'rows' || output === 'auto') return results[results.length - 1] as string;
  return `{"results":[${results.join(',')}]}`;
}

function prepareOrThrow(conn: Connection, sql: string): Database.Statement {
  try {
    return conn.prepare(sql);
  } catch (error) {
    throw translate(error);
  }
}

/** SQLite's own errors are the client's (400), except storage failures and refusals. */
export function translate(error: unknown): unknown {
  if (isTinyCloudError(error)) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? String(error);
  if (code === 'SQLITE_AUTH') return denied(message);
  if (code === 'SQLITE_READONLY') return denied('Read-only violation: the statement tried to write');
  if (/^SQLITE_(FULL|IOERR|CORRUPT|CANTOPEN|NOMEM|NOTADB)/.test(code)) return new TinyCloudError('STORAGE_UNAVAILABLE', 'SQL storage failed');
  if (error instanceof RangeError || error instanceof TypeError || code.startsWith('SQLITE_')) {
    return new TinyCloudError('SQL_INVALID', message);
  }
  return error;
}
