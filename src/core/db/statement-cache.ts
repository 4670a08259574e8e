import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { LruCache } from '../lru.js';

const CACHED_STATEMENTS = 512;

/**
 * Kysely's SQLite driver prepares every query afresh; preparing costs more than running the point look-ups and
 * inserts of the request path. Statements are kept by SQL text (Kysely binds parameters, so the texts are few).
 * One still being iterated by a streaming query is busy, and a second user of its text gets a fresh one.
 */
export function withStatementCache(database: BetterSqlite3.Database): SqliteDatabase {
  const statements = new LruCache<string, BetterSqlite3.Statement>(CACHED_STATEMENTS);
  return {
    close: () => database.close(),
    prepare(text: string): SqliteStatement {
      // Kysely opens every transaction with a deferred `begin`. Ours are all writes on the one writing
      // connection; begun deferred, the first write upgrades a read snapshot and fails at once (SQLITE_BUSY,
      // no busy handler) if the WAL checkpointer holds the lock. Begun immediate, it waits (busy_timeout).
      const sql = text === 'begin' ? 'begin immediate' : text;
      const cached = statements.get(sql);
      if (cached && !cached.busy) return cached as SqliteStatement;
      const statement = database.prepare(sql);
      if (!cached) statements.set(sql, statement);
      return statement as SqliteStatement;
    },
  };
}
