import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * ECDSA P-256 / SHA-256 over raw r‖s signatures, as DCAP uses everywhere. OpenSSL accepts high-S signatures,
 * which Intel's signers do produce; a low-S-only verifier would reject genuine quotes.
 */
export function verifyP256(key: KeyObject, message: Uint8Array, signatureRS: Uint8Array): boolean {
  if (signatureRS.length !== 64) return false;
  try {
    return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signatureRS);
  } catch {
    return false;
  }
}

/** The quote's attestation key: the raw 64-byte x‖y of an uncompressed P-256 point. Throws if off the curve. */
export function p256KeyFromRaw(xy: Uint8Array): KeyObject {
  if (xy.length !== 64) throw new Error('attestation key must be 64 bytes');
  const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64url(xy.subarray(0, 32)), y: b64url(xy.subarray(32)) },
    format: 'jwk',
  });
}
