import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromHex, isHexText } from './bytes.js';
import { certsFromPem } from './certs.js';
import { collateralToJson, parseCollateralJson, type Collateral } from './collateral.js';
import { parseCrl } from './crl.js';
import { readPckExtension } from './pck-extension.js';
import { parseQeIdentity } from './qe-identity.js';
import { parseQuote, TEE_TYPE_TDX } from './quote.js';
import { rawJsonMember } from './raw-json.js';
import { parseTcbInfo } from './tcb-info.js';

/** Where Intel publishes the root CA CRL, for PCS endpoints that do not serve `/rootcacrl` (PCCS does). */
export const INTEL_ROOT_CA_CRL_URL = 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der';

export interface PccsOptions {
  /** PCCS or Intel PCS base URL, e.g. `https://pccs.example:8081` or `https://api.trustedservices.intel.com`. */
  pccsUrl: string;
  /** Directory for fetched collateral, one file per TEE, FMSPC and PCK CA; reused while valid at `at`. */
  cacheDir?: string;
  at?: Date;
  timeoutMs?: number;
  /** Used when the service has no `/rootcacrl` (Intel PCS). */
  rootCaCrlUrl?: string;
}

export interface CollateralKey {
  tee: 'tdx' | 'sgx';
  fmspc: string;
  ca: 'platform' | 'processor';
}

/** What a quote needs from a collateral service: its TEE, its platform's FMSPC and the CA that issued its PCK. */
export function collateralKeyOf(quoteBytes: Uint8Array): CollateralKey {
  const quote = parseQuote(quoteBytes);
  const [leaf] = certsFromPem(quote.pckChainPem);
  if (!leaf) throw new Error('quote carries no PCK certificate');
  const issuer = /(?:^|\n)CN=([^\n]*)/.exec(leaf.x509.issuer)?.[1] ?? '';
  return {
    tee: quote.header.teeType === TEE_TYPE_TDX ? 'tdx' : 'sgx',
    fmspc: readPckExtension(leaf).fmspc,
    ca: /processor/i.test(issuer) ? 'processor' : 'platform',
  };
}

export const cacheFileName = (key: CollateralKey): string => `${key.tee}-${key.fmspc}-${key.ca}.collateral.json`;

/** Collateral for a quote: from the cache when still valid at `at`, else fetched (PCCS v4 API) and cached. */
export async function collateralFromPccs(quoteBytes: Uint8Array, options: PccsOptions): Promise<Collateral> {
  const key = collateralKeyOf(quoteBytes);
  const at = options.at ?? new Date();
  const file = options.cacheDir ? join(options.cacheDir, cacheFileName(key)) : null;
  if (file) {
    const cached = await readFile(file, 'utf8')
      .then(parseCollateralJson)
      .catch(() => null);
    if (cached && collateralValidAt(cached, at)) return cached;
  }
  const collateral = await fetchCollateral(key, options);
  if (file && options.cacheDir) {
    await mkdir(options.cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, collateralToJson(collateral));
    await rename(tmp, file);
  }
  return collateral;
}

export function collateralValidAt(c: Collateral, at: Date): boolean {
  try {
    const tcb = parseTcbInfo(c.tcbInfo);
    const qe = parseQeIdentity(c.qeIdentity);
    const crls = [parseCrl(c.rootCaCrl), parseCrl(c.pckCrl)];
    const windows = [
      [tcb.issueDate, tcb.nextUpdate],
      [qe.issueDate, qe.nextUpdate],
      ...crls.map((crl) => [crl.thisUpdate, crl.nextUpdate ?? new Date(8.64e15)]),
    ];
    return windows.every(([from, until]) => from <= at && at <= until);
  } catch {
    return false;
  }
}

async function fetchCollateral(key: CollateralKey, options: PccsOptions): Promise<Collateral> {
  const base = options.pccsUrl.replace(/\/+$/, '').replace(/\/(sgx|tdx)\/certification\/v4$/, '');
  const get = (url: string) => fetchOk(url, options.timeoutMs ?? 15_000);

  const pckCrl = await get(`${base}/sgx/certification/v4/pckcrl?ca=${key.ca}&encoding=der`);
  const tcb = await get(`${base}/${key.tee}/certification/v4/tcb?fmspc=${key.fmspc.toUpperCase()}`);
  const qe = await get(`${base}/${key.tee}/certification/v4/qe/identity`);
  let rootCrl = await get(`${base}/sgx/certification/v4/rootcacrl`).catch(() => null);
  rootCrl ??= await get(options.rootCaCrlUrl ?? INTEL_ROOT_CA_CRL_URL);

  const tcbText = tcb.body.toString('utf8');
  const qeText = qe.body.toString('utf8');
  return {
    pckCrlIssuerChain: header(pckCrl, 'SGX-PCK-CRL-Issuer-Chain'),
    pckCrl: crlBytes(pckCrl.body),
    rootCaCrl: crlBytes(rootCrl.body),
    tcbInfoIssuerChain: header(tcb, 'TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain'),
    tcbInfo: rawJsonMember(tcbText, 'tcbInfo'),
    tcbInfoSignature: fromHex(JSON.parse(tcbText).signature),
    qeIdentityIssuerChain: header(qe, 'SGX-Enclave-Identity-Issuer-Chain'),
    qeIdentity: rawJsonMember(qeText, 'enclaveIdentity'),
    qeIdentitySignature: fromHex(JSON.parse(qeText).signature),
  };
}

interface Fetched {
  url: string;
  headers: Headers;
  body: Buffer;
}

async function fetchOk(url: string, timeoutMs: number): Promise<Fetched> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return { url, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Issuer chains travel URL-encoded in response headers. */
function header(res: Fetched, ...names: string[]): string {
  for (const name of names) {
    const value = res.headers.get(name);
    if (value) return decodeURIComponent(value);
  }
  throw new Error(`GET ${res.url}: missing ${names[0]} header`);
}

/** CRLs come as DER, PEM, or (from PCCS) hex text. */
export function crlBytes(body: Uint8Array): Uint8Array {
  const text = Buffer.from(body).toString('latin1').trim();
  const pem = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(text);
  if (pem) return new Uint8Array(Buffer.from(pem[1].replace(/\s+/g, ''), 'base64'));
  if (isHexText(text)) return fromHex(text);
  return new Uint8Array(body);
}
