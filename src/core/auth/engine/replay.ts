import type { Kysely } from 'kysely';
import type { Engine } from '../../db/dialect.js';
import type { Database } from '../../db/schema.js';

/** Slack past the lifetime cap before a replay row may be swept (WIRE §2.12). */
export const REPLAY_SLACK_SECS = 60;

/** `exp` clamped into `[now, now + cap + 60 s]`: a row outlives every token it can still stop. */
export const replayExpiry = (exp: number, now: number, maxLifetimeSecs: number): number =>
  Math.min(Math.max(exp, now), now + maxLifetimeSecs + REPLAY_SLACK_SECS);

/**
 * Records one use of an invocation in a single statement. Returns false when the token was already used: the
 * primary key decides, so two concurrent requests with one token cannot both pass, and the table survives
 * restarts.
 */
export async function consumeInvocation(db: Kysely<Database>, engine: Engine, contentHash: Uint8Array, expiresAt: number): Promise<boolean> {
  const insert = db.insertInto('invocation_replay').values({ content_hash: contentHash, expires_at: expiresAt });
  const result =
    engine === 'mysql'
      ? await insert.ignore().executeTakeFirst()
      : await insert.onConflict((oc) => oc.column('content_hash').doNothing()).executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Deletes rows whose tokens have expired; they can no longer be presented. */
export async function sweepReplays(db: Kysely<Database>, now: number): Promise<number> {
  const result = await db.deleteFrom('invocation_replay').where('expires_at', '<', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
