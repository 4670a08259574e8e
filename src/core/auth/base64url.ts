const ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Strict unpadded base64url: only the URL-safe alphabet, no `=`, and unused trailing bits must be zero, so each
 * byte string has exactly one text form (a second form of a JWS signature would defeat replay protection).
 */
export function decodeBase64UrlStrict(text: string): Uint8Array | undefined {
  if (!ALPHABET.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** base64url with or without canonical `=` padding (the CACAO header; WIRE §2.1). */
export function decodeBase64UrlPaddedOrNot(text: string): Uint8Array | undefined {
  const unpadded = text.endsWith('==') ? text.slice(0, -2) : text.endsWith('=') ? text.slice(0, -1) : text;
  if (unpadded.length !== text.length && text.length % 4 !== 0) return undefined;
  if (!ALPHABET.test(unpadded) || unpadded.length % 4 === 1) return undefined;
  const bytes = Buffer.from(unpadded, 'base64url');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export const encodeBase64Url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** Padded base64url, as the Rust SDK's `HeaderEncode` writes a CACAO. */
export function encodeBase64UrlPadded(bytes: Uint8Array): string {
  const text = encodeBase64Url(bytes);
  return text + '='.repeat((4 - (text.length % 4)) % 4);
}
