import type { Readable } from 'node:stream';
import type { Kysely, Transaction } from 'kysely';
import { resolveRange } from '../../blocks/range.js';
import { SMALL_BLOCK_BYTES, type BlockStore, type ByteRange } from '../../blocks/store.js';
import { prepared } from '../../db/prepared.js';
import type { Database } from '../../db/schema.js';

/**
 * KV values up to this size that were staged in memory are stored in their `block` row (`block.inline`), in the
 * transaction that records their version, instead of in the block store: a new local block costs two fsyncs
 * and an S3 block a request, far more than the row. Larger values go to the block store.
 */
export const INLINE_VALUE_BYTES = 16 * 1024;

/** Where the bytes of a value are: inline (read with its row), or in the block store under (space, digest). */
export interface StoredValue {
  space: string;
  digest: Uint8Array;
  size: number;
  /** `block.inline`: the bytes themselves; undefined when they live in the block store. */
  inline?: Uint8Array;
}

/**
 * The bytes of a stored value, or one range of them: inline bytes as they are (a range is a view of them), a
 * small value read whole from the block store, anything else streamed. Undefined when the block store has no
 * such block; a range starting past the end throws `RANGE_NOT_SATISFIABLE`.
 */
export async function openValue(blocks: BlockStore, value: StoredValue, range?: ByteRange): Promise<Uint8Array | Readable | undefined> {
  const { inline } = value;
  if (inline) {
    if (!range) return inline;
    const { start, end } = resolveRange(range, inline.length);
    return inline.subarray(start, end + 1);
  }
  if (!range && value.size <= SMALL_BLOCK_BYTES && blocks.readSmall) return blocks.readSmall(value.space, value.digest, value.size);
  return blocks.get(value.space, value.digest, range);
}

type Db = Kysely<Database> | Transaction<Database>;

const blockRowQuery = prepared((db, space: string, digest: Uint8Array) =>
  db.selectFrom('block').select(['size', 'inline']).where('space', '=', space).where('digest', '=', digest),
);

/** The `block` row of (space, digest): its size and inline bytes. Undefined when the space holds no such block. */
export async function blockRow(db: Db, space: string, digest: Uint8Array): Promise<{ size: number; inline?: Uint8Array } | undefined> {
  const [row] = (await blockRowQuery(db, space, digest)).rows;
  return row && { size: Number(row.size), inline: row.inline ?? undefined };
}

/** Whether the bytes of (space, digest) are on this node: a `block` row, and the bytes inline or in the store. */
export async function holdsValue(db: Db, blocks: BlockStore, space: string, digest: Uint8Array): Promise<boolean> {
  const row = await blockRow(db, space, digest);
  return row !== undefined && (row.inline !== undefined || (await blocks.has(space, digest)));
}
