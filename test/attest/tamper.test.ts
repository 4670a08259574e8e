import { describe, expect, test } from 'vitest';
import { parseCollateralJson } from '../../src/core/attest/collateral.js';
import { parseQuote } from '../../src/core/attest/quote.js';
import { verifyQuote } from '../../src/core/attest/verify.js';
import { readVector } from '../support/vectors.js';
import { caseFor, collateral, quoteBytes } from './support.js';

const c = caseFor('tdx_v4_quote.bin');
const at = new Date(c.verifyAt);
const pristine = () => new Uint8Array(quoteBytes(c.quote)); // own buffer: byteOffset 0

/** Offset of a parsed field inside the quote buffer it was parsed from. */
function offsetOf(quote: Uint8Array, pick: (q: ReturnType<typeof parseQuote>) => Uint8Array): number {
  return pick(parseQuote(quote)).byteOffset - quote.byteOffset;
}

function flip(offset: number, bit = 0): Uint8Array {
  const q = pristine();
  q[offset] ^= 1 << bit;
  return q;
}

const failing = (q: Uint8Array) =>
  verifyQuote(q, { collateral: collateral(c.collateral), at }).checks.filter((x) => !x.ok).map((x) => x.name);

describe('flipping one bit makes verification fail and names the failing check', () => {
  const q = pristine();
  const body = (pick: (td: any) => Uint8Array) =>
    offsetOf(q, (p) => pick((p.body as { td: unknown }).td));

  test('the untouched quote passes', () => {
    expect(failing(pristine())).toEqual([]);
  });

  test.each([
    ['header (QE vendor id)', offsetOf(q, (p) => p.header.qeVendorId) + 3, ['quote-signature']],
    ['header (user data)', offsetOf(q, (p) => p.header.userData), ['quote-signature']],
    ['MRTD', body((td) => td.mrTd) + 5, ['quote-signature']],
    ['RTMR3', body((td) => td.rtmr[3]) + 47, ['quote-signature']],
    ['report data', body((td) => td.reportData), ['quote-signature']],
    ['QE report (body)', offsetOf(q, (p) => p.qeReport.raw) + 100, ['qe-report-signature']],
    ['quote signature', offsetOf(q, (p) => p.signature) + 10, ['quote-signature']],
  ] as const)('%s', (_name, offset, names) => {
    for (const bit of [0, 7]) expect(failing(flip(offset, bit))).toEqual(names);
  });

  test('attestation key: the QE report data no longer binds it', () => {
    const offset = offsetOf(q, (p) => p.attestationKey) + 20;
    const names = failing(flip(offset, 3));
    expect(names).toContain('qe-report-data');
    expect(names).toEqual(['quote-signature', 'qe-report-data']);
  });

  test('QE report ISVSVN: signature fails before any identity is trusted', () => {
    const offset = offsetOf(q, (p) => p.qeReport.raw) + 258; // ISVSVN
    expect(failing(flip(offset))).toContain('qe-report-signature');
  });

  test('TEE type: a TDX quote relabelled as SGX no longer parses', () => {
    const relabelled = pristine();
    relabelled[4] = 0x00; // tee_type 0x81 → 0x00
    const r = verifyQuote(relabelled, { collateral: collateral(c.collateral), at });
    expect(r.checks.map((x) => [x.name, x.ok])).toEqual([['quote-format', false]]);
  });
});

describe('tampered collateral', () => {
  const raw = () => JSON.parse(readVector('attestation', c.collateral).toString('utf8')) as Record<string, string>;
  const verifyWith = (fields: Record<string, string>) =>
    verifyQuote(pristine(), { collateral: parseCollateralJson(JSON.stringify(fields)), at })
      .checks.filter((x) => !x.ok)
      .map((x) => x.name);

  test('TCB info re-serialised with one space no longer matches its signature', () => {
    const f = raw();
    f.tcb_info = f.tcb_info.replace('"id":"TDX"', '"id": "TDX"');
    expect(verifyWith(f)).toEqual(['tcb-info-signature']);
  });

  test('an upgraded TCB level in the TCB info is caught by its signature', () => {
    const f = raw();
    f.tcb_info = f.tcb_info.replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"');
    expect(verifyWith(f)).toEqual(['tcb-info-signature']);
  });

  test('QE identity edited', () => {
    const f = raw();
    f.qe_identity = f.qe_identity.replace('"isvsvn":4', '"isvsvn":3');
    expect(verifyWith(f)).toEqual(['qe-identity-signature']);
  });

  test('a flipped byte inside a CRL breaks its signature', () => {
    const f = raw();
    const pck = Buffer.from(f.pck_crl, 'hex');
    pck[pck.length - 100] ^= 1; // a revoked serial number, inside the signed part
    f.pck_crl = pck.toString('hex');
    expect(verifyWith(f)).toEqual(['pck-crl']);
    const r = verifyQuote(pristine(), { collateral: parseCollateralJson(JSON.stringify(f)), at });
    expect(r.checks.find((x) => x.name === 'pck-crl')?.detail).toMatch(/not signed by "Intel SGX PCK Platform CA"/);

    const g = raw();
    const root = Buffer.from(g.root_ca_crl, 'hex');
    root[60] ^= 1; // inside the issuer name
    g.root_ca_crl = root.toString('hex');
    expect(verifyWith(g)).toContain('root-ca-crl');
  });

  test('the root CA CRL offered as the PCK CRL is refused as coming from the wrong issuer', () => {
    const f = raw();
    f.pck_crl = f.root_ca_crl;
    const r = verifyQuote(pristine(), { collateral: parseCollateralJson(JSON.stringify(f)), at });
    expect(r.checks.find((x) => x.name === 'pck-crl')?.detail).toMatch(/not issued by "Intel SGX PCK Platform CA"/);
  });
});
