import type { Kysely, Transaction } from 'kysely';
import { TinyCloudError } from '../../errors.js';
import { prepared } from '../../db/prepared.js';
import type { Database } from '../../db/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface SpaceUsage {
  space: string;
  usedBytes: number;
  /** `null` = unlimited. */
  limitBytes: number | null;
  /** Whether `limitBytes` comes from an admin override rather than `storage.limit`. */
  override: boolean;
}

// Every put reads these: compiled once (src/core/db/prepared.ts).
const overrideQuery = prepared((db, space: string) => db.selectFrom('quota_override').select('limit_bytes').where('space', '=', space));
const blockBytesQuery = prepared((db, space: string) => db.selectFrom('space_usage').select('block_bytes').where('space', '=', space));
const databaseBytesQuery = prepared((db, space: string) =>
  db
    .selectFrom('sql_database')
    .select((eb) => eb.fn.sum<number | string | null>('size_bytes').as('total'))
    .where('space', '=', space),
);

/** What a write is admitted against: the limit, and the usage only where there is a limit to compare it with. */
export type Admission = SpaceUsage | { space: string; usedBytes?: undefined; limitBytes: null; override: boolean };

/**
 * Per-space storage quotas (WIRE §4.2). The effective limit is the admin override when one is set, else
 * `storage.limit`; 0 means unlimited in both places. Usage is every distinct block the space holds (deletes
 * are logical and never give bytes back) plus its SQL databases.
 */
export class Quotas {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly defaultLimit: number | null,
  ) {}

  async limitOf(space: string, db: Db = this.db): Promise<{ limitBytes: number | null; override: boolean }> {
    const [row] = (await overrideQuery(db, space)).rows;
    if (row) return { limitBytes: Number(row.limit_bytes) || null, override: true };
    return { limitBytes: this.defaultLimit || null, override: false };
  }

  async usedBytes(space: string, db: Db = this.db): Promise<number> {
    const [blocks, databases] = await Promise.all([blockBytesQuery(db, space), databaseBytesQuery(db, space)]);
    return Number(blocks.rows[0]?.block_bytes ?? 0) + Number(databases.rows[0]?.total ?? 0);
  }

  async usage(space: string, db: Db = this.db): Promise<SpaceUsage> {
    const [usedBytes, limit] = await Promise.all([this.usedBytes(space, db), this.limitOf(space, db)]);
    return { space, usedBytes, ...limit };
  }

  /** `usage`, without reading the usage of a space that has no limit (every write asks). */
  async admission(space: string, db: Db = this.db): Promise<Admission> {
    const limit = await this.limitOf(space, db);
    if (limit.limitBytes === null) return { space, limitBytes: null, override: limit.override };
    return { space, usedBytes: await this.usedBytes(space, db), ...limit };
  }

  /** Every space the node knows of (hosted, holding blocks, or with an override), with its usage. */
  async allUsage(): Promise<SpaceUsage[]> {
    const [spaces, blocks, databases, overrides] = await Promise.all([
      this.db.selectFrom('space').select('id').execute(),
      this.db.selectFrom('space_usage').select(['space', 'block_bytes as total']).execute(),
      this.db.selectFrom('sql_database').select(['space', (eb) => eb.fn.sum<number | string>('size_bytes').as('total')]).groupBy('space').execute(),
      this.db.selectFrom('quota_override').select(['space', 'limit_bytes']).execute(),
    ]);
    const used = new Map<string, number>();
    for (const row of [...blocks, ...databases]) used.set(row.space, (used.get(row.space) ?? 0) + Number(row.total));
    const overridden = new Map(overrides.map((o) => [o.space, Number(o.limit_bytes)]));
    const names = new Set([...spaces.map((s) => s.id), ...used.keys(), ...overridden.keys()]);
    return [...names].sort().map((space) => {
      const override = overridden.get(space);
      return {
        space,
        usedBytes: used.get(space) ?? 0,
        limitBytes: override !== undefined ? override || null : this.defaultLimit || null,
        override: override !== undefined,
      };
    });
  }

  async setOverride(space: string, limitBytes: number): Promise<void> {
    if (!Number.isSafeInteger(limitBytes) || limitBytes < 0) {
      throw new TinyCloudError('BAD_REQUEST', 'limit_bytes must be a non-negative integer (0 = unlimited)');
    }
    await this.db.transaction().execute(async (trx) => {
      const updated = await trx.updateTable('quota_override').set({ limit_bytes: limitBytes }).where('space', '=', space).executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0 && !(await trx.selectFrom('quota_override').select('space').where('space', '=', space).executeTakeFirst())) {
        await trx.insertInto('quota_override').values({ space, limit_bytes: limitBytes }).execute();
      }
    });
  }

  /** Returns whether there was an override to remove. */
  async clearOverride(space: string): Promise<boolean> {
    const result = await this.db.deleteFrom('quota_override').where('space', '=', space).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

/** 402 when a space is already at or over its limit (WIRE §4.2; the SDK parses the numbers). */
export function quotaExhausted(usage: SpaceUsage): TinyCloudError {
  return new TinyCloudError(
    'QUOTA_EXHAUSTED',
    `Storage quota exceeded. Used: ${usage.usedBytes} bytes, Limit: ${usage.limitBytes} bytes`,
  );
}

/** 413 when this write would take the space past its limit. */
export function quotaWouldExceed(usage: SpaceUsage): TinyCloudError {
  return new TinyCloudError(
    'QUOTA_EXCEEDED',
    `Write exceeds remaining storage. Used: ${usage.usedBytes} bytes, Limit: ${usage.limitBytes} bytes`,
  );
}
