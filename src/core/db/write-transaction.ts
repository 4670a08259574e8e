import type { Transaction } from 'kysely';
import type { MetadataDb } from './database.js';
import type { Database } from './schema.js';

const queues = new WeakMap<MetadataDb, Promise<unknown>>();

/**
 * Runs `fn` in a transaction, one writer at a time per database: epochs number each space's writes
 * (seq = last + 1), so two writers must never read the same "last". Reads never wait for this.
 */
export function writeTransaction<T>(metadata: MetadataDb, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  const previous = queues.get(metadata) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => metadata.db.transaction().execute(fn));
  queues.set(metadata, run.catch(() => undefined));
  return run;
}
