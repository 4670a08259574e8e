import type { Readable } from 'node:stream';

/**
 * Bytes to store. A `Readable` (an HTTP request body, a file) is read but never destroyed: when a write is
 * refused half way, the caller decides what happens to the rest of the body.
 */
export type BlockSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable;

export interface WriteLimit {
  /** Refuse the write as soon as more than this many bytes have streamed in. */
  maxBytes?: number;
  /**
   * The error to raise when `maxBytes` is passed: `QUOTA_EXCEEDED` when the limit is the space's remaining
   * quota, `TOO_LARGE` (the default) when it is a body-size cap. Both map to 413.
   */
  exceedCode?: 'QUOTA_EXCEEDED' | 'TOO_LARGE';
  /** The length the body announced (Content-Length), if any: a hint for where to stage it, never trusted. */
  expectedBytes?: number;
}

export interface BlockRef {
  /** Plain BLAKE3-256 of the content, 32 bytes. */
  digest: Uint8Array;
  size: number;
}

export interface PutResult extends BlockRef {
  /** False when this space already held the same content (nothing new was written). */
  created: boolean;
}

/** Inclusive byte offsets, as in an HTTP `Range` header; `end` past the last byte is clamped to it. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A body that has been streamed in and hashed but is not yet a block: nobody can read it through the store.
 *
 * Typical write: `stage` → open the DB transaction, check preconditions and quota against `digest`/`size` →
 * `persist()` → commit. Persisting before the commit means a crash leaves at most an unreferenced block
 * (collectable later) rather than a committed row pointing at a block that never arrived; WIRE §4.1 persists
 * after the commit, which this interface also allows. Call `discard()` on every path that does not persist.
 */
export interface StagedBlock extends BlockRef {
  /** Make the block visible in its space. Atomic: readers see all of it or nothing. Idempotent. */
  persist(): Promise<PutResult>;
  /** Release the staged bytes. A no-op after `persist()` or a previous `discard()`. */
  discard(): Promise<void>;
  /**
   * The whole content, when it is held in memory and at most `max` bytes: for a caller that stores small
   * content elsewhere instead of persisting it. Undefined otherwise (staged to a file, larger, already
   * persisted or discarded). Not a copy when the body arrived in one chunk, so the caller must not modify it.
   */
  inlineBytes(max: number): Uint8Array | undefined;
}

/** Blocks up to this size may be read whole with `readSmall`. */
export const SMALL_BLOCK_BYTES = 64 * 1024;

/**
 * Content-addressed block storage, per space. Blocks are immutable and never deleted (deletes are logical,
 * WIRE §4.1); identical content in one space is stored once. `space` is a full SpaceId
 * (`tinycloud:<did-suffix>:<name>`); anything that is not one is refused with `INVALID_SPACE_ID`.
 */
export interface BlockStore {
  /** Stream `source` into staging while hashing it. Past `limit.maxBytes` it throws and keeps nothing. */
  stage(space: string, source: BlockSource, limit?: WriteLimit): Promise<StagedBlock>;
  /** `stage` then `persist`, for writers that have no transaction to wait for. */
  put(space: string, source: BlockSource, limit?: WriteLimit): Promise<PutResult>;
  /**
   * Stream a block, or a byte range of it. `undefined` when the space holds no such block; a range that
   * starts past the last byte throws `RANGE_NOT_SATISFIABLE`.
   */
  get(space: string, digest: Uint8Array, range?: ByteRange): Promise<Readable | undefined>;
  /**
   * A whole block of at most SMALL_BLOCK_BYTES, of a size the caller already knows (from its own rows), in memory: for small values, where
   * a stream costs more than the bytes. `undefined` when absent. Optional: a store without a cheaper path
   * than `get` leaves it out.
   */
  readSmall?(space: string, digest: Uint8Array, size: number): Promise<Uint8Array | undefined>;
  has(space: string, digest: Uint8Array): Promise<boolean>;
  /** Size in bytes, or `undefined` when absent. */
  size(space: string, digest: Uint8Array): Promise<number | undefined>;
  /** Every block digest of a space, in no particular order (for export and sweeps). */
  list(space: string): AsyncIterable<Uint8Array>;
  /** Release clients and staging space. Staged blocks not yet persisted are lost. */
  close(): Promise<void>;
}
