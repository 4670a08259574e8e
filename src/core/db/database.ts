import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, MysqlDialect, PostgresDialect, SqliteDialect, sql, type Dialect, type Migration } from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
import { TinyCloudError } from '../errors.js';
import type { Engine } from './dialect.js';
import { initialSchema } from './migrations/001_initial.js';
import { delegationSignedDigest } from './migrations/002_delegation_signed_digest.js';
import { carExportIndexes } from './migrations/003_car_export_indexes.js';
import { kvSpaceUsage } from './migrations/004_kv_space_usage.js';
import { epochHeads } from './migrations/005_epoch_heads.js';
import { replayByExpiry } from './migrations/006_replay_by_expiry.js';
import { inlineValues } from './migrations/007_inline_values.js';
import type { Database } from './schema.js';
import { runPreparedDirectly, type DirectSqlite } from './prepared.js';
import { withStatementCache } from './statement-cache.js';
import { WAL_SIZE_LIMIT_BYTES, WalCheckpointer } from './wal-checkpointer.js';

export interface MetadataDb {
  db: Kysely<Database>;
  engine: Engine;
  /** Tell the database a write transaction committed (SQLite: keeps its WAL checkpointer running). */
  wrote(): void;
  /** Awaited with no write transaction open: room for housekeeping that must not run inside one. */
  betweenWrites(): Promise<void> | void;
  close(): Promise<void>;
}

interface OpenedDialect {
  engine: Engine;
  dialect: Dialect;
  checkpointer?: WalCheckpointer;
  direct?: DirectSqlite;
}

/** Numbered migrations, applied in order at every start. Never edit a released one: add the next number. */
function migrationsFor(engine: Engine): Record<string, Migration> {
  return {
    '001_initial': initialSchema(engine),
    '002_delegation_signed_digest': delegationSignedDigest(engine),
    '003_car_export_indexes': carExportIndexes(),
    '004_kv_space_usage': kvSpaceUsage(engine),
    '005_epoch_heads': epochHeads(engine),
    '006_replay_by_expiry': replayByExpiry(engine),
    '007_inline_values': inlineValues(engine),
  };
}

/** `postgres://alice:hunter2@db/x` → `postgres://alice:***@db/x`: URLs appear in errors, passwords never do. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function sqliteDialect(url: string): OpenedDialect {
  const file = url.slice('sqlite:'.length).replace(/^\/\//, '');
  const location = file === ':memory:' ? ':memory:' : path.resolve(file);
  if (location !== ':memory:') mkdirSync(path.dirname(location), { recursive: true });
  const database = new SqliteDatabase(location);
  database.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives process crashes (kill -9); only an OS crash can lose the last commits.
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  // Savepoints (one per writer in a group commit) journal the pages they change; in a file that was a write
  // syscall per page, several per KV put.
  database.pragma('temp_store = MEMORY');
  const cached = withStatementCache(database);
  const dialect = new SqliteDialect({ database: cached });
  const direct: DirectSqlite = {
    prepare: (text) => cached.prepare(text),
    get inTransaction() {
      return database.inTransaction;
    },
  };
  if (location === ':memory:') return { engine: 'sqlite', dialect, direct };
  // The checkpointer restarts the WAL from its beginning, never shrinking the file; after a restart, cut it back.
  database.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  const writer = { autocheckpoint: (pages: number) => void database.pragma(`wal_autocheckpoint = ${pages}`) };
  return { engine: 'sqlite', dialect, direct, checkpointer: new WalCheckpointer(location, writer) };
}

function dialectFor(url: string): OpenedDialect {
  if (url.startsWith('sqlite:')) return sqliteDialect(url);
  if (/^postgres(ql)?:/.test(url)) {
    pg.types.setTypeParser(20, (value: string) => Number(value));
    return { engine: 'postgres', dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 10 }) }) };
  }
  if (/^(mysql|mariadb):/.test(url)) {
    const pool = createPool({ uri: url.replace(/^mariadb:/, 'mysql:'), connectionLimit: 10, supportBigNumbers: true, bigNumberStrings: false });
    return { engine: 'mysql', dialect: new MysqlDialect({ pool }) };
  }
  throw new TinyCloudError('STORAGE_UNAVAILABLE', `storage.database: unsupported URL ${redactUrl(url)}`);
}

/** Opens the metadata DB and applies pending migrations; fails with a message naming the database. */
export async function openMetadataDb(url: string): Promise<MetadataDb> {
  let opened: OpenedDialect;
  try {
    opened = dialectFor(url);
  } catch (error) {
    if (error instanceof TinyCloudError) throw error;
    throw new TinyCloudError('STORAGE_UNAVAILABLE', `storage.database: cannot open ${redactUrl(url)}: ${(error as Error).message}`);
  }
  const db = new Kysely<Database>({ dialect: opened.dialect });
  try {
    await sql`select 1`.execute(db);
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrationsFor(opened.engine) } });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error;
  } catch (error) {
    await opened.checkpointer?.close();
    await db.destroy().catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new TinyCloudError('STORAGE_UNAVAILABLE', `storage.database: cannot use ${redactUrl(url)}: ${reason || (error as { code?: string }).code}`);
  }
  const { checkpointer, direct } = opened;
  if (direct) runPreparedDirectly(db, direct);
  return {
    db,
    engine: opened.engine,
    wrote: checkpointer ? () => checkpointer.wrote() : () => undefined,
    // Holding Kysely's one SQLite connection keeps every other write (the replay rows, say) from starting.
    betweenWrites: checkpointer ? () => checkpointer.betweenWrites((during) => db.connection().execute(during)) : () => undefined,
    async close() {
      // The worker's connection first: the last connection to close checkpoints and removes the WAL.
      await checkpointer?.close();
      await db.destroy();
    },
  };
}

export async function isDatabaseHealthy(metadata: MetadataDb): Promise<boolean> {
  try {
    await sql`select 1`.execute(metadata.db);
    return true;
  } catch {
    return false;
  }
}
