import type { Kysely } from 'kysely';
import type { Engine } from '../../db/dialect.js';
import type { Database } from '../../db/schema.js';

/** Slack past the lifetime cap before a replay row may be swept (WIRE §2.12). */
export const REPLAY_SLACK_SECS = 60;

/** `exp` clamped into `[now, now + cap + 60 s]`: a row outlives every token it can still stop. */
export const replayExpiry = (exp: number, now: number, maxLifetimeSecs: number): number =>
  Math.min(Math.max(exp, now), now + maxLifetimeSecs + REPLAY_SLACK_SECS);

interface PendingUse {
  readonly contentHash: Uint8Array;
  readonly expiresAt: number;
  readonly resolve: (fresh: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** Rows per INSERT: two parameters each, far below every engine's bound-parameter limit. */
const MAX_BATCH = 256;

const pending = new Map<Kysely<Database>, PendingUse[]>();

/**
 * Records one use of an invocation. Resolves false when the token was already used: the primary key
 * `(expires_at, content_hash)` decides, so two concurrent requests with one token cannot both pass, and the table
 * survives restarts. `expiresAt` must depend on the token alone (its `exp`; `replayExpiry` of an admitted token
 * is its `exp`), or a second use could get a key of its own.
 *
 * Uses arriving in one turn of the event loop are written by one `INSERT … ON CONFLICT DO NOTHING RETURNING`
 * (group commit): every caller resolves only after that statement committed, so a request is answered no
 * earlier, and no less durably, than with a statement of its own. MySQL has no RETURNING and keeps one
 * `INSERT IGNORE` per use.
 */
export function consumeInvocation(db: Kysely<Database>, engine: Engine, contentHash: Uint8Array, expiresAt: number): Promise<boolean> {
  if (engine === 'mysql') return insertIgnore(db, contentHash, expiresAt);
  return new Promise((resolve, reject) => {
    const queue = pending.get(db);
    if (queue) queue.push({ contentHash, expiresAt, resolve, reject });
    else {
      pending.set(db, [{ contentHash, expiresAt, resolve, reject }]);
      setImmediate(() => void flush(db));
    }
  });
}

async function insertIgnore(db: Kysely<Database>, contentHash: Uint8Array, expiresAt: number): Promise<boolean> {
  const result = await db.insertInto('invocation_replay').values({ content_hash: contentHash, expires_at: expiresAt }).ignore().executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

const keyOf = (hash: Uint8Array): string => Buffer.from(hash).toString('hex');

async function flush(db: Kysely<Database>): Promise<void> {
  const uses = pending.get(db) ?? [];
  pending.delete(db);
  for (let start = 0; start < uses.length; start += MAX_BATCH) {
    const batch = uses.slice(start, start + MAX_BATCH);
    // One token twice in a batch: the first use may be fresh, every later one is a replay.
    const first = new Map<string, PendingUse>();
    for (const use of batch) if (!first.has(keyOf(use.contentHash))) first.set(keyOf(use.contentHash), use);
    try {
      const rows = await db
        .insertInto('invocation_replay')
        .values([...first.values()].map((u) => ({ content_hash: u.contentHash, expires_at: u.expiresAt })))
        .onConflict((oc) => oc.doNothing())
        .returning('content_hash')
        .execute();
      const inserted = new Set(rows.map((r) => keyOf(r.content_hash)));
      for (const use of batch) use.resolve(first.get(keyOf(use.contentHash)) === use && inserted.has(keyOf(use.contentHash)));
    } catch (error) {
      for (const use of batch) use.reject(error);
    }
  }
}

/** Deletes rows whose tokens have expired; they can no longer be presented. */
export async function sweepReplays(db: Kysely<Database>, now: number): Promise<number> {
  const result = await db.deleteFrom('invocation_replay').where('expires_at', '<', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
