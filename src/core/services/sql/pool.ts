import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { KeyedLock } from '../kv/keyed-lock.js';
import { databaseFile } from './files.js';
import { StatementInspector } from './inspector.js';

const STATEMENT_CACHE = 128;

/** One better-sqlite3 connection with its prepared-statement cache and program inspector. */
export class Connection {
  readonly inspector: StatementInspector;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {
    this.inspector = new StatementInspector(db);
  }

  /** Prepares (or reuses) a statement; throws SQLite's error for bad SQL or more than one statement. */
  prepare(sql: string): Database.Statement {
    const cached = this.#statements.get(sql);
    if (cached) {
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const statement = this.db.prepare(sql);
    this.#statements.set(sql, statement);
    if (this.#statements.size > STATEMENT_CACHE) this.#statements.delete(this.#statements.keys().next().value as string);
    return statement;
  }

  close(): void {
    this.#statements.clear();
    if (this.db.open) this.db.close();
  }
}

function configure(db: Database.Database, readonly: boolean): Database.Database {
  db.defaultSafeIntegers(true);
  db.pragma('busy_timeout = 5000');
  // Views and triggers may only call functions SQLite marks innocuous, so a schema cannot smuggle side effects.
  db.pragma('trusted_schema = OFF');
  if (readonly) {
    db.pragma('query_only = ON');
  } else {
    db.pragma('journal_mode = WAL');
    // FULL: the WAL is fsynced at every commit, so an acknowledged write survives kill -9 and power loss.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  }
  return db;
}

/**
 * One (space, database): a read-write connection used by one writer at a time, and a `readonly` connection
 * for everything that only reads. In WAL mode the reader sees the last committed state, never the writer's
 * open transaction, and SQLite itself refuses any write attempted through it.
 */
export class SqlHandle {
  readonly writer: Connection;
  readonly reader: Connection;
  lastUsed = Date.now();
  users = 0;

  constructor(
    readonly key: string,
    readonly file: string,
  ) {
    this.writer = new Connection(configure(new Database(file), false));
    this.reader = new Connection(configure(new Database(file, { readonly: true, fileMustExist: true }), true));
  }

  close(): void {
    // The reader first: the writer, closing last, checkpoints the WAL into the database file.
    this.reader.close();
    this.writer.close();
  }
}

/** Stands in for a database that does not exist yet: reads see an empty schema, nothing is created on disk. */
let emptyConnection: Connection | undefined;
export function emptyDatabase(): Connection {
  emptyConnection ??= new Connection(configure(new Database(':memory:'), true));
  return emptyConnection;
}

export interface PoolOptions {
  /** Open databases kept at most (each holds two connections); least recently used idle ones close first. */
  maxOpen?: number;
  /** Close a database nobody used for this long. */
  idleMs?: number;
}

/** Opens per-space SQLite files lazily, serializes writers per database, and closes idle ones. */
export class SqlDatabasePool {
  readonly #open = new Map<string, SqlHandle>();
  readonly #writers = new KeyedLock();
  readonly #maxOpen: number;
  readonly #idleMs: number;
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  constructor(
    readonly dir: string,
    options: PoolOptions = {},
  ) {
    this.#maxOpen = options.maxOpen ?? 64;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#sweeper = setInterval(() => this.sweep(), Math.max(250, Math.floor(this.#idleMs / 2)));
    this.#sweeper.unref();
  }

  file(space: string, name: string): string {
    return databaseFile(this.dir, space, name);
  }

  exists(space: string, name: string): boolean {
    return this.#open.has(this.file(space, name)) || existsSync(this.file(space, name));
  }

  get openCount(): number {
    return this.#open.size;
  }

  /**
   * Runs `fn` with the database open (created when `create`), or with `undefined` when it does not exist and
   * `create` is false. The handle is never closed while `fn` runs.
   */
  async use<T>(space: string, name: string, create: boolean, fn: (handle: SqlHandle | undefined, created: boolean) => Promise<T> | T): Promise<T> {
    if (this.#closed) throw new Error('SQL databases are closed');
    const file = this.file(space, name);
    let handle = this.#open.get(file);
    let created = false;
    if (!handle) {
      const exists = existsSync(file);
      if (!exists && !create) return fn(undefined, false);
      mkdirSync(path.dirname(file), { recursive: true });
      created = !exists;
      handle = new SqlHandle(file, file);
      this.#open.set(file, handle);
      this.evict();
    } else {
      this.#open.delete(file);
      this.#open.set(file, handle);
    }
    handle.users += 1;
    try {
      return await fn(handle, created);
    } finally {
      handle.users -= 1;
      handle.lastUsed = Date.now();
    }
  }

  /** One writer at a time per database, FIFO; readers never wait for it. */
  exclusive<T>(space: string, name: string, fn: () => Promise<T>): Promise<T> {
    return this.#writers.run(this.file(space, name), fn);
  }

  /** Closes and deletes a database file this invocation created but never committed to. */
  discard(handle: SqlHandle): void {
    if (handle.users > 1) return;
    this.#open.delete(handle.key);
    handle.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${handle.file}${suffix}`, { force: true });
  }

  private evict(): void {
    for (const [key, handle] of this.#open) {
      if (this.#open.size <= this.#maxOpen) break;
      if (handle.users > 0) continue;
      this.#open.delete(key);
      handle.close();
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, handle] of this.#open) {
      if (handle.users === 0 && now - handle.lastUsed >= this.#idleMs) {
        this.#open.delete(key);
        handle.close();
      }
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const handle of this.#open.values()) handle.close();
    this.#open.clear();
  }
}
