import { existsSync } from 'node:fs';
import { KeyedLock } from '../kv/keyed-lock.js';
import { removeDatabaseFiles } from './connections.js';
import { ExecutorPool } from './executors.js';
import { databaseFile } from './files.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_EXECUTORS = 4;

export interface PoolOptions {
  /** Open databases each executor keeps at most (each holds two connections); least recently used close first. */
  maxOpen?: number;
  /** An executor closes a database nobody used for this long. */
  idleMs?: number;
  /** Executor processes at most (they start on demand). */
  executors?: number;
  /** Time budget of one invocation's statements (`storage.sql.timeout_secs`). */
  timeoutMs?: number;
}

/**
 * The per-space SQLite files as the node sees them: where they are, whether they exist, one writer at a time per
 * database, and the executor processes that open and run them (`executors.ts`). The node itself never runs a
 * user statement; it only takes backups (`SqlService.snapshot`).
 */
export class SqlDatabasePool {
  readonly executors: ExecutorPool;
  readonly #writers = new KeyedLock();
  /** Files a write is creating right now: until it commits, everyone else treats them as absent. */
  readonly #creating = new Set<string>();
  #closed = false;

  constructor(
    readonly dir: string,
    options: PoolOptions = {},
  ) {
    this.executors = new ExecutorPool({
      size: Math.max(1, options.executors ?? DEFAULT_EXECUTORS),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      settings: { maxOpen: options.maxOpen ?? 64, idleMs: options.idleMs ?? 60_000 },
    });
  }

  file(space: string, name: string): string {
    return databaseFile(this.dir, space, name);
  }

  /** A committed database: it exists and no write is still creating it. Such a file is never deleted. */
  exists(space: string, name: string): boolean {
    const file = this.file(space, name);
    return !this.#creating.has(file) && existsSync(file);
  }

  get openCount(): number {
    return this.executors.openCount;
  }

  /** One writer at a time per database, FIFO; readers never wait for it. */
  exclusive<T>(space: string, name: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('SQL databases are closed'));
    return this.#writers.run(this.file(space, name), fn);
  }

  /**
   * Runs a write (under `exclusive`) that may create the database. While it runs, readers see no database; if
   * it did not commit, the file is deleted afterwards (the executor that created it closes and deletes it; this
   * is the fallback for an executor that was killed).
   */
  async creating<T>(space: string, name: string, fn: (file: string, existed: boolean) => Promise<{ value: T; committed: boolean }>): Promise<T> {
    const file = this.file(space, name);
    if (existsSync(file)) return (await fn(file, true)).value;
    this.#creating.add(file);
    let committed = false;
    try {
      const done = await fn(file, false);
      committed = done.committed;
      return done.value;
    } finally {
      if (!committed) removeDatabaseFiles(file);
      this.#creating.delete(file);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.executors.close();
  }
}
