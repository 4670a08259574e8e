import type { Kysely } from 'kysely';

/**
 * Lookups a CAR export (docs/car-format.md) makes once per event or blob: the deletes of one event by
 * position, and whether a content digest is already referenced by an earlier write of the space.
 */
export function carExportIndexes() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('kv_delete_order').on('kv_delete').columns(['space', 'seq', 'epoch_seq']).execute();
      await db.schema.createIndex('kv_write_value').on('kv_write').columns(['space', 'value']).execute();
    },
  };
}
