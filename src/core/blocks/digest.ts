import { TinyCloudError } from '../errors.js';

export const DIGEST_BYTES = 32;

/** Base64url with `=` padding: the block file name and S3 key suffix of WIRE §4.1 (44 characters). */
export function digestToName(digest: Uint8Array): string {
  assertDigest(digest);
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength)
    .toString('base64')
    .replaceAll('+', '-')
    .replaceAll('/', '_');
}

const NAME_PATTERN = /^[A-Za-z0-9_-]{43}=$/;

/** The digest a block name stands for, or `undefined` for anything else found in storage. */
export function nameToDigest(name: string): Uint8Array | undefined {
  if (!NAME_PATTERN.test(name)) return undefined;
  const bytes = new Uint8Array(Buffer.from(name, 'base64url'));
  // Re-encoding rejects names whose last character carries stray low bits (not what we would have written).
  return bytes.length === DIGEST_BYTES && digestToName(bytes) === name ? bytes : undefined;
}

export function assertDigest(digest: Uint8Array): void {
  if (!(digest instanceof Uint8Array) || digest.length !== DIGEST_BYTES) {
    throw new TinyCloudError('BAD_REQUEST', `A block digest is ${DIGEST_BYTES} bytes`);
  }
}
