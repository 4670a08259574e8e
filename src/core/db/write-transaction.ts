import type { Transaction } from 'kysely';
import { runStatement } from './prepared.js';
import type { MetadataDb } from './database.js';
import type { Database } from './schema.js';

/**
 * What a writer may leave for the end of its transaction. Items are kept per writer (a writer that fails takes
 * its items with it); each `beforeCommit` hook runs once per transaction and key, after every writer ran and
 * before COMMIT, with the items the successful writers left under its key, in writer order. A hook that throws
 * fails the whole transaction (every writer of the group sees its error).
 */
export interface WriteGroup {
  add(key: string, item: unknown): void;
  beforeCommit(key: string, hook: (trx: Transaction<Database>, items: unknown[]) => Promise<void>): void;
}

type Hook = (trx: Transaction<Database>, items: unknown[]) => Promise<void>;

/** One transaction's hooks, and the items of the writers that succeeded so far. */
class GroupState {
  readonly #hooks = new Map<string, Hook>();
  readonly #items = new Map<string, unknown[]>();

  /** The view one writer gets; its items join the transaction's only if it `keep()`s them. */
  writer(): { group: WriteGroup; keep: () => void } {
    const mine: [string, unknown][] = [];
    return {
      group: {
        add: (key, item) => void mine.push([key, item]),
        beforeCommit: (key, hook) => void (this.#hooks.has(key) || this.#hooks.set(key, hook)),
      },
      keep: () => {
        for (const [key, item] of mine) {
          const list = this.#items.get(key);
          if (list) list.push(item);
          else this.#items.set(key, [item]);
        }
      },
    };
  }

  async runHooks(trx: Transaction<Database>): Promise<void> {
    for (const [key, hook] of this.#hooks) await hook(trx, this.#items.get(key) ?? []);
  }
}

interface Writer {
  readonly fn: (trx: Transaction<Database>, group: WriteGroup) => Promise<unknown>;
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
export function writeTransaction<T>(metadata: MetadataDb, fn: (trx: Transaction<Database>, group: WriteGroup) => Promise<T>): Promise<T> {
  let queue = queues.get(metadata);
  if (!queue) queues.set(metadata, (queue = { waiting: [], running: false }));
  const ready = queue;
  return new Promise<T>((resolve, reject) => {
    ready.waiting.push({ fn, resolve: resolve as (value: unknown) => void, reject });
    if (!ready.running) {
      // Started on the next turn, so every writer that arrives in this one shares the first transaction.
      ready.running = true;
      setImmediate(() => void drain(metadata, ready));
    }
  });
}

async function drain(metadata: MetadataDb, queue: WriteQueue): Promise<void> {
  queue.running = true;
  try {
    while (queue.waiting.length > 0) {
      await metadata.betweenWrites();
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
    const value = await metadata.db.transaction().execute(async (trx) => {
      const state = new GroupState();
      const { group, keep } = state.writer();
      const result = await writer.fn(trx, group);
      keep();
      await state.runHooks(trx);
      return result;
    });
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
      const state = new GroupState();
      for (const [index, writer] of group.entries()) {
        const savepoint = `tc_writer_${index}`;
        await runStatement(trx, `savepoint ${savepoint}`);
        try {
          const { group: view, keep } = state.writer();
          const value = await writer.fn(trx, view);
          keep();
          done.push({ ok: true, value });
        } catch (error) {
          await runStatement(trx, `rollback to savepoint ${savepoint}`);
          done.push({ ok: false, error });
        }
        await runStatement(trx, `release savepoint ${savepoint}`);
      }
      await state.runHooks(trx);
      return done;
    });
  } catch (error) {
    // The shared transaction itself failed (a savepoint statement, a hook, or the commit): nothing of it was kept.
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
