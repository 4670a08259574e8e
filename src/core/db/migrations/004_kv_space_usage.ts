import { sql, type Kysely } from 'kysely';
import { columnTypes, type Engine } from '../dialect.js';

/**
 * `space_usage`: the bytes of distinct blocks each space holds, kept in the same transaction as every new
 * `block` row. Quota checks read one row instead of summing a space's blocks on every write.
 */
export function kvSpaceUsage(engine: Engine) {
  const t = columnTypes(engine);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      let table = db.schema
        .createTable('space_usage')
        .addColumn('space', sql.raw(t.id), (c) => c.primaryKey())
        .addColumn('block_bytes', sql.raw(t.int), (c) => c.notNull());
      if (engine === 'mysql') table = table.modifyEnd(sql`DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await table.execute();
      await sql`insert into space_usage (space, block_bytes) select space, sum(size) from block group by space`.execute(db);
    },
  };
}
