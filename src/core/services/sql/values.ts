import { TinyCloudError } from '../../errors.js';

/** A value as SQLite binds it: INTEGER as bigint (exact i64), REAL as number, TEXT, BLOB, NULL. */
export type SqlBindValue = null | bigint | number | string | Buffer;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/**
 * JSON → SQLite (WIRE §5): null; integers as INTEGER (they must be exact in JSON, i.e. within ±2^53: a larger
 * one has already lost digits in the JSON parser and is refused rather than stored wrong); other numbers as
 * REAL; strings; byte arrays (0–255) as BLOB; booleans as 0/1.
 */
export function toBindValue(value: unknown, position: number): SqlBindValue {
  if (value === null) return null;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') {
    if (value < I64_MIN || value > I64_MAX) throw badParam(position, 'integer outside the signed 64-bit range');
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw badParam(position, 'not a finite number');
    if (Number.isInteger(value)) {
      if (!Number.isSafeInteger(value)) throw badParam(position, 'integer beyond ±2^53 cannot be sent exactly as a JSON number; send it as a string');
      return BigInt(value);
    }
    return value;
  }
  if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return Buffer.from(value as number[]);
  throw badParam(position, 'must be null, a number, a string, a boolean or an array of bytes');
}

export function toBindValues(params: unknown): SqlBindValue[] {
  if (params === undefined || params === null) return [];
  if (!Array.isArray(params)) throw new TinyCloudError('BAD_REQUEST', 'params must be an array');
  return params.map((value, i) => toBindValue(value, i));
}

const badParam = (position: number, why: string) => new TinyCloudError('BAD_REQUEST', `params[${position}]: ${why}`);

/** SQLite → JSON text: exact integers, REALs keep a fractional part (`1.0`), blobs as byte arrays. */
export function encodeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'null';
    return Number.isInteger(value) && Math.abs(value) < 1e21 ? `${value}.0` : JSON.stringify(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array) return `[${value.join(',')}]`;
  return JSON.stringify(value);
}

export const DEFAULT_RESPONSE_CAP = 10 * 1024 * 1024;

/** Builds a JSON response and fails with 413 as soon as it would pass `cap` bytes. */
export class CappedJson {
  readonly #parts: string[] = [];
  #bytes = 0;

  constructor(private readonly cap: number) {}

  /**
   * Fail before encoding a row that cannot fit: a 300 MB `zeroblob` would otherwise be joined into a string
   * past V8's limit, blocking the event loop for seconds first. A blob takes at least two bytes per byte
   * (`0,`), a string one per character.
   */
  reserve(row: readonly unknown[]): void {
    let floor = this.#bytes;
    for (const value of row) floor += value instanceof Uint8Array ? value.length * 2 : typeof value === 'string' ? value.length : 1;
    if (floor > this.cap) throw new TinyCloudError('TOO_LARGE', `Response too large: more than ${this.cap} bytes`);
  }

  push(text: string): void {
    this.#bytes += Buffer.byteLength(text);
    if (this.#bytes > this.cap) {
      throw new TinyCloudError('TOO_LARGE', `Response too large: more than ${this.cap} bytes`);
    }
    this.#parts.push(text);
  }

  toString(): string {
    return this.#parts.join('');
  }
}
