import { describe, expect, test } from 'vitest';
import type { TdMeasurements } from '../../src/core/attest/measurements.js';
import { verifyQuote } from '../../src/core/attest/verify.js';
import { caseFor, collateral, expected, quoteBytes } from './support.js';

const failing = (r: ReturnType<typeof verifyQuote>) => r.checks.filter((c) => !c.ok).map((c) => c.name);
const tdxCases = expected.cases.filter((c) => c.teeType === '0x81');

describe('every TDX vector reaches its expected verdict at its verifyAt time', () => {
  test.each(tdxCases.map((c) => [c.quote, c] as const))('%s', (_name, c) => {
    const r = verifyQuote(quoteBytes(c.quote), { collateral: collateral(c.collateral), at: new Date(c.verifyAt) });

    expect(r.quote).toMatchObject({ version: c.quoteVersion, teeType: 'TDX', bodyType: c.bodyType });
    expect(r.quote?.signedBytes).toBe(c.signedBytes);
    expect(r.quote?.usedBytes).toBe(c.usedBytes);
    const m = r.measurements as TdMeasurements;
    for (const field of ['mrTd', 'mrConfigId', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3', 'reportData', 'teeTcbSvn', 'tdAttributes']) {
      expect(m[field as keyof TdMeasurements], field).toBe(c[field]);
    }
    expect(r.collateral).toMatchObject({
      validFrom: c.collateralValidFrom.replace('.000Z', 'Z'),
      validUntil: c.collateralValidUntil.replace('.000Z', 'Z'),
    });
    const crypto = ['quote-signature', 'qe-report-signature', 'qe-report-data', 'pck-chain'];
    for (const name of crypto) expect(r.checks.find((x) => x.name === name)?.ok, name).toBe(true);

    if (c.result === 'ok') {
      expect(failing(r)).toEqual([]);
      expect(r.ok).toBe(true);
      expect(r.tcbStatus).toBe(c.tcbStatus);
      expect(r.advisoryIds).toEqual(c.advisoryIds);
      expect(r.quote?.fmspc).toBe(c.fmspc);
    } else if (c.error?.startsWith('no matching platform TCB level')) {
      expect(r.ok).toBe(false);
      expect(failing(r)).toEqual(['tcb-level']);
      expect(r.checks.find((x) => x.name === 'tcb-level')?.detail).toMatch(/no matching TCB level/);
    } else {
      expect(r.ok).toBe(false);
      expect(failing(r)).toEqual(['certificate-validity']);
      expect(r.checks.find((x) => x.name === 'certificate-validity')?.detail).toMatch(
        /"Intel SGX PCK Certificate" not yet valid \(notBefore 2026-04-15/,
      );
    }
  });
});

test('an SGX quote is rejected as not a TDX quote', () => {
  const c = caseFor('sgx_v3_quote.bin');
  const r = verifyQuote(quoteBytes(c.quote), { collateral: collateral(c.collateral), at: new Date(c.verifyAt) });
  expect(r.ok).toBe(false);
  expect(failing(r)).toEqual(['tee-type']);
  expect(r.checks.find((x) => x.name === 'tee-type')?.detail).toMatch(/not a TDX quote/);
});

test('the same TCB rules give the SGX vector its expected ConfigurationAndSWHardeningNeeded when SGX is allowed', () => {
  const c = caseFor('sgx_v3_quote.bin');
  const r = verifyQuote(quoteBytes(c.quote), {
    collateral: collateral(c.collateral),
    at: new Date(c.verifyAt),
    allowSgx: true,
  });
  expect(failing(r)).toEqual([]);
  expect(r.tcbStatus).toBe('ConfigurationAndSWHardeningNeeded');
  expect(r.advisoryIds).toEqual(['INTEL-SA-00289', 'INTEL-SA-00615']);
  expect(r.measurements).toMatchObject({ mrEnclave: c.mrEnclave, reportData: c.reportData });
});

test('verifying today reports the collateral as expired', () => {
  const c = caseFor('tdx_v4_quote.bin');
  const r = verifyQuote(quoteBytes(c.quote), { collateral: collateral(c.collateral), at: new Date() });
  expect(r.ok).toBe(false);
  const time = r.checks.find((x) => x.name === 'collateral-time');
  expect(time?.ok).toBe(false);
  expect(time?.detail).toMatch(/collateral expired/);
  expect(time?.detail).toMatch(/TCB info expired \(nextUpdate 2025-07-19T10:16:03Z\)/);
});

test('collateral from before its issue date is not yet valid', () => {
  const c = caseFor('tdx_v4_quote.bin');
  const r = verifyQuote(quoteBytes(c.quote), { collateral: collateral(c.collateral), at: new Date('2025-06-19T00:00:00Z') });
  expect(r.checks.find((x) => x.name === 'collateral-time')?.detail).toMatch(/not yet valid/);
});

test('collateral for another FMSPC fails the TCB info match', () => {
  const c = caseFor('tdx_v4_quote_dstack_near.hex');
  const r = verifyQuote(quoteBytes(c.quote), { collateral: collateral('tdx_v4_quote.collateral.json'), at: new Date('2025-07-01T00:00:00Z') });
  expect(r.ok).toBe(false);
  expect(r.checks.find((x) => x.name === 'tcb-info-match')?.detail).toMatch(/FMSPC b0c06f000000, the platform is 20a06f000000/);
});

test('SGX collateral for a TDX quote fails the TCB info and QE identity checks', () => {
  const r = verifyQuote(quoteBytes('tdx_v4_quote.bin'), {
    collateral: collateral('sgx_v3_quote.collateral.json'),
    at: new Date('2025-07-01T00:00:00Z'),
  });
  expect(failing(r)).toEqual(expect.arrayContaining(['tcb-info-match', 'qe-identity', 'pck-crl']));
});

test('a caller can demand UpToDate only', () => {
  const c = caseFor('tdx_v4_quote.bin');
  const opts = { collateral: collateral(c.collateral), at: new Date(c.verifyAt) };
  expect(verifyQuote(quoteBytes(c.quote), { ...opts, acceptedTcbStatuses: ['UpToDate'] }).ok).toBe(true);
  const strict = verifyQuote(quoteBytes(c.quote), { ...opts, acceptedTcbStatuses: ['SWHardeningNeeded'] });
  expect(failing(strict)).toEqual(['tcb-level']);
});

test('a truncated quote fails only the format check, with a reason', () => {
  const r = verifyQuote(quoteBytes('tdx_v4_quote.bin').subarray(0, 700), {
    collateral: collateral('tdx_v4_quote.collateral.json'),
  });
  expect(r.ok).toBe(false);
  expect(r.checks).toEqual([{ name: 'quote-format', ok: false, detail: expect.stringMatching(/past the end|truncated/) }]);
});
