import { sql, type Kysely } from 'kysely';
import { columnTypes, type Engine } from '../dialect.js';

/**
 * `epoch_head`: the epochs of each space that no epoch names as parent, kept by triggers on `epoch` and
 * `epoch_order`, so every writer (appendEpoch, CAR import) keeps it right. Finding the heads was an anti-join
 * over all of a space's epochs on every write (O(epochs), ~1 µs each); now it is an index range read.
 */
export function epochHeads(engine: Engine) {
  const t = columnTypes(engine);
  const isHead = sql`not exists (select 1 from epoch_order o where o.space = e.space and o.parent = e.id)`;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      let table = db.schema
        .createTable('epoch_head')
        .addColumn('space', sql.raw(t.id), (c) => c.notNull())
        .addColumn('epoch', sql.raw(t.hash), (c) => c.notNull())
        .addPrimaryKeyConstraint('epoch_head_pk', ['space', 'epoch']);
      if (engine === 'mysql') table = table.modifyEnd(sql`DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await table.execute();
      await sql`insert into epoch_head (space, epoch) select e.space, e.id from epoch e where ${isHead}`.execute(db);

      // A new epoch is a head unless an order row already names it as parent (an importer may write children
      // first); a new order row ends its parent's headship.
      // MySQL needs `from dual` before a WHERE that has no table.
      const addHead = sql.raw(
        `insert into epoch_head (space, epoch) select NEW.space, NEW.id${engine === 'mysql' ? ' from dual' : ''} where not exists ` +
          '(select 1 from epoch_order o where o.space = NEW.space and o.parent = NEW.id)',
      );
      const dropHead = sql.raw('delete from epoch_head where space = NEW.space and epoch = NEW.parent');
      switch (engine) {
        case 'sqlite':
          await sql`create trigger epoch_head_on_epoch after insert on epoch begin ${addHead}; end`.execute(db);
          await sql`create trigger epoch_head_on_order after insert on epoch_order begin ${dropHead}; end`.execute(db);
          break;
        case 'postgres':
          await sql`create function epoch_head_on_epoch() returns trigger language plpgsql as $$ begin ${addHead}; return new; end $$`.execute(db);
          await sql`create function epoch_head_on_order() returns trigger language plpgsql as $$ begin ${dropHead}; return new; end $$`.execute(db);
          await sql`create trigger epoch_head_on_epoch after insert on epoch for each row execute function epoch_head_on_epoch()`.execute(db);
          await sql`create trigger epoch_head_on_order after insert on epoch_order for each row execute function epoch_head_on_order()`.execute(db);
          break;
        case 'mysql':
          await sql`create trigger epoch_head_on_epoch after insert on epoch for each row ${addHead}`.execute(db);
          await sql`create trigger epoch_head_on_order after insert on epoch_order for each row ${dropHead}`.execute(db);
          break;
      }
    },
  };
}
