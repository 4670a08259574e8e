import { describe, expect, test } from 'vitest';
import { verifyQuote, type VerifyQuoteOptions } from '../../src/core/attest/verify.js';
import { DEFAULT_LEVELS, syntheticPlatform, type PlatformOptions, type QuoteOptions } from './synthetic-dcap.js';

/** Verdicts Intel data cannot show: revocation and every TCB status path, on a synthetic PKI. */
function verdict(platform: PlatformOptions = {}, quote: QuoteOptions = {}, extra: Partial<VerifyQuoteOptions> = {}) {
  const p = syntheticPlatform(platform);
  const r = verifyQuote(p.quote(quote), { collateral: p.collateral, at: p.at, rootCaDer: p.rootDer, ...extra });
  return { ...r, failing: r.checks.filter((c) => !c.ok).map((c) => c.name), detail: (n: string) => r.checks.find((c) => c.name === n)?.detail };
}

test('a well-formed synthetic platform verifies UpToDate, and says it used a custom root', () => {
  const r = verdict();
  expect(r.failing).toEqual([]);
  expect(r.tcbStatus).toBe('UpToDate');
  expect(r.detail('pck-chain')).toMatch(/CUSTOM ROOT .*not Intel's/);
});

test('the same quote without the custom root fails every chain to the Intel root', () => {
  const p = syntheticPlatform();
  const r = verifyQuote(p.quote(), { collateral: p.collateral, at: p.at });
  const failing = r.checks.filter((c) => !c.ok).map((c) => c.name);
  expect(failing).toEqual(['pck-chain', 'root-ca-crl', 'pck-crl', 'tcb-info-signature', 'qe-identity-signature']);
});

describe('revocation', () => {
  test('a revoked PCK certificate fails the PCK CRL check', () => {
    const r = verdict({ revokeLeaf: true });
    expect(r.failing).toEqual(['pck-crl']);
    expect(r.detail('pck-crl')).toMatch(/PCK certificate [0-9a-f]+ is revoked/);
  });

  test('a revoked PCK CA fails the root CA CRL check', () => {
    const r = verdict({ revokePckCa: true });
    expect(r.failing).toEqual(['root-ca-crl']);
    expect(r.detail('root-ca-crl')).toMatch(/revoked by the root CA: "Test SGX PCK Platform CA"/);
  });
});

describe('TCB status', () => {
  test('a lower TEE TCB SVN lands on a ConfigurationNeeded level with its advisories', () => {
    const r = verdict({}, { teeTcbSvn: [6, 1, 2] });
    expect(r.tcbStatus).toBe('ConfigurationNeeded');
    expect(r.advisoryIds).toEqual(['INTEL-SA-00001']);
    expect(r.ok).toBe(true);
  });

  test('older platform SVNs land on OutOfDate: accepted by default, refused when UpToDate is required', () => {
    const platform = { compSvn: [2, 2, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0], pceSvn: 11 };
    const r = verdict(platform, { teeTcbSvn: [6, 1, 1] });
    expect(r.tcbStatus).toBe('OutOfDate');
    expect(r.advisoryIds).toEqual(['INTEL-SA-00106', 'INTEL-SA-00115']);
    expect(r.ok).toBe(true);
    expect(verdict(platform, { teeTcbSvn: [6, 1, 1] }, { acceptedTcbStatuses: ['UpToDate'] }).failing).toEqual(['tcb-level']);
  });

  test('a Revoked platform level fails', () => {
    const r = verdict({ compSvn: [1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], pceSvn: 1 }, { teeTcbSvn: [6, 1, 1] });
    expect(r.tcbStatus).toBe('Revoked');
    expect(r.failing).toEqual(['tcb-level']);
  });

  test('an SGX component below every level is "no matching TCB level"', () => {
    const r = verdict({ compSvn: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
    expect(r.failing).toEqual(['tcb-level']);
    expect(r.tcbStatus).toBeNull();
  });

  test('a TDX module on an OutOfDate level makes an UpToDate platform OutOfDate', () => {
    expect(verdict({}, { teeTcbSvn: [5, 1, 3] }).tcbStatus).toBe('OutOfDate');
  });

  test('an out-of-date module and a configuration need converge to OutOfDateConfigurationNeeded', () => {
    expect(verdict({}, { teeTcbSvn: [5, 1, 2] }).tcbStatus).toBe('OutOfDateConfigurationNeeded');
  });

  test('a module SVN below every module level, or an unknown module version, fails the module check', () => {
    expect(verdict({}, { teeTcbSvn: [3, 1, 3] }).failing).toEqual(['tdx-module']);
    const r = verdict({}, { teeTcbSvn: [6, 2, 3] });
    expect(r.failing).toEqual(['tdx-module']);
    expect(r.detail('tdx-module')).toMatch(/no module identity TDX_02/);
  });

  test('module version 0 compares every TEE TCB SVN byte with the level', () => {
    expect(verdict({}, { teeTcbSvn: [5, 0, 3] }).tcbStatus).toBe('UpToDate');
    expect(verdict({}, { teeTcbSvn: [4, 0, 3] }).failing).toEqual(['tcb-level']);
  });

  test('an out-of-date QE makes the platform OutOfDate', () => {
    expect(verdict({}, { qeIsvSvn: 3 }).tcbStatus).toBe('OutOfDate');
  });

  test('a revoked QE, or one below every QE level, fails the QE identity check', () => {
    expect(verdict({ qeLevels: [{ isvsvn: 4, status: 'Revoked' }] }).failing).toEqual(['qe-identity']);
    expect(verdict({}, { qeIsvSvn: 1 }).failing).toEqual(['qe-identity']);
  });

  test('every level the status list knows round-trips', () => {
    for (const status of ['SWHardeningNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDateConfigurationNeeded']) {
      const levels = [{ ...DEFAULT_LEVELS[0], status }];
      expect(verdict({ tcbLevels: levels }).tcbStatus).toBe(status);
    }
  });
});

test('a debug TD fails the TD attributes check', () => {
  const r = verdict({}, { tdAttributes: '0100001000000000' });
  expect(r.failing).toEqual(['td-attributes']);
  expect(r.detail('td-attributes')).toMatch(/debug/);
});
