import { sha512, toHex } from './bytes.js';

/**
 * Report data that binds a quote to a node and a verifier's nonce (docs/attestation.md):
 *
 *   report_data = SHA-512("tinycloud/attestation/v1" ‖ 0x00 ‖ UTF-8(node DID) ‖ 0x00 ‖ UTF-8(nonce))
 *
 * SHA-512 fills the 64-byte TDX REPORTDATA exactly. The NUL separators keep the encoding unambiguous: DIDs
 * contain no NUL and nonces are restricted to URL-safe characters. The version lives in the tag, so a
 * future binding cannot be confused with this one.
 */
export const BINDING_TAG = 'tinycloud/attestation/v1';
export const NONCE_PATTERN = /^[A-Za-z0-9._~-]{0,256}$/;

export function isValidNonce(nonce: string): boolean {
  return NONCE_PATTERN.test(nonce);
}

export function bindingReportData(nodeDid: string, nonce: string): Uint8Array {
  if (!isValidNonce(nonce)) throw new Error('nonce must be at most 256 URL-safe characters [A-Za-z0-9._~-]');
  if (nodeDid.includes('\0') || !nodeDid.startsWith('did:')) throw new Error('node DID must be a did: URI');
  const nul = Buffer.of(0);
  return sha512(Buffer.from(BINDING_TAG, 'utf8'), nul, Buffer.from(nodeDid, 'utf8'), nul, Buffer.from(nonce, 'utf8'));
}

export const bindingReportDataHex = (nodeDid: string, nonce: string): string => toHex(bindingReportData(nodeDid, nonce));
