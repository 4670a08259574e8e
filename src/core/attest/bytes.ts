import { createHash } from 'node:crypto';

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Strict hex: even length, hex digits only, optional `0x`; surrounding whitespace ignored. */
export function fromHex(text: string): Uint8Array {
  const clean = text.trim().replace(/^0x/i, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new Error('not a hex string');
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export const isHexText = (text: string): boolean => /^(0x)?([0-9a-fA-F]{2})+$/i.test(text.trim());

export const sha256 = (...parts: Uint8Array[]): Uint8Array => digest('sha256', parts);
export const sha384 = (...parts: Uint8Array[]): Uint8Array => digest('sha384', parts);
export const sha512 = (...parts: Uint8Array[]): Uint8Array => digest('sha512', parts);

function digest(alg: string, parts: Uint8Array[]): Uint8Array {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

export const isAllZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);
