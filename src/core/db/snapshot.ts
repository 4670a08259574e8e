import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { MetadataDb } from './database.js';
import type { Database } from './schema.js';

/**
 * A consistent, read-only view of the metadata DB that stays open while a long reader (a CAR export) streams,
 * without holding up writers. Blocks are immutable, so rows seen here always point at blocks that exist.
 */
export interface ReadSnapshot {
  readonly db: Kysely<Database>;
  release(): Promise<void>;
}

/**
 * SQLite: a separate connection to the same file (kysely's SQLite dialect has one connection, and a long
 * transaction on it would stall the node), in a read transaction: WAL gives it the database as of its first read
 * while `serve` keeps writing. PostgreSQL and MySQL: a REPEATABLE READ transaction on a pooled connection.
 */
export async function openReadSnapshot(metadata: MetadataDb, databaseUrl: string): Promise<ReadSnapshot> {
  if (metadata.engine === 'sqlite') {
    const file = databaseUrl.slice('sqlite:'.length).replace(/^\/\//, '');
    if (file === ':memory:') return transactionSnapshot(metadata.db, async () => undefined);
    const connection = new SqliteDatabase(path.resolve(file), { fileMustExist: true });
    connection.pragma('busy_timeout = 5000');
    connection.pragma('query_only = ON');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
    try {
      return await transactionSnapshot(db, () => db.destroy());
    } catch (error) {
      await db.destroy();
      throw error;
    }
  }
  return transactionSnapshot(metadata.db, async () => undefined);
}

async function transactionSnapshot(db: Kysely<Database>, close: () => Promise<void>): Promise<ReadSnapshot> {
  const trx = await db.startTransaction().setIsolationLevel('repeatable read').execute();
  // SQLite and InnoDB fix the snapshot at the first read, not at BEGIN.
  await sql`select count(*) from space`.execute(trx);
  let released = false;
  return {
    db: trx,
    async release() {
      if (released) return;
      released = true;
      try {
        await trx.rollback().execute();
      } finally {
        await close();
      }
    },
  };
}
