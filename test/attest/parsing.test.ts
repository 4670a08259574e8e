import { describe, expect, test } from 'vitest';
import { toHex } from '../../src/core/attest/bytes.js';
import { certsFromPem, INTEL_ROOT } from '../../src/core/attest/certs.js';
import { parseCrl } from '../../src/core/attest/crl.js';
import { decodeTime, parseDer, readDer } from '../../src/core/attest/der.js';
import { p256KeyFromRaw, verifyP256 } from '../../src/core/attest/ecdsa.js';
import { decodeQuoteInput, QuoteInputError } from '../../src/core/attest/input.js';
import { INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256 } from '../../src/core/attest/intel-root.js';
import { readPckExtension } from '../../src/core/attest/pck-extension.js';
import { parseQuote } from '../../src/core/attest/quote.js';
import { rawJsonMember } from '../../src/core/attest/raw-json.js';
import { readVector, readVectorText } from '../support/vectors.js';
import { collateral, quoteBytes } from './support.js';

describe('quote parsing by length fields', () => {
  test('a v4 quote with 70 trailing zero bytes parses to its 4936 used bytes', () => {
    const bytes = readVector('attestation', 'tdx_v4_quote.bin');
    const q = parseQuote(bytes);
    expect(bytes.length).toBe(5006);
    expect(q.usedLength).toBe(4936);
    expect(q.signedBytes.length).toBe(632);
    expect(q.body.kind).toBe('td10');
  });

  test('a v5 quote with a TD report 1.5 carries TEE_TCB_SVN2 and MRSERVICETD', () => {
    const q = parseQuote(readVector('attestation', 'tdx_v5_td15_quote_no_tcb_level.bin'));
    expect(q.header.version).toBe(5);
    expect(q.bodyType).toBe(3);
    expect(q.signedBytes.length).toBe(702);
    if (q.body.kind !== 'td15') throw new Error('expected TD report 1.5');
    expect(q.body.td.teeTcbSvn2?.length).toBe(16);
    expect(toHex(q.body.td.mrServiceTd!)).toBe('00'.repeat(48));
  });

  test('the PEM chain inside the quote ends with \\n\\0 and still yields three certificates', () => {
    const q = parseQuote(readVector('attestation', 'tdx_v4_quote.bin'));
    expect(toHex(q.pckChainPem.subarray(-2))).toBe('0a00');
    const certs = certsFromPem(q.pckChainPem);
    expect(certs.map((c) => c.commonName)).toEqual([
      'Intel SGX PCK Certificate',
      'Intel SGX PCK Platform CA',
      'Intel SGX Root CA',
    ]);
    expect(certs[2].sha256).toBe(INTEL_SGX_ROOT_CA_SHA256);
  });

  test('the PCK certificate extension gives FMSPC, PCE ID and the 16 SGX component SVNs', () => {
    const [leaf] = certsFromPem(parseQuote(quoteBytes('tdx_v4_quote_old_microcode.hex')).pckChainPem);
    const pck = readPckExtension(leaf);
    expect(pck.fmspc).toBe('b0c06f000000');
    expect(pck.pceId).toBe('0000');
    expect(pck.compSvn).toEqual([2, 2, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(pck.pceSvn).toBe(11);
  });
});

describe('quote input detection', () => {
  test.each([
    ['tdx_v4_quote.bin', 'binary'],
    ['tdx_v4_quote_old_microcode.hex', 'hex'], // 0x prefix, no newline
    ['tdx_v4_quote_from_tappd.hex', 'hex'], // trailing newline
    ['tdx_v4_quote_dstack_near.hex', 'hex'], // bare
    ['dstack_getquote_tdx_lite.json', 'dstack'],
  ])('%s is %s', (file, kind) => {
    const input = decodeQuoteInput(readVector('attestation', file));
    expect(input.kind).toBe(kind);
    expect(parseQuote(input.quote).header.version).toBeGreaterThanOrEqual(4);
  });

  test('anything else is refused with a reason', () => {
    expect(() => decodeQuoteInput(Buffer.from('hello world'))).toThrow(QuoteInputError);
    expect(() => decodeQuoteInput(Buffer.from('{"quote": 5}'))).toThrow(/hex "quote"/);
    expect(() => decodeQuoteInput(Buffer.from('{nope'))).toThrow(/does not parse/);
  });
});

describe('certificates and CRLs', () => {
  test('the embedded root is the production Intel SGX Root CA pinned by fingerprint', () => {
    expect(Buffer.from(INTEL_SGX_ROOT_CA_DER)).toEqual(readVector('attestation', 'intel_sgx_root_ca.der'));
    expect(INTEL_ROOT.serial).toBe('22650cd65a9d3489f383b49552bf501b392706ac');
    expect(INTEL_ROOT.notBefore.toISOString()).toBe('2018-05-21T10:45:10.000Z');
    expect(INTEL_ROOT.notAfter.toISOString()).toBe('2049-12-31T23:59:59.000Z');
  });

  test('the PCK CRL parses: issuer, update times and its 44 revoked serials', () => {
    const crl = parseCrl(collateral('tdx_v4_quote.collateral.json').pckCrl);
    expect(crl.revoked.size).toBe(44);
    expect(crl.revoked.has('a17c51722ec1e0c3278fe8bdf052059cbec4e648')).toBe(true);
    expect(crl.revoked.has('8c5f6b3257da05b17429e2e61ba965d67330606a')).toBe(true);
    expect(crl.nextUpdate?.toISOString()).toBe('2025-07-19T10:00:35.000Z');
    const [, platformCa] = certsFromPem(parseQuote(quoteBytes('tdx_v4_quote.bin')).pckChainPem);
    expect(Buffer.from(crl.issuerDer)).toEqual(Buffer.from(platformCa.subjectDer));
  });

  test('the root CA CRL is issued by the root and revokes none of the live intermediates', () => {
    const crl = parseCrl(collateral('tdx_v4_quote.collateral.json').rootCaCrl);
    expect(Buffer.from(crl.issuerDer)).toEqual(Buffer.from(INTEL_ROOT.subjectDer));
    expect(crl.thisUpdate.getTime()).toBeLessThan(crl.nextUpdate!.getTime());
  });

  test('DER reader: long lengths, both time forms, and refusal of overruns', () => {
    const long = Buffer.concat([Buffer.from([0x04, 0x82, 0x01, 0x00]), Buffer.alloc(256, 7)]);
    expect(parseDer(long).value.length).toBe(256);
    expect(() => readDer(long.subarray(0, 100))).toThrow(/past the end/);
    expect(decodeTime(parseDer(Buffer.from('170d3439313233313233353935395a', 'hex'))).toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(decodeTime(parseDer(Buffer.from('180f32303530303130313030303030305a', 'hex'))).toISOString()).toBe('2050-01-01T00:00:00.000Z');
    expect(() => parseDer(Buffer.from('3003020101ff', 'hex'))).toThrow(/trailing/);
  });
});

describe('ECDSA', () => {
  const N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

  test('a signature and its high-S twin both verify (node:crypto does not insist on low S)', () => {
    const q = parseQuote(quoteBytes('tdx_v4_quote.bin'));
    const key = p256KeyFromRaw(q.attestationKey);
    const r = q.signature.subarray(0, 32);
    const s = BigInt(`0x${toHex(q.signature.subarray(32))}`);
    const twin = Buffer.concat([r, Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex')]);
    expect(verifyP256(key, q.signedBytes, q.signature)).toBe(true);
    expect(verifyP256(key, q.signedBytes, twin)).toBe(true);
  });

  test('the vectors contain high-S signatures that verify', () => {
    const high: string[] = [];
    for (const file of ['tdx_v4_quote.bin', 'tdx_v5_td15_quote_no_tcb_level.bin', 'tdx_v4_quote_dstack_ratls.bin', 'tdx_v4_quote_old_microcode.hex', 'tdx_v4_quote_from_tappd.hex', 'tdx_v4_quote_dstack_near.hex']) {
      const q = parseQuote(quoteBytes(file));
      const [leaf] = certsFromPem(q.pckChainPem);
      for (const [what, sig, key, msg] of [
        ['quote', q.signature, p256KeyFromRaw(q.attestationKey), q.signedBytes],
        ['qe', q.qeReportSignature, leaf.x509.publicKey, q.qeReport.raw],
      ] as const) {
        if (BigInt(`0x${toHex(sig.subarray(32))}`) > N / 2n) {
          high.push(`${file}:${what}`);
          expect(verifyP256(key, msg, sig)).toBe(true);
        }
      }
    }
    expect(high.length).toBeGreaterThan(0);
  });

  test('an attestation key off the curve is refused', () => {
    expect(() => p256KeyFromRaw(new Uint8Array(64).fill(1))).toThrow();
  });
});

test('raw JSON members keep their exact bytes', () => {
  const body = '{ "tcbInfo" : {"b":1, "a":"x\\"}"} , "signature":"ab"}';
  expect(rawJsonMember(body, 'tcbInfo')).toBe('{"b":1, "a":"x\\"}"}');
  expect(rawJsonMember(body, 'signature')).toBe('"ab"');
  expect(() => rawJsonMember(body, 'missing')).toThrow(/no "missing"/);
  const tcb = readVectorText('attestation', 'tdx_v4_quote.collateral.json');
  const info = JSON.parse(tcb).tcb_info as string;
  expect(rawJsonMember(`{"tcbInfo":${info},"signature":"00"}`, 'tcbInfo')).toBe(info);
});
