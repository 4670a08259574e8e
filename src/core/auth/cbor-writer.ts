/** The few CBOR shapes a CACAO needs. A map is a list of entries so the caller fixes the key order. */
export type CborValue = string | number | Uint8Array | readonly CborValue[] | CborMap;
export interface CborMap {
  readonly entries: readonly (readonly [string, CborValue])[];
}

export const cborMap = (entries: readonly (readonly [string, CborValue | undefined])[]): CborMap => ({
  entries: entries.filter((e): e is readonly [string, CborValue] => e[1] !== undefined),
});

function head(major: number, length: number, out: number[]): void {
  const m = major << 5;
  if (length < 24) out.push(m | length);
  else if (length < 0x100) out.push(m | 24, length);
  else if (length < 0x10000) out.push(m | 25, length >> 8, length & 0xff);
  else if (length < 0x100000000) {
    out.push(m | 26, (length >>> 24) & 0xff, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
  }
  else throw new RangeError('CBOR item too large');
}

function write(value: CborValue, out: number[]): void {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    head(3, bytes.length, out);
    for (const b of bytes) out.push(b);
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('only unsigned integers are supported');
    head(0, value, out);
  } else if (value instanceof Uint8Array) {
    head(2, value.length, out);
    for (const b of value) out.push(b);
  } else if (Array.isArray(value)) {
    head(4, value.length, out);
    for (const item of value) write(item, out);
  } else {
    const { entries } = value as CborMap;
    head(5, entries.length, out);
    for (const [key, item] of entries) {
      write(key, out);
      write(item, out);
    }
  }
}

/** Deterministic (shortest-form) CBOR, keys in the order given. */
export function encodeCbor(value: CborValue): Uint8Array {
  const out: number[] = [];
  write(value, out);
  return Uint8Array.from(out);
}
