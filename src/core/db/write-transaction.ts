import { sql, type Transaction } from 'kysely';
import type { MetadataDb } from './database.js';
import type { Database } from './schema.js';

interface Writer {
  readonly fn: (trx: Transaction<Database>) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface WriteQueue {
  waiting: Writer[];
  running: boolean;
}

/** Writers per transaction: bounds how long one commit keeps the others (and the node's reads) waiting. */
const MAX_GROUP = 64;

const queues = new WeakMap<MetadataDb, WriteQueue>();

/**
 * Runs `fn` in a transaction, one writer at a time per database: epochs number each space's writes
 * (seq = last + 1), so two writers must never read the same "last". Reads never wait for this.
 *
 * Group commit: writers that queued up while a transaction ran share the next one, each in a savepoint of its
 * own, run one after the other. A writer that throws is rolled back to its savepoint and alone sees its error;
 * every writer's promise settles only after the shared COMMIT, so none is answered before its rows are as
 * durable as they would be in a transaction of its own. A commit costs more than the few rows of a KV put, so
 * concurrent writers pay for one between them.
 */
export function writeTransaction<T>(metadata: MetadataDb, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  let queue = queues.get(metadata);
  if (!queue) queues.set(metadata, (queue = { waiting: [], running: false }));
  const ready = queue;
  return new Promise<T>((resolve, reject) => {
    ready.waiting.push({ fn, resolve: resolve as (value: unknown) => void, reject });
    if (!ready.running) void drain(metadata, ready);
  });
}

async function drain(metadata: MetadataDb, queue: WriteQueue): Promise<void> {
  queue.running = true;
  try {
    while (queue.waiting.length > 0) {
      metadata.betweenWrites();
      const group = queue.waiting.splice(0, MAX_GROUP);
      if (group.length === 1) await runAlone(metadata, group[0] as Writer);
      else await runGroup(metadata, group);
    }
  } finally {
    queue.running = false;
  }
}

async function runAlone(metadata: MetadataDb, writer: Writer): Promise<void> {
  try {
    const value = await metadata.db.transaction().execute(writer.fn);
    metadata.wrote();
    writer.resolve(value);
  } catch (error) {
    writer.reject(error);
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

async function runGroup(metadata: MetadataDb, group: Writer[]): Promise<void> {
  let outcomes: Outcome[];
  try {
    outcomes = await metadata.db.transaction().execute(async (trx) => {
      const done: Outcome[] = [];
      for (const [index, writer] of group.entries()) {
        const savepoint = sql.raw(`tc_writer_${index}`);
        await sql`savepoint ${savepoint}`.execute(trx);
        try {
          const value = await writer.fn(trx);
          done.push({ ok: true, value });
        } catch (error) {
          await sql`rollback to savepoint ${savepoint}`.execute(trx);
          done.push({ ok: false, error });
        }
        await sql`release savepoint ${savepoint}`.execute(trx);
      }
      return done;
    });
  } catch (error) {
    // The shared transaction itself failed (a savepoint statement, or the commit): nothing of it was kept.
    for (const writer of group) writer.reject(error);
    return;
  }
  metadata.wrote();
  outcomes.forEach((outcome, index) => {
    const writer = group[index] as Writer;
    if (outcome.ok) writer.resolve(outcome.value);
    else writer.reject(outcome.error);
  });
}
