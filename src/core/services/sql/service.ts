import { randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import SqliteDatabase from 'better-sqlite3';
import type Database from 'better-sqlite3';
import type { Transaction } from 'kysely';
import type { MetadataDb } from '../../db/database.js';
import type { Database as MetadataSchema } from '../../db/schema.js';
import { writeTransaction } from '../../db/write-transaction.js';
import { TinyCloudError, isTinyCloudError } from '../../errors.js';
import { appendEpoch } from '../../events/index.js';
import { quotaExhausted, quotaWouldExceed, type Quotas } from '../kv/quota.js';
import {
  abilityAllows,
  authorizeExport,
  authorizePragma,
  authorizeProfile,
  denied,
  findNamedStatement,
  grantRefusal,
  rawSqlRefusal,
  rejected,
  type SqlGrant,
} from './authorize.js';
import { bindNamedStatement, suppliedParams } from './caveats.js';
import { leadingKeyword, parsePragma } from './lexer.js';
import { emptyDatabase, type Connection, type SqlDatabasePool, type SqlHandle } from './pool.js';
import { pragmaRefusal } from './pragmas.js';
import type { StatementProfile } from './program.js';
import type { SqlRequest } from './request.js';
import { CappedJson, DEFAULT_RESPONSE_CAP, encodeValue, toBindValues, type SqlBindValue } from './values.js';

/** The invocation a mutating request becomes an event of (WIRE §6). */
export interface SqlEventSource {
  /** 34-byte BLAKE3 multihash of the exact invocation bytes. */
  readonly multihash: Uint8Array;
  readonly bytes: Uint8Array;
  readonly invoker: string;
  readonly issuedAt?: number;
  readonly expiry?: number;
  readonly facts: readonly Readonly<Record<string, unknown>>[];
}

export interface SqlInvocation {
  /** Canonical space id. */
  readonly space: string;
  /** Database name (the resource's last path segment, `default` without one). */
  readonly database: string;
  /** The SQL capabilities held on this database, with the caveats that bind them. */
  readonly grants: readonly SqlGrant[];
  readonly request: SqlRequest;
  readonly event: SqlEventSource;
}

export type SqlResponse =
  | { readonly type: 'json'; readonly body: string }
  | { readonly type: 'sqlite'; readonly stream: Readable; readonly size: number };

export interface SqlServiceOptions {
  pool: SqlDatabasePool;
  metadata: MetadataDb;
  quotas: Quotas;
  /** Seconds since the epoch. */
  now?: () => number;
}

interface StatementInput {
  sql: string;
  params: SqlBindValue[];
}

type Output = 'rows' | 'changes';

interface Prepared {
  statement: Database.Statement;
  profile: Pick<StatementProfile, 'kind' | 'readonly' | 'insertsRow' | 'outsideTransaction'>;
}

interface Executed {
  json: string;
  mutated: boolean;
}

/**
 * The SQL service (WIRE §5): one SQLite file per (space, database). Every statement is prepared, profiled from
 * its compiled program and authorized against the holder's grants before it runs; reads go to a read-only
 * connection, writes run one at a time in a transaction that commits only after the invocation's event is in
 * the metadata DB and the quota still holds.
 */
export class SqlService {
  readonly #pool: SqlDatabasePool;
  readonly #metadata: MetadataDb;
  readonly #quotas: Quotas;
  readonly #now: () => number;
  /** Last size written to `sql_database` per database; only this service writes those rows. */
  readonly #sizes = new Map<string, number>();

  constructor(options: SqlServiceOptions) {
    this.#pool = options.pool;
    this.#metadata = options.metadata;
    this.#quotas = options.quotas;
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  get pool(): SqlDatabasePool {
    return this.#pool;
  }

  async invoke(invocation: SqlInvocation): Promise<SqlResponse> {
    const { request, grants } = invocation;
    if (grants.length === 0) throw denied('no SQL capability');
    switch (request.action) {
      case 'export':
        authorizeExport(grants);
        return this.#export(invocation);
      case 'query': {
        const raw = rawSqlRefusal(grants, 'query');
        if (raw) throw raw;
        const input = { sql: request.sql, params: toBindValues(request.params) };
        return this.#run(invocation, [input], 'rows', { maxRows: request.maxRows, cap: request.maxBytes ?? DEFAULT_RESPONSE_CAP });
      }
      case 'execute': {
        const raw = rawSqlRefusal(grants, 'execute');
        if (raw) throw raw;
        const inputs = [...(request.schema ?? []).map((sql) => ({ sql, params: [] })), { sql: request.sql, params: toBindValues(request.params) }];
        return this.#run(invocation, inputs, 'changes', { cap: DEFAULT_RESPONSE_CAP, lastOnly: true });
      }
      case 'batch': {
        const raw = rawSqlRefusal(grants, 'batch');
        if (raw) throw raw;
        const inputs = request.statements.map((s) => ({ sql: s.sql, params: toBindValues(s.params) }));
        return this.#run(invocation, inputs, 'changes', { cap: DEFAULT_RESPONSE_CAP });
      }
      case 'executeStatement':
        return this.#executeNamed(invocation, request.name, request.params);
    }
  }

  async #executeNamed(invocation: SqlInvocation, name: string, rawParams: unknown): Promise<SqlResponse> {
    const found = findNamedStatement(invocation.grants, name);
    const supplied = suppliedParams(rawParams);
    if (!supplied) throw new TinyCloudError('BAD_REQUEST', 'params must be an array or an object keyed by position');
    const bound = bindNamedStatement(found.statement, supplied, Array.isArray(rawParams) || rawParams == null, found.constrained);
    if (!bound.ok) throw rejected(bound.code, bound.message);
    const params = bound.params.map((v, i) => {
      try {
        return toBindValues([v])[0] as SqlBindValue;
      } catch {
        throw rejected('sql-non-primitive-bind', `parameter ${i} must be a primitive value`);
      }
    });
    const grants = [found.grant];
    await this.#pool.use(invocation.space, invocation.database, false, (handle) => {
      assertStatementsRead(handle?.reader ?? emptyDatabase(), found.grant);
    });
    return this.#run({ ...invocation, grants }, [{ sql: found.statement.sql, params }], 'auto', { cap: DEFAULT_RESPONSE_CAP, named: true });
  }

  async #run(
    invocation: SqlInvocation,
    inputs: StatementInput[],
    output: Output | 'auto',
    options: { maxRows?: number; cap: number; lastOnly?: boolean; named?: boolean },
  ): Promise<SqlResponse> {
    const { space, database, grants } = invocation;
    const mayChange = grants.some((g) => (['write', 'schema', 'admin'] as const).some((need) => abilityAllows(g.ability, need)));

    if (!mayChange || inputs.length === 1) {
      const read = await this.#pool.use(space, database, false, (handle) => {
        const conn = handle?.reader ?? emptyDatabase();
        if (mayChange) {
          // A holder who could write takes the read path only when SQLite says this statement only reads.
          const prepared = this.#prepare(conn, inputs[0] as StatementInput, grants, options.named ?? false, true);
          if (!prepared || prepared.profile.kind !== 'read' || !prepared.profile.readonly) return undefined;
        }
        return this.#readAll(conn, inputs, grants, output, options);
      });
      if (read !== undefined) return { type: 'json', body: read };
    }
    return this.#write(invocation, inputs, output, options);
  }

  /** Runs statements on the read-only connection, inside one read transaction when there are several. */
  #readAll(
    conn: Connection,
    inputs: StatementInput[],
    grants: readonly SqlGrant[],
    output: Output | 'auto',
    options: { maxRows?: number; cap: number; lastOnly?: boolean; named?: boolean },
  ): string {
    const several = inputs.length > 1;
    if (several) conn.db.exec('BEGIN');
    try {
      const results = inputs.map((input) => {
        const prepared = this.#prepare(conn, input, grants, options.named ?? false, false) as Prepared;
        return this.#execute(conn, prepared, input, output, options).json;
      });
      return combine(results, output, options.lastOnly ?? false);
    } catch (error) {
      throw translate(error);
    } finally {
      if (several && conn.db.inTransaction) conn.db.exec('COMMIT');
    }
  }

  async #write(
    invocation: SqlInvocation,
    inputs: StatementInput[],
    output: Output | 'auto',
    options: { maxRows?: number; cap: number; lastOnly?: boolean; named?: boolean },
  ): Promise<SqlResponse> {
    const { space, database, grants } = invocation;
    return this.#pool.use(space, database, true, (handle, created) =>
      this.#pool.exclusive(space, database, async () => {
        const h = handle as SqlHandle;
        const conn = h.writer;
        let committed = false;
        try {
          // Nothing else writes this database while the lock is held, so the first statement's profile holds.
          const first = this.#prepare(conn, inputs[0] as StatementInput, grants, options.named ?? false, false) as Prepared;
          if (first.profile.outsideTransaction) {
            if (inputs.length > 1) throw new TinyCloudError('SQL_INVALID', 'VACUUM and PRAGMA wal_checkpoint must be sent alone');
            const done = this.#execute(conn, first, inputs[0] as StatementInput, output, options);
            if (done.mutated) await this.#commitEvent(invocation, conn);
            committed = done.mutated;
            return { type: 'json', body: combine([done.json], output, options.lastOnly ?? false) } as const;
          }
          conn.db.exec('BEGIN IMMEDIATE');
          let mutated = false;
          const results: string[] = [];
          for (const [index, input] of inputs.entries()) {
            const prepared = index === 0 ? first : (this.#prepare(conn, input, grants, options.named ?? false, false) as Prepared);
            if (prepared.profile.outsideTransaction) throw new TinyCloudError('SQL_INVALID', 'VACUUM and PRAGMA wal_checkpoint must be sent alone');
            const done = this.#execute(conn, prepared, input, output, options);
            mutated ||= done.mutated;
            results.push(done.json);
          }
          const body = combine(results, output, options.lastOnly ?? false);
          if (mutated) await this.#commitEvent(invocation, conn);
          conn.db.exec('COMMIT');
          committed = mutated;
          return { type: 'json', body } as const;
        } catch (error) {
          if (conn.db.inTransaction) conn.db.exec('ROLLBACK');
          throw translate(error);
        } finally {
          if (created && !committed) this.#pool.discard(h);
        }
      }),
    );
  }

  /**
   * The database's new size against the space's quota, then the invocation row, its epoch and the database's
   * size in one metadata transaction. Throws (and the caller rolls back) when either fails.
   */
  async #commitEvent(invocation: SqlInvocation, conn: Connection): Promise<void> {
    const { space, database, event } = invocation;
    const size = Number(conn.db.pragma('page_count', { simple: true })) * Number(conn.db.pragma('page_size', { simple: true }));
    const recorded = await this.#recordedSize(space, database);
    if (size > (recorded ?? 0)) {
      const { limitBytes } = await this.#quotas.limitOf(space);
      if (limitBytes !== null) {
        const usage = { space, usedBytes: await this.#quotas.usedBytes(space), limitBytes, override: false };
        if (usage.usedBytes >= limitBytes) throw quotaExhausted(usage);
        if (usage.usedBytes - (recorded ?? 0) + size > limitBytes) throw quotaWouldExceed(usage);
      }
    }
    const now = this.#now();
    await writeTransaction(this.#metadata, async (trx) => {
      await recordInvocation(trx, event, now);
      await appendEpoch(trx, space, [{ kind: 'invocation', multihash: event.multihash }]);
      if (recorded !== undefined) {
        await trx.updateTable('sql_database').set({ size_bytes: size, updated_at: now }).where('space', '=', space).where('name', '=', database).execute();
      } else {
        await trx.insertInto('sql_database').values({ space, name: database, size_bytes: size, created_at: now, updated_at: now }).execute();
      }
    });
    this.#sizes.delete(`${space}\u0000${database}`);
    this.#sizes.set(`${space}\u0000${database}`, size);
    if (this.#sizes.size > 10_000) this.#sizes.delete(this.#sizes.keys().next().value as string);
  }

  /** The size `sql_database` holds for this database (undefined before its first write), cached after first use. */
  async #recordedSize(space: string, database: string): Promise<number | undefined> {
    const key = `${space}\u0000${database}`;
    if (this.#sizes.has(key)) return this.#sizes.get(key);
    const row = await this.#metadata.db
      .selectFrom('sql_database')
      .select('size_bytes')
      .where('space', '=', space)
      .where('name', '=', database)
      .executeTakeFirst();
    const size = row ? Number(row.size_bytes) : undefined;
    if (size !== undefined) this.#sizes.set(key, size);
    return size;
  }

  /**
   * Prepares one statement and decides whether the grants allow it. With `probe`, returns undefined instead of
   * throwing when the statement cannot be prepared or profiled here (the write path will report it), and does
   * not authorize.
   */
  #prepare(conn: Connection, input: StatementInput, grants: readonly SqlGrant[], named: boolean, probe: boolean): Prepared | undefined {
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

  #execute(conn: Connection, prepared: Prepared, input: StatementInput, output: Output | 'auto', options: { maxRows?: number; cap: number }): Executed {
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
          if (count >= limit) {
            rows.return?.();
            break;
          }
          json.push(`${count === 0 ? '' : ','}[${row.map(encodeValue).join(',')}]`);
          count += 1;
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

  async #export(invocation: SqlInvocation): Promise<SqlResponse> {
    const snapshot = await this.snapshot(invocation.space, invocation.database);
    if (!snapshot) throw new TinyCloudError('NOT_FOUND', 'Database not found');
    const stream = createReadStream(snapshot.file);
    stream.once('close', () => snapshot.remove());
    return { type: 'sqlite', stream, size: snapshot.size };
  }

  /**
   * A consistent copy of one database in a temp file (a backup taken under the writer lock; readers carry on),
   * in rollback-journal mode so it opens anywhere, including from memory. Undefined when the database does not
   * exist. The caller removes the file. CAR export uses this too.
   */
  async snapshot(space: string, database: string): Promise<{ file: string; size: number; remove(): void } | undefined> {
    return this.#pool.use(space, database, false, async (handle) => {
      if (!handle) return undefined;
      const dir = path.join(this.#pool.dir, '.export');
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${randomUUID()}.sqlite3`);
      const remove = () => rmSync(file, { force: true });
      try {
        await this.#pool.exclusive(space, database, () => handle.writer.db.backup(file));
        const copy = new SqliteDatabase(file);
        copy.pragma('journal_mode = DELETE');
        copy.close();
        return { file, size: statSync(file).size, remove };
      } catch (error) {
        remove();
        throw error;
      }
    });
  }

  /** The databases a space holds, with their sizes as last committed. */
  async databases(space: string): Promise<{ name: string; sizeBytes: number; updatedAt: number }[]> {
    const rows = await this.#metadata.db.selectFrom('sql_database').selectAll().where('space', '=', space).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, sizeBytes: Number(r.size_bytes), updatedAt: Number(r.updated_at) }));
  }
}

function prepareOrThrow(conn: Connection, sql: string): Database.Statement {
  try {
    return conn.prepare(sql);
  } catch (error) {
    throw translate(error);
  }
}

/** A read-only constrained caveat whose statement list includes a writing statement is void as a whole. */
function assertStatementsRead(conn: Connection, grant: SqlGrant): void {
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

function combine(results: string[], output: Output | 'auto', lastOnly: boolean): string {
  if (lastOnly || output === 'rows' || output === 'auto') return results[results.length - 1] as string;
  return `{"results":[${results.join(',')}]}`;
}

/** SQLite's own errors are the client's (400), except storage failures and refusals. */
function translate(error: unknown): unknown {
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

async function recordInvocation(trx: Transaction<MetadataSchema>, event: SqlEventSource, now: number): Promise<void> {
  const known = await trx.selectFrom('invocation').select('id').where('id', '=', event.multihash).executeTakeFirst();
  if (known) return;
  await trx
    .insertInto('invocation')
    .values({
      id: event.multihash,
      invoker: event.invoker,
      issued_at: event.issuedAt ?? now,
      expiry: event.expiry ?? null,
      facts: event.facts.length ? JSON.stringify(event.facts) : null,
      serialization: event.bytes,
    })
    .execute();
}
