/**
 * A minimal DER reader: just enough of ASN.1 to walk certificates and CRLs. node:crypto parses certificates
 * but exposes neither their extensions nor CRLs, and the PCK extension and the revocation lists are all we need.
 */
export interface DerNode {
  tag: number;
  /** The whole TLV, header included (what a signature covers). */
  raw: Uint8Array;
  /** The contents octets. */
  value: Uint8Array;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  ENUMERATED: 0x0a,
  SEQUENCE: 0x30,
  SET: 0x31,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

export class DerError extends Error {
  constructor(message: string) {
    super(`DER: ${message}`);
    this.name = 'DerError';
  }
}

/** Read one TLV at `offset`; `end` is where the next one starts. */
export function readDer(buf: Uint8Array, offset = 0): DerNode & { end: number } {
  if (offset + 2 > buf.length) throw new DerError('truncated header');
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  let length = buf[offset + 1];
  let header = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) throw new DerError('unsupported length encoding');
    if (offset + 2 + n > buf.length) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[offset + 2 + i];
    header += n;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new DerError('length runs past the end');
  return { tag, raw: buf.subarray(offset, end), value: buf.subarray(offset + header, end), end };
}

/** Parse exactly one TLV that spans the whole buffer. */
export function parseDer(buf: Uint8Array): DerNode {
  const node = readDer(buf, 0);
  if (node.end !== buf.length) throw new DerError('trailing bytes after the outer element');
  return node;
}

export function children(node: DerNode): DerNode[] {
  if (!(node.tag & 0x20)) throw new DerError(`tag 0x${node.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  let offset = 0;
  while (offset < node.value.length) {
    const child = readDer(node.value, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) throw new DerError(`expected ${what}`);
  return node;
}

export function decodeOid(node: DerNode): string {
  const v = expectTag(node, TAG.OID, 'OBJECT IDENTIFIER').value;
  if (v.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let acc = 0;
  for (const byte of v) {
    acc = acc * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

/** Unsigned big-endian integer as lowercase hex without leading zero bytes (how serials are compared). */
export function integerHex(node: DerNode): string {
  let v = expectTag(node, TAG.INTEGER, 'INTEGER').value;
  while (v.length > 1 && v[0] === 0) v = v.subarray(1);
  return Buffer.from(v).toString('hex');
}

export function integerValue(node: DerNode): number {
  const hex = integerHex(node);
  const n = Number.parseInt(hex, 16);
  if (!Number.isSafeInteger(n)) throw new DerError('integer too large');
  return n;
}

export function decodeTime(node: DerNode): Date {
  const text = Buffer.from(node.value).toString('latin1');
  let m: RegExpMatchArray | null;
  if (node.tag === TAG.UTC_TIME && (m = text.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    const yy = Number(m[1]);
    return utc(yy < 50 ? 2000 + yy : 1900 + yy, m.slice(2));
  }
  if (node.tag === TAG.GENERALIZED_TIME && (m = text.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    return utc(Number(m[1]), m.slice(2));
  }
  throw new DerError(`unsupported time ${JSON.stringify(text)}`);
}

function utc(year: number, rest: string[]): Date {
  const [mo, d, h, mi, s] = rest.map(Number);
  return new Date(Date.UTC(year, mo - 1, d, h, mi, s));
}

/** The bits of a BIT STRING with no unused bits (signatures and keys). */
export function bitStringBytes(node: DerNode): Uint8Array {
  const v = expectTag(node, TAG.BIT_STRING, 'BIT STRING').value;
  if (v.length === 0 || v[0] !== 0) throw new DerError('BIT STRING with unused bits');
  return v.subarray(1);
}
