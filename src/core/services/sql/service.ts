import { randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import SqliteDatabase from 'better-sqlite3';
import type { Transaction } from 'kysely';
import type { MetadataDb } from '../../db/database.js';
import type { Database as MetadataSchema } from '../../db/schema.js';
import { writeTransaction } from '../../db/write-transaction.js';
import { TinyCloudError } from '../../errors.js';
import { appendEpoch } from '../../events/index.js';
import { quotaExhausted, quotaWouldExceed, type Quotas } from '../kv/quota.js';
import { abilityAllows, authorizeExport, denied, findNamedStatement, rawSqlRefusal, rejected, type SqlGrant } from './authorize.js';
import { bindNamedStatement, suppliedParams } from './caveats.js';
import { leadingKeyword } from './lexer.js';
import type { SqlDatabasePool } from './pool.js';
import { encodeGrant, encodeValue, type Output, type ReadResult, type RunOptions, type WireGrant, type WireInput, type WriteResult } from './protocol.js';
import type { SqlRequest } from './request.js';
import { DEFAULT_RESPONSE_CAP, toBindValues, type SqlBindValue } from './values.js';

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

type RunRequest = Omit<RunOptions, 'lastOnly' | 'named'> & { lastOnly?: boolean; named?: boolean; check?: SqlGrant };

/** Statements that surely change something go straight to the writer; anything else is tried as a read first. */
const WRITE_KEYWORDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'CREATE', 'DROP', 'ALTER', 'VACUUM', 'REINDEX', 'ANALYZE', 'PRAGMA']);

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
    // The executor first checks the grant's read-only statement list against the schema (assertStatementsRead).
    const grants = [found.grant];
    return this.#run({ ...invocation, grants }, [{ sql: found.statement.sql, params }], 'auto', { cap: DEFAULT_RESPONSE_CAP, named: true, check: found.grant });
  }

  /**
   * Statements go to an executor process (`executor.ts`), which prepares, profiles and authorizes each one on
   * the connection it then runs on, within the time budget. Reads run on the read-only connection without any
   * lock; everything else takes the database's writer lock.
   */
  async #run(invocation: SqlInvocation, inputs: StatementInput[], output: Output, request: RunRequest): Promise<SqlResponse> {
    const { space, database, grants } = invocation;
    const mayChange = grants.some((g) => (['write', 'schema', 'admin'] as const).some((need) => abilityAllows(g.ability, need)));
    const options: RunOptions = { maxRows: request.maxRows, cap: request.cap, lastOnly: request.lastOnly ?? false, named: request.named ?? false };
    const job = {
      inputs: inputs.map(wireInput),
      grants: grants.map(encodeGrant),
      output,
      options,
      ...(request.check && { check: encodeGrant(request.check) }),
    };

    const surelyWrites = inputs.length === 1 && WRITE_KEYWORDS.has(leadingKeyword(inputs[0]?.sql ?? '') ?? '');
    if (!mayChange || (inputs.length === 1 && !surelyWrites)) {
      const file = this.#pool.exists(space, database) ? this.#pool.file(space, database) : null;
      const read = (await this.#pool.executors.with(space, file ?? undefined, (lease) =>
        lease.call({ op: 'read', file, probe: mayChange, ...job }, true),
      )) as ReadResult;
      if (read.body !== null) return { type: 'json', body: read.body };
    }
    return this.#write(invocation, job);
  }

  /**
   * Under the database's writer lock: the executor runs the statements in `BEGIN IMMEDIATE` and, when they
   * changed something, keeps the transaction open while the node checks the quota and records the event; then
   * it commits (or rolls back).
   */
  async #write(invocation: SqlInvocation, job: { inputs: WireInput[]; grants: WireGrant[]; output: Output; options: RunOptions; check?: WireGrant }): Promise<SqlResponse> {
    const { space, database } = invocation;
    return this.#pool.exclusive(space, database, () =>
      this.#pool.creating(space, database, (file, existed) =>
        this.#pool.executors.with(space, file, async (lease) => {
          let committed = false;
          try {
            const done = (await lease.call({ op: 'write', file, ...job }, true)) as WriteResult;
            if (done.pending) {
              try {
                await this.#commitEvent(invocation, done.size as number);
              } catch (error) {
                // An executor that died meanwhile took its transaction with it.
                await lease.call({ op: 'finish', action: 'rollback' }, false).catch(() => undefined);
                throw error;
              }
              await lease.call({ op: 'finish', action: 'commit' }, false);
              committed = true;
            } else if (done.mutated) {
              // VACUUM and wal_checkpoint run outside a transaction: done already, recorded now.
              await this.#commitEvent(invocation, done.size as number);
              committed = true;
            }
            return { value: { type: 'json', body: done.body } as const, committed };
          } finally {
            // A database this write created but did not commit is closed and deleted by its executor.
            if (!existed && !committed) await lease.call({ op: 'discard', file }, false).catch(() => undefined);
          }
        }),
      ),
    );
  }

  /**
   * The database's new size against the space's quota, then the invocation row, its epoch and the database's
   * size in one metadata transaction. Throws (and the caller rolls back) when either fails.
   */
  async #commitEvent(invocation: SqlInvocation, size: number): Promise<void> {
    const { space, database, event } = invocation;
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
    if (!this.#pool.exists(space, database)) return undefined;
    const dir = path.join(this.#pool.dir, '.export');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${randomUUID()}.sqlite3`);
    const remove = () => rmSync(file, { force: true });
    try {
      // A backup runs page by page between event-loop turns; it never runs a user statement.
      await this.#pool.exclusive(space, database, async () => {
        const source = new SqliteDatabase(this.#pool.file(space, database), { readonly: true, fileMustExist: true });
        try {
          await source.backup(file);
        } finally {
          source.close();
        }
      });
      const copy = new SqliteDatabase(file);
      copy.pragma('journal_mode = DELETE');
      copy.close();
      return { file, size: statSync(file).size, remove };
    } catch (error) {
      remove();
      throw error;
    }
  }

  /** The databases a space holds, with their sizes as last committed. */
  async databases(space: string): Promise<{ name: string; sizeBytes: number; updatedAt: number }[]> {
    const rows = await this.#metadata.db.selectFrom('sql_database').selectAll().where('space', '=', space).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, sizeBytes: Number(r.size_bytes), updatedAt: Number(r.updated_at) }));
  }

  /**
   * Drops the size cached for a database whose `sql_database` row was rewritten outside this service (a CAR
   * import that replaced the file): the next write reads the recorded size again before its quota check.
   */
  forgetRecordedSize(space: string, database: string): void {
    this.#sizes.delete(`${space}\u0000${database}`);
  }
}

function wireInput(input: StatementInput): WireInput {
  return { sql: input.sql, params: input.params.map(encodeValue) };
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
