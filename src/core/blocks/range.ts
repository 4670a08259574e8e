import { TinyCloudError } from '../errors.js';
import type { ByteRange } from './store.js';

/** Check a requested range against a block's size: clamp `end`, refuse a start past the last byte. */
export function resolveRange(range: ByteRange, size: number): ByteRange {
  assertRangeShape(range);
  if (range.start >= size) {
    throw new TinyCloudError('RANGE_NOT_SATISFIABLE', 'Range Not Satisfiable', { size });
  }
  return { start: range.start, end: Math.min(range.end, size - 1) };
}

export function assertRangeShape(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new TinyCloudError('BAD_REQUEST', 'A byte range needs integers 0 <= start <= end');
  }
}
