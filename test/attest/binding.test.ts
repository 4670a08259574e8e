import { createHash } from 'node:crypto';
import { expect, test } from 'vitest';
import { BINDING_TAG, bindingReportData, bindingReportDataHex, isValidNonce } from '../../src/core/attest/binding.js';

const did = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';

test('report data is SHA-512 over the versioned tag, the node DID and the nonce, NUL-separated: 64 bytes', () => {
  const expected = createHash('sha512').update(`${BINDING_TAG}\0${did}\0n-1`).digest('hex');
  expect(bindingReportDataHex(did, 'n-1')).toBe(expected);
  expect(bindingReportData(did, 'n-1').length).toBe(64);
  expect(BINDING_TAG).toBe('tinycloud/attestation/v1');
});

test('different DIDs or nonces give different report data', () => {
  expect(bindingReportDataHex(did, 'a')).not.toBe(bindingReportDataHex(did, 'b'));
  expect(bindingReportDataHex(did, 'a')).not.toBe(bindingReportDataHex(`${did}x`, 'a'));
});

test('nonces are at most 256 URL-safe characters', () => {
  expect(isValidNonce('')).toBe(true);
  expect(isValidNonce('A-z_0.9~')).toBe(true);
  expect(isValidNonce('a'.repeat(257))).toBe(false);
  for (const bad of ['a b', 'a\0b', 'é', 'a/b', 'a:b']) expect(isValidNonce(bad), bad).toBe(false);
  expect(() => bindingReportData(did, 'a:b')).toThrow(/nonce/);
  expect(() => bindingReportData('not-a-did', 'a')).toThrow(/DID/);
});
