import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
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
 * One (space, database) as one executor process holds it: a read-write connection, used only by the writer
 * that holds the database's lock in the node, and a `readonly` connection for everything that only reads. In
 * WAL mode the reader sees the last committed state, never an open write transaction (of this process or any
 * other), and SQLite itself refuses any write attempted through it.
 */
export class SqlHandle {
  readonly writer: Connection;
  readonly reader: Connection;
  lastUsed = Date.now();
  /** Set while a write transaction waits for the node to record its event: never closed meanwhile. */
  pinned = false;

  constructor(
    readonly file: string,
    create: boolean,
  ) {
    this.writer = new Connection(configure(new Database(file, { fileMustExist: !create }), false));
    try {
      this.reader = new Connection(configure(new Database(file, { readonly: true, fileMustExist: true }), true));
    } catch (error) {
      this.writer.close();
      throw error;
    }
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

/** Deletes a database file with its WAL and shared-memory files. */
export function removeDatabaseFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
}

/**
 * The databases one executor process has open: opened on first use, at most `maxOpen` (least recently used
 * closed first), closed after `idleMs` without use. An executor runs one job at a time and pins the handle of
 * a transaction it keeps open, so a handle is never closed under a statement or an open transaction.
 */
export class HandleCache {
  readonly #open = new Map<string, SqlHandle>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    private readonly maxOpen: number,
    private readonly idleMs: number,
    private readonly onCount: (count: number) => void = () => {},
  ) {
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(100, Math.floor(idleMs / 2)));
    this.#sweeper.unref();
  }

  get size(): number {
    return this.#open.size;
  }

  /** The open database, or a newly opened one (the file is created when `create`); `created` when it was. */
  open(file: string, create: boolean): { handle: SqlHandle; created: boolean } {
    const known = this.#open.get(file);
    if (known) {
      this.#open.delete(file);
      this.#open.set(file, known);
      known.lastUsed = Date.now();
      return { handle: known, created: false };
    }
    const created = create && !existsSync(file);
    if (created) mkdirSync(path.dirname(file), { recursive: true });
    const handle = new SqlHandle(file, create);
    this.#open.set(file, handle);
    for (const [key, old] of this.#open) {
      if (this.#open.size <= this.maxOpen) break;
      if (old.pinned) continue;
      this.#open.delete(key);
      old.close();
    }
    this.onCount(this.#open.size);
    return { handle, created };
  }

  /** Closes a database this executor created for a write that never committed, and deletes its files. */
  discard(file: string): void {
    const handle = this.#open.get(file);
    if (handle) {
      this.#open.delete(file);
      handle.close();
      this.onCount(this.#open.size);
    }
    removeDatabaseFiles(file);
  }

  #sweep(): void {
    const now = Date.now();
    const before = this.#open.size;
    for (const [key, handle] of this.#open) {
      if (!handle.pinned && now - handle.lastUsed >= this.idleMs) {
        this.#open.delete(key);
        handle.close();
      }
    }
    if (this.#open.size !== before) this.onCount(this.#open.size);
  }

  close(): void {
    clearInterval(this.#sweeper);
    for (const handle of this.#open.values()) handle.close();
    this.#open.clear();
  }
}
