import { sql, type Kysely } from 'kysely';
import { columnTypes, type Engine } from '../dialect.js';

/**
 * `invocation_replay` keyed by `(expires_at, content_hash)`. Every request inserts one row; keyed by the hash
 * alone, each insert dirtied a random index page (about 4 KiB of WAL per request once the table outgrows the
 * cache), while `expires_at` is about `now + lifetime`, so rows now land beside each other and the sweep deletes
 * a prefix. A token always gets the same `expires_at` (its own `exp`), so the pair still stops a second use.
 * SQLite stores the table as a clustered index (WITHOUT ROWID); MySQL's InnoDB clusters by primary key anyway.
 */
export function replayByExpiry(engine: Engine) {
  const t = columnTypes(engine);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      let table = db.schema
        .createTable('invocation_replay_by_expiry')
        .addColumn('content_hash', sql.raw(t.hash), (c) => c.notNull())
        .addColumn('expires_at', sql.raw(t.real), (c) => c.notNull())
        .addPrimaryKeyConstraint('invocation_replay_key', ['expires_at', 'content_hash']);
      if (engine === 'sqlite') table = table.modifyEnd(sql`without rowid`);
      await table.execute();
      await sql`insert into invocation_replay_by_expiry (content_hash, expires_at) select content_hash, expires_at from invocation_replay`.execute(db);
      await db.schema.dropTable('invocation_replay').execute();
      await db.schema.alterTable('invocation_replay_by_expiry').renameTo('invocation_replay').execute();
    },
  };
}
