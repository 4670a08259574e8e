import { bytesEqual, isAllZero, sha256 } from './bytes.js';
import { certsFromPem, INTEL_ROOT, iso, parseCert, validityProblems, verifyChainToRoot, type Cert } from './certs.js';
import { CheckList, type Check } from './checks.js';
import type { Collateral } from './collateral.js';
import { crlSignedBy, parseCrl, type Crl } from './crl.js';
import { p256KeyFromRaw, verifyP256 } from './ecdsa.js';
import { measurementsOf, type Measurements } from './measurements.js';
import { readPckExtension, type PckExtension } from './pck-extension.js';
import { evaluateQeIdentity, parseQeIdentity, type QeIdentity } from './qe-identity.js';
import { parseQuote, TEE_TYPE_TDX, type Quote } from './quote.js';
import {
  convergeStatus,
  evaluateTdxModule,
  matchTcbLevel,
  parseTcbInfo,
  TCB_STATUSES,
  type TcbInfo,
  type TcbStatus,
} from './tcb-info.js';

export interface VerifyQuoteOptions {
  collateral: Collateral;
  /** Verification time; collateral and certificates must be valid then. Defaults to now. */
  at?: Date;
  /** SGX quotes are rejected unless this is set (the CLI and node only deal in TDX). */
  allowSgx?: boolean;
  /**
   * DER of a root CA to trust instead of the Intel SGX Root CA: Intel's pre-production root or a test PKI.
   * Never for production verdicts; the PCK chain check says so when it is used.
   */
  rootCaDer?: Uint8Array;
  /** TCB statuses that pass; every status but Revoked by default. */
  acceptedTcbStatuses?: readonly TcbStatus[];
}

export interface QuoteVerification {
  ok: boolean;
  tcbStatus: TcbStatus | null;
  advisoryIds: string[];
  checks: Check[];
  measurements: Measurements | null;
  quote: { version: number; teeType: 'TDX' | 'SGX'; bodyType: number | null; signedBytes: number; usedBytes: number; fmspc: string | null } | null;
  collateral: { validFrom: string; validUntil: string; tcbEvaluationDataNumber: number } | null;
}

const DEFAULT_ACCEPTED = TCB_STATUSES.filter((s) => s !== 'Revoked');

/** Verify a DCAP quote against collateral with Intel's rules; every check is reported, pass or fail. */
export function verifyQuote(bytes: Uint8Array, options: VerifyQuoteOptions): QuoteVerification {
  const at = options.at ?? new Date();
  const root = options.rootCaDer ? parseCert(options.rootCaDer) : INTEL_ROOT;
  const customRoot = root.sha256 !== INTEL_ROOT.sha256;
  const checks = new CheckList();
  let quote: Quote;
  try {
    quote = parseQuote(bytes);
  } catch (e) {
    checks.add('quote-format', false, (e as Error).message);
    return { ok: false, tcbStatus: null, advisoryIds: [], checks: checks.items, measurements: null, quote: null, collateral: null };
  }
  const isTdx = quote.header.teeType === TEE_TYPE_TDX;
  const unused = bytes.length - quote.usedLength;
  checks.add('quote-format', true, `v${quote.header.version}${quote.bodyType ? ` body type ${quote.bodyType}` : ''}, ${quote.usedLength} bytes${unused ? ` (+${unused} trailing)` : ''}`);
  checks.add(
    'tee-type',
    isTdx || options.allowSgx === true,
    isTdx ? 'TDX (0x81)' : options.allowSgx ? 'SGX (0x00), allowed by the caller' : 'not a TDX quote: TEE type 0x00000000 is an SGX enclave quote',
  );

  checks.run('quote-signature', () => {
    const ok = verifyP256(p256KeyFromRaw(quote.attestationKey), quote.signedBytes, quote.signature);
    return { ok, detail: ok ? `attestation key signs ${quote.signedBytes.length} bytes` : 'quote signature does not verify with the attestation key' };
  });

  let pckCerts: Cert[] = [];
  let pck: PckExtension | undefined;
  try {
    pckCerts = certsFromPem(quote.pckChainPem);
    if (pckCerts[0]) pck = readPckExtension(pckCerts[0]);
  } catch {
    // reported by the pck-chain check below
  }
  const leaf = pckCerts[0];
  checks.run('qe-report-signature', () => {
    if (!leaf) return { ok: false, detail: 'no PCK certificate in the quote' };
    const ok = verifyP256(leaf.x509.publicKey, quote.qeReport.raw, quote.qeReportSignature);
    return { ok, detail: ok ? 'PCK leaf key signs the QE report' : 'QE report signature does not verify with the PCK key' };
  });
  checks.run('qe-report-data', () => {
    const expected = sha256(quote.attestationKey, quote.qeAuthData);
    const ok = bytesEqual(expected, quote.qeReport.reportData.subarray(0, 32)) && isAllZero(quote.qeReport.reportData.subarray(32));
    return { ok, detail: ok ? 'QE report data = SHA-256(attestation key ‖ QE auth data)' : 'QE report data does not bind the attestation key' };
  });
  checks.run('pck-chain', () => {
    if (pckCerts.length === 0) return { ok: false, detail: 'no PEM certificates in the quote' };
    const r = verifyChainToRoot(pckCerts, root, 'PCK chain');
    if (!r.ok) return { ok: false, detail: r.reason };
    if (!pck) return { ok: false, detail: 'PCK certificate has no readable SGX extension' };
    const path = r.chain.map((c) => c.commonName).join(' → ');
    return { ok: true, detail: customRoot ? `${path} (CUSTOM ROOT ${root.sha256}, not Intel's)` : path };
  });

  const c = options.collateral;
  const parsed = parseCollateralParts(c);
  const tcbCerts = safe(() => certsFromPem(c.tcbInfoIssuerChain)) ?? [];
  const qeCerts = safe(() => certsFromPem(c.qeIdentityIssuerChain)) ?? [];
  const crlCerts = safe(() => certsFromPem(c.pckCrlIssuerChain)) ?? [];

  const allCerts = uniqueCerts([...pckCerts, ...tcbCerts, ...qeCerts, ...crlCerts]);
  checks.run('root-ca-crl', () => {
    const crl = parsed.rootCaCrl();
    if (!bytesEqual(crl.issuerDer, root.subjectDer) || !crlSignedBy(crl, root)) {
      return { ok: false, detail: `root CA CRL is not signed by the ${root.commonName}` };
    }
    const intermediates = allCerts.filter((x) => x.sha256 !== root.sha256 && bytesEqual(x.issuerDer, root.subjectDer));
    const revoked = intermediates.filter((x) => crl.revoked.has(x.serial));
    if (revoked.length) return { ok: false, detail: `revoked by the root CA: ${names(revoked)}` };
    return { ok: true, detail: `signed by the ${root.commonName}; ${names(intermediates)} not revoked` };
  });
  checks.run('pck-crl', () => {
    const crl = parsed.pckCrl();
    const ca = pckCerts[1];
    if (!leaf || !ca) return { ok: false, detail: 'PCK chain has no issuing CA' };
    if (!bytesEqual(crl.issuerDer, leaf.issuerDer)) {
      return { ok: false, detail: `PCK CRL is not issued by "${ca.commonName}" (wrong CA: platform vs processor?)` };
    }
    if (!crlSignedBy(crl, ca)) return { ok: false, detail: `PCK CRL is not signed by "${ca.commonName}"` };
    const issuer = verifyChainToRoot(crlCerts, root, 'PCK CRL issuer chain');
    if (!issuer.ok) return { ok: false, detail: issuer.reason };
    if (crl.revoked.has(leaf.serial)) return { ok: false, detail: `PCK certificate ${leaf.serial} is revoked` };
    return { ok: true, detail: `signed by "${ca.commonName}"; PCK certificate not among ${crl.revoked.size} revoked` };
  });
  checks.run('tcb-info-signature', () => signedJson(tcbCerts, root, c.tcbInfo, c.tcbInfoSignature, 'TCB info'));
  checks.run('qe-identity-signature', () => signedJson(qeCerts, root, c.qeIdentity, c.qeIdentitySignature, 'QE identity'));
  checks.run('certificate-validity', () => {
    const problems = validityProblems(allCerts, at);
    return { ok: problems.length === 0, detail: problems.length ? `at ${iso(at)}: ${problems.join('; ')}` : `${allCerts.length} certificates valid at ${iso(at)}` };
  });

  const window = collateralWindow(parsed);
  checks.run('collateral-time', () => {
    const problems = collateralTimeProblems(parsed, at);
    return {
      ok: problems.length === 0,
      detail: problems.length ? `at ${iso(at)}: ${problems.join('; ')}` : `valid ${window?.validFrom} – ${window?.validUntil}`,
    };
  });

  const tcbInfo = safe(parsed.tcbInfo);
  const qeIdentity = safe(parsed.qeIdentity);
  checks.run('tcb-info-match', () => {
    if (!tcbInfo) return { ok: false, detail: `TCB info does not parse: ${errorOf(parsed.tcbInfo)}` };
    if (!pck) return { ok: false, detail: 'no PCK SGX extension to match' };
    if (tcbInfo.fmspc !== pck.fmspc) return { ok: false, detail: `TCB info is for FMSPC ${tcbInfo.fmspc}, the platform is ${pck.fmspc}` };
    if (tcbInfo.pceId !== pck.pceId) return { ok: false, detail: `TCB info PCE ID ${tcbInfo.pceId} ≠ ${pck.pceId}` };
    if (isTdx && (tcbInfo.id !== 'TDX' || tcbInfo.version < 3)) return { ok: false, detail: 'TDX quote needs TDX TCB info (v3)' };
    if (!isTdx && tcbInfo.id !== 'SGX') return { ok: false, detail: 'SGX quote needs SGX TCB info' };
    return { ok: true, detail: `FMSPC ${pck.fmspc}, ${tcbInfo.id} TCB info v${tcbInfo.version}, evaluation #${tcbInfo.tcbEvaluationDataNumber}` };
  });

  let qeStatus: TcbStatus | null = null;
  const advisories: string[] = [];
  checks.run('qe-identity', () => {
    if (!qeIdentity) return { ok: false, detail: `QE identity does not parse: ${errorOf(parsed.qeIdentity)}` };
    const wantId = isTdx ? 'TD_QE' : 'QE';
    if (qeIdentity.id !== wantId) return { ok: false, detail: `QE identity is ${qeIdentity.id}, expected ${wantId}` };
    const r = evaluateQeIdentity(qeIdentity, quote.qeReport);
    if (r.ok) {
      qeStatus = r.status;
      advisories.push(...r.advisoryIds);
    }
    return r;
  });

  let moduleStatus: TcbStatus | null = null;
  if (isTdx && quote.body.kind !== 'sgx') {
    const td = quote.body.td;
    checks.run('tdx-module', () => {
      if (!tcbInfo) return { ok: false, detail: 'no TCB info' };
      const r = evaluateTdxModule(tcbInfo, td);
      if (r.ok) {
        moduleStatus = r.status;
        advisories.push(...r.advisoryIds);
      }
      return r;
    });
  }

  let tcbStatus: TcbStatus | null = null;
  const accepted = options.acceptedTcbStatuses ?? DEFAULT_ACCEPTED;
  checks.run('tcb-level', () => {
    if (!tcbInfo || !pck) return { ok: false, detail: 'no TCB info or PCK extension to evaluate' };
    const teeTcbSvn = quote.body.kind === 'sgx' ? null : quote.body.td.teeTcbSvn;
    const level = matchTcbLevel(tcbInfo, pck, teeTcbSvn);
    if (!level) {
      return { ok: false, detail: `no matching TCB level: platform SGX SVNs [${pck.compSvn.join(',')}], PCESVN ${pck.pceSvn}${teeTcbSvn ? `, TEE TCB SVN ${Buffer.from(teeTcbSvn).toString('hex')}` : ''} are below every level` };
    }
    advisories.unshift(...level.advisoryIds);
    tcbStatus = convergeStatus(convergeStatus(level.tcbStatus, moduleStatus), qeStatus);
    const ok = accepted.includes(tcbStatus);
    return { ok, detail: `platform level ${level.tcbDate.slice(0, 10)} ${level.tcbStatus} → ${tcbStatus}${ok ? '' : ' (not accepted)'}` };
  });

  checks.run('td-attributes', () => {
    if (quote.body.kind === 'sgx') {
      const debug = (quote.body.enclave.attributes[0] & 0x02) !== 0;
      return { ok: !debug, detail: debug ? 'enclave is in debug mode' : 'not debug' };
    }
    const attrs = quote.body.td.tdAttributes;
    const debug = (attrs[0] & 0x01) !== 0;
    const septVeDisable = (attrs[3] & 0x10) !== 0;
    return { ok: !debug, detail: `${debug ? 'TD is in debug mode' : 'not debug'}, SEPT_VE_DISABLE ${septVeDisable ? 'set' : 'clear'}` };
  });

  return {
    ok: checks.ok,
    tcbStatus,
    advisoryIds: unique(advisories),
    checks: checks.items,
    measurements: measurementsOf(quote),
    quote: {
      version: quote.header.version,
      teeType: isTdx ? 'TDX' : 'SGX',
      bodyType: quote.bodyType,
      signedBytes: quote.signedBytes.length,
      usedBytes: quote.usedLength,
      fmspc: pck?.fmspc ?? null,
    },
    collateral: window ? { ...window, tcbEvaluationDataNumber: tcbInfo?.tcbEvaluationDataNumber ?? 0 } : null,
  };
}

interface CollateralParts {
  tcbInfo: () => TcbInfo;
  qeIdentity: () => QeIdentity;
  rootCaCrl: () => Crl;
  pckCrl: () => Crl;
}

function parseCollateralParts(c: Collateral): CollateralParts {
  const memo = <T>(fn: () => T) => {
    let done = false;
    let value: T;
    return () => {
      if (!done) {
        value = fn();
        done = true;
      }
      return value;
    };
  };
  return {
    tcbInfo: memo(() => parseTcbInfo(c.tcbInfo)),
    qeIdentity: memo(() => parseQeIdentity(c.qeIdentity)),
    rootCaCrl: memo(() => parseCrl(c.rootCaCrl)),
    pckCrl: memo(() => parseCrl(c.pckCrl)),
  };
}

function signedJson(certs: Cert[], root: Cert, json: string, signature: Uint8Array, what: string) {
  const chain = verifyChainToRoot(certs, root, `${what} issuer chain`);
  if (!chain.ok) return { ok: false, detail: chain.reason };
  const ok = verifyP256(certs[0].x509.publicKey, Buffer.from(json, 'utf8'), signature);
  return { ok, detail: ok ? `signed by "${certs[0].commonName}"` : `${what} signature does not verify over its JSON bytes` };
}

type Window = { validFrom: string; validUntil: string };

function collateralDates(p: CollateralParts): { what: string; from: Date; until: Date | null }[] {
  const out: { what: string; from: Date; until: Date | null }[] = [];
  const add = (what: string, fn: () => { from: Date; until: Date | null }) => {
    const r = safe(fn);
    if (r) out.push({ what, ...r });
  };
  add('TCB info', () => ({ from: p.tcbInfo().issueDate, until: p.tcbInfo().nextUpdate }));
  add('QE identity', () => ({ from: p.qeIdentity().issueDate, until: p.qeIdentity().nextUpdate }));
  add('root CA CRL', () => ({ from: p.rootCaCrl().thisUpdate, until: p.rootCaCrl().nextUpdate }));
  add('PCK CRL', () => ({ from: p.pckCrl().thisUpdate, until: p.pckCrl().nextUpdate }));
  return out;
}

function collateralWindow(p: CollateralParts): Window | null {
  const dates = collateralDates(p);
  if (dates.length === 0) return null;
  const from = Math.max(...dates.map((d) => d.from.getTime()));
  const until = Math.min(...dates.map((d) => (d.until ?? new Date(8.64e15)).getTime()));
  return { validFrom: iso(new Date(from)), validUntil: iso(new Date(until)) };
}

function collateralTimeProblems(p: CollateralParts, at: Date): string[] {
  const dates = collateralDates(p);
  if (dates.length < 4) return ['collateral is incomplete or does not parse'];
  const problems: string[] = [];
  for (const d of dates) {
    if (at < d.from) problems.push(`${d.what} not yet valid (issued ${iso(d.from)})`);
    else if (d.until && at > d.until) problems.push(`${d.what} expired (nextUpdate ${iso(d.until)})`);
  }
  return problems.length ? [`collateral expired or not yet valid — ${problems.join(', ')}`] : [];
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
    return '';
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];
const uniqueCerts = (certs: Cert[]): Cert[] => [...new Map(certs.map((x) => [x.sha256, x])).values()];
const names = (certs: Cert[]) => certs.map((x) => `"${x.commonName}"`).join(', ');
