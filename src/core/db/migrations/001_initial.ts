import { sql, type Kysely, type CreateTableBuilder } from 'kysely';
import { columnTypes, type Engine } from '../dialect.js';

/** Every table later services fill: identity, delegations, invocations, revocations, epochs, KV, blocks, quotas. */
export function initialSchema(engine: Engine) {
  const t = columnTypes(engine);
  const col = (name: string) => sql.raw(name);
  // MySQL compares strings case-insensitively by default; DIDs, keys and space ids are case-sensitive.
  const finish = <N extends string, C extends string>(table: CreateTableBuilder<N, C>) =>
    engine === 'mysql' ? table.modifyEnd(sql`DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`) : table;

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const table = (name: string) => db.schema.createTable(name);
      await finish(table('space').addColumn('id', col(t.id), (c) => c.primaryKey()).addColumn('created_at', col(t.real), (c) => c.notNull())).execute();
      await finish(table('actor').addColumn('id', col(t.id), (c) => c.primaryKey())).execute();
      await finish(
        table('delegation')
          .addColumn('id', col(t.hash), (c) => c.primaryKey())
          .addColumn('delegator', col(t.id), (c) => c.notNull())
          .addColumn('delegatee', col(t.id), (c) => c.notNull())
          .addColumn('expiry', col(t.real))
          .addColumn('not_before', col(t.real))
          .addColumn('issued_at', col(t.real))
          .addColumn('facts', col(t.text))
          .addColumn('terminal', col(t.int), (c) => c.notNull().defaultTo(0))
          .addColumn('serialization', col(t.bytes), (c) => c.notNull())
          .addColumn('received_at', col(t.real), (c) => c.notNull()),
      ).execute();
      await db.schema.createIndex('delegation_delegatee').on('delegation').column('delegatee').execute();
      await db.schema.createIndex('delegation_delegator').on('delegation').column('delegator').execute();
      await finish(
        table('invocation')
          .addColumn('id', col(t.hash), (c) => c.primaryKey())
          .addColumn('invoker', col(t.id), (c) => c.notNull())
          .addColumn('issued_at', col(t.real), (c) => c.notNull())
          .addColumn('expiry', col(t.real))
          .addColumn('facts', col(t.text))
          .addColumn('serialization', col(t.bytes), (c) => c.notNull()),
      ).execute();
      await finish(
        table('revocation')
          .addColumn('id', col(t.hash), (c) => c.primaryKey())
          .addColumn('revoker', col(t.id), (c) => c.notNull())
          .addColumn('revoked', col(t.hash), (c) => c.notNull())
          .addColumn('serialization', col(t.bytes), (c) => c.notNull())
          .addColumn('revoked_at', col(t.real), (c) => c.notNull()),
      ).execute();
      await db.schema.createIndex('revocation_revoked').on('revocation').column('revoked').execute();
      await finish(
        table('ability')
          .addColumn('delegation', col(t.hash), (c) => c.notNull())
          .addColumn('resource', col(t.text), (c) => c.notNull())
          .addColumn('ability', col(t.id), (c) => c.notNull())
          .addColumn('caveats', col(t.text), (c) => c.notNull()),
      ).execute();
      await db.schema.createIndex('ability_delegation').on('ability').column('delegation').execute();
      await finish(
        table('parent_delegation')
          .addColumn('parent', col(t.hash), (c) => c.notNull())
          .addColumn('child', col(t.hash), (c) => c.notNull())
          .addPrimaryKeyConstraint('parent_delegation_pk', ['parent', 'child']),
      ).execute();
      await db.schema.createIndex('parent_delegation_child').on('parent_delegation').column('child').execute();
      await finish(
        table('invoked_ability')
          .addColumn('invocation', col(t.hash), (c) => c.notNull())
          .addColumn('resource', col(t.text), (c) => c.notNull())
          .addColumn('ability', col(t.id), (c) => c.notNull()),
      ).execute();
      await db.schema.createIndex('invoked_ability_invocation').on('invoked_ability').column('invocation').execute();
      await finish(
        table('epoch')
          .addColumn('id', col(t.hash), (c) => c.notNull())
          .addColumn('space', col(t.id), (c) => c.notNull())
          .addColumn('seq', col(t.int), (c) => c.notNull())
          .addPrimaryKeyConstraint('epoch_pk', ['space', 'id']),
      ).execute();
      await db.schema.createIndex('epoch_space_seq').on('epoch').columns(['space', 'seq']).execute();
      await finish(
        table('epoch_order')
          .addColumn('parent', col(t.hash), (c) => c.notNull())
          .addColumn('child', col(t.hash), (c) => c.notNull())
          .addColumn('space', col(t.id), (c) => c.notNull())
          .addPrimaryKeyConstraint('epoch_order_pk', ['space', 'parent', 'child']),
      ).execute();
      await db.schema.createIndex('epoch_order_child').on('epoch_order').columns(['space', 'child']).execute();
      await finish(
        table('event_order')
          .addColumn('event', col(t.hash), (c) => c.notNull())
          .addColumn('space', col(t.id), (c) => c.notNull())
          .addColumn('seq', col(t.int), (c) => c.notNull())
          .addColumn('epoch', col(t.hash), (c) => c.notNull())
          .addColumn('epoch_seq', col(t.int), (c) => c.notNull())
          .addColumn('kind', col(t.id), (c) => c.notNull())
          .addPrimaryKeyConstraint('event_order_pk', ['space', 'event']),
      ).execute();
      await db.schema.createIndex('event_order_seq').on('event_order').columns(['space', 'seq', 'epoch_seq']).execute();
      await finish(
        table('kv_write')
          .addColumn('space', col(t.id), (c) => c.notNull())
          .addColumn('key', col(t.key), (c) => c.notNull())
          .addColumn('invocation', col(t.hash), (c) => c.notNull())
          .addColumn('seq', col(t.int), (c) => c.notNull())
          .addColumn('epoch', col(t.hash), (c) => c.notNull())
          .addColumn('epoch_seq', col(t.int), (c) => c.notNull())
          .addColumn('value', col(t.hash), (c) => c.notNull())
          .addColumn('size', col(t.int), (c) => c.notNull())
          .addColumn('metadata', col(t.text), (c) => c.notNull())
          .addColumn('writer', col(t.id), (c) => c.notNull())
          .addColumn('written_at', col(t.real), (c) => c.notNull())
          .addPrimaryKeyConstraint('kv_write_pk', ['space', 'key', 'invocation']),
      ).execute();
      await db.schema.createIndex('kv_write_order').on('kv_write').columns(['space', 'seq', 'epoch_seq']).execute();
      await finish(
        table('kv_delete')
          .addColumn('space', col(t.id), (c) => c.notNull())
          .addColumn('key', col(t.key), (c) => c.notNull())
          .addColumn('invocation', col(t.hash), (c) => c.notNull())
          .addColumn('seq', col(t.int), (c) => c.notNull())
          .addColumn('epoch', col(t.hash), (c) => c.notNull())
          .addColumn('epoch_seq', col(t.int), (c) => c.notNull())
          .addColumn('deleted_invocation', col(t.hash))
          .addColumn('writer', col(t.id), (c) => c.notNull())
          .addColumn('deleted_at', col(t.real), (c) => c.notNull())
          .addPrimaryKeyConstraint('kv_delete_pk', ['space', 'key', 'invocation']),
      ).execute();
      await finish(
        table('current_kv')
          .addColumn('space', col(t.id), (c) => c.notNull())
          .addColumn('key', col(t.key), (c) => c.notNull())
          .addColumn('invocation', col(t.hash), (c) => c.notNull())
          .addColumn('seq', col(t.int), (c) => c.notNull())
          .addColumn('epoch', col(t.hash), (c) => c.notNull())
          .addColumn('epoch_seq', col(t.int), (c) => c.notNull())
          .addColumn('value', col(t.hash))
          .addColumn('size', col(t.int), (c) => c.notNull())
          .addColumn('metadata', col(t.text), (c) => c.notNull())
          .addColumn('deleted', col(t.int), (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('current_kv_pk', ['space', 'key']),
      ).execute();
      await finish(
        table('block')
          .addColumn('space', col(t.id), (c) => c.notNull())
          .addColumn('digest', col(t.hash), (c) => c.notNull())
          .addColumn('size', col(t.int), (c) => c.notNull())
          .addColumn('created_at', col(t.real), (c) => c.notNull())
          .addPrimaryKeyConstraint('block_pk', ['space', 'digest']),
      ).execute();
      await finish(
        table('invocation_replay')
          .addColumn('content_hash', col(t.hash), (c) => c.primaryKey())
          .addColumn('expires_at', col(t.real), (c) => c.notNull()),
      ).execute();
      await db.schema.createIndex('invocation_replay_expiry').on('invocation_replay').column('expires_at').execute();
      await finish(
        table('quota_override')
          .addColumn('space', col(t.id), (c) => c.primaryKey())
          .addColumn('limit_bytes', col(t.int), (c) => c.notNull()),
      ).execute();
      await finish(
        table('signed_kv_ticket')
          .addColumn('id', col(t.id), (c) => c.primaryKey())
          .addColumn('space', col(t.id), (c) => c.notNull())
          .addColumn('path', col(t.text), (c) => c.notNull())
          .addColumn('subject', col(t.id), (c) => c.notNull())
          .addColumn('etag', col(t.id), (c) => c.notNull())
          .addColumn('content_hash', col(t.hash), (c) => c.notNull())
          .addColumn('created_at', col(t.real), (c) => c.notNull())
          .addColumn('expires_at', col(t.real), (c) => c.notNull()),
      ).execute();
      await finish(
        table('sql_database')
          .addColumn('space', col(t.id), (c) => c.notNull())
          .addColumn('name', col(t.id), (c) => c.notNull())
          .addColumn('size_bytes', col(t.int), (c) => c.notNull())
          .addColumn('created_at', col(t.real), (c) => c.notNull())
          .addColumn('updated_at', col(t.real), (c) => c.notNull())
          .addPrimaryKeyConstraint('sql_database_pk', ['space', 'name']),
      ).execute();
    },
  };
}
