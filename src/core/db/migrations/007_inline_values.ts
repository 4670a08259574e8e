import { sql, type Kysely } from 'kysely';
import { columnTypes, type Engine } from '../dialect.js';

/**
 * `block.inline`: the bytes of a small KV value, kept in its block row instead of the block store. Writing them
 * in the transaction that records the version costs no file, no fsync and no S3 request, and the row is exactly
 * as durable as the version that points at it. NULL: the bytes are in the block store (every block written
 * before this migration).
 */
export function inlineValues(engine: Engine) {
  const t = columnTypes(engine);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('block').addColumn('inline', sql.raw(t.bytes)).execute();
    },
  };
}
