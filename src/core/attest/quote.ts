/**
 * DCAP quote layout (Intel TDX DCAP Quoting Library API, appendix A): a 48-byte header, the report body
 * (v5 adds a 6-byte body descriptor), then a length-prefixed signature data block. Quote buffers are often
 * longer than the quote (trailing zeros), so every boundary comes from a length field.
 */
export const TEE_TYPE_SGX = 0x00000000;
export const TEE_TYPE_TDX = 0x00000081;
const ATT_KEY_ECDSA_P256 = 2;
const CERT_DATA_QE_REPORT = 6;
const CERT_DATA_PCK_CHAIN = 5;
const HEADER_LEN = 48;
const ENCLAVE_REPORT_LEN = 384;
const TD10_LEN = 584;
const TD15_LEN = 648;

export class QuoteFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuoteFormatError';
  }
}

export interface QuoteHeader {
  version: number;
  attestationKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

export interface TdReport {
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  /** TD report 1.5 only. */
  teeTcbSvn2?: Uint8Array;
  mrServiceTd?: Uint8Array;
}

export interface EnclaveReport {
  raw: Uint8Array;
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  reportData: Uint8Array;
}

export type QuoteBody = { kind: 'td10' | 'td15'; td: TdReport } | { kind: 'sgx'; enclave: EnclaveReport };

export interface Quote {
  header: QuoteHeader;
  /** v5 body type (2 = TD report 1.0, 3 = TD report 1.5); null before v5. */
  bodyType: number | null;
  body: QuoteBody;
  /** Header and body: the bytes the attestation key signs. */
  signedBytes: Uint8Array;
  /** Bytes up to the end of the signature data; anything after is padding. */
  usedLength: number;
  signature: Uint8Array;
  attestationKey: Uint8Array;
  qeReport: EnclaveReport;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  pckChainPem: Uint8Array;
}

class Reader {
  constructor(
    private readonly buf: Uint8Array,
    public pos = 0,
    private readonly limit = buf.length,
  ) {}
  take(n: number, what: string): Uint8Array {
    if (this.pos + n > this.limit) throw new QuoteFormatError(`quote truncated in ${what}`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u16(what: string): number {
    const b = this.take(2, what);
    return b[0] | (b[1] << 8);
  }
  u32(what: string): number {
    const b = this.take(4, what);
    return (b[0] | (b[1] << 8) | (b[2] << 16)) + b[3] * 0x1000000;
  }
}

export function parseQuote(bytes: Uint8Array): Quote {
  const r = new Reader(bytes);
  const header: QuoteHeader = {
    version: r.u16('header'),
    attestationKeyType: r.u16('header'),
    teeType: r.u32('header'),
    qeSvn: r.u16('header'),
    pceSvn: r.u16('header'),
    qeVendorId: r.take(16, 'header'),
    userData: r.take(20, 'header'),
  };
  if (![3, 4, 5].includes(header.version)) throw new QuoteFormatError(`unsupported quote version ${header.version}`);
  if (header.attestationKeyType !== ATT_KEY_ECDSA_P256) {
    throw new QuoteFormatError(`unsupported attestation key type ${header.attestationKeyType} (want 2, ECDSA P-256)`);
  }
  if (header.teeType !== TEE_TYPE_SGX && header.teeType !== TEE_TYPE_TDX) {
    throw new QuoteFormatError(`unknown TEE type 0x${header.teeType.toString(16)}`);
  }

  let bodyType: number | null = null;
  let body: QuoteBody;
  if (header.version === 5) {
    bodyType = r.u16('body descriptor');
    const size = r.u32('body descriptor');
    const expected = { 1: ENCLAVE_REPORT_LEN, 2: TD10_LEN, 3: TD15_LEN }[bodyType];
    if (expected === undefined || size !== expected) {
      throw new QuoteFormatError(`unsupported v5 body type ${bodyType} of ${size} bytes`);
    }
    const raw = r.take(size, 'report body');
    body = bodyType === 1 ? { kind: 'sgx', enclave: parseEnclaveReport(raw) } : parseTdBody(raw, bodyType === 3);
  } else if (header.teeType === TEE_TYPE_TDX) {
    body = parseTdBody(r.take(TD10_LEN, 'TD report'), false);
  } else {
    body = { kind: 'sgx', enclave: parseEnclaveReport(r.take(ENCLAVE_REPORT_LEN, 'enclave report')) };
  }
  if ((body.kind === 'sgx') !== (header.teeType === TEE_TYPE_SGX)) {
    throw new QuoteFormatError('report body does not match the TEE type');
  }
  const signedBytes = bytes.subarray(0, r.pos);

  const sigLen = r.u32('signature data length');
  const usedLength = r.pos + sigLen;
  if (usedLength > bytes.length) throw new QuoteFormatError('signature data runs past the end of the quote');
  const s = new Reader(bytes, r.pos, usedLength);
  const signature = s.take(64, 'quote signature');
  const attestationKey = s.take(64, 'attestation key');
  let inner = s;
  if (header.version >= 4) {
    const type = s.u16('certification data');
    const size = s.u32('certification data');
    if (type !== CERT_DATA_QE_REPORT) throw new QuoteFormatError(`unsupported certification data type ${type}`);
    inner = new Reader(bytes, s.pos, s.pos + size);
    s.take(size, 'certification data');
  }
  const qeReport = parseEnclaveReport(inner.take(ENCLAVE_REPORT_LEN, 'QE report'));
  const qeReportSignature = inner.take(64, 'QE report signature');
  const qeAuthData = inner.take(inner.u16('QE auth data'), 'QE auth data');
  const certType = inner.u16('PCK certification data');
  const pckChainPem = inner.take(inner.u32('PCK certification data'), 'PCK certificate chain');
  if (certType !== CERT_DATA_PCK_CHAIN) {
    throw new QuoteFormatError(`unsupported PCK certification data type ${certType} (want 5, PEM chain)`);
  }
  return {
    header,
    bodyType,
    body,
    signedBytes,
    usedLength,
    signature,
    attestationKey,
    qeReport,
    qeReportSignature,
    qeAuthData,
    pckChainPem,
  };
}

function parseTdBody(raw: Uint8Array, v15: boolean): QuoteBody {
  const r = new Reader(raw);
  const td: TdReport = {
    teeTcbSvn: r.take(16, 'TD report'),
    mrSeam: r.take(48, 'TD report'),
    mrSignerSeam: r.take(48, 'TD report'),
    seamAttributes: r.take(8, 'TD report'),
    tdAttributes: r.take(8, 'TD report'),
    xfam: r.take(8, 'TD report'),
    mrTd: r.take(48, 'TD report'),
    mrConfigId: r.take(48, 'TD report'),
    mrOwner: r.take(48, 'TD report'),
    mrOwnerConfig: r.take(48, 'TD report'),
    rtmr: [r.take(48, 'TD report'), r.take(48, 'TD report'), r.take(48, 'TD report'), r.take(48, 'TD report')],
    reportData: r.take(64, 'TD report'),
  };
  if (v15) {
    td.teeTcbSvn2 = r.take(16, 'TD report 1.5');
    td.mrServiceTd = r.take(48, 'TD report 1.5');
  }
  return { kind: v15 ? 'td15' : 'td10', td };
}

function parseEnclaveReport(raw: Uint8Array): EnclaveReport {
  const r = new Reader(raw);
  const cpuSvn = r.take(16, 'enclave report');
  const miscSelect = r.u32('enclave report');
  r.take(28, 'enclave report');
  const attributes = r.take(16, 'enclave report');
  const mrEnclave = r.take(32, 'enclave report');
  r.take(32, 'enclave report');
  const mrSigner = r.take(32, 'enclave report');
  r.take(96, 'enclave report');
  const isvProdId = r.u16('enclave report');
  const isvSvn = r.u16('enclave report');
  r.take(60, 'enclave report');
  const reportData = r.take(64, 'enclave report');
  return { raw, cpuSvn, miscSelect, attributes, mrEnclave, mrSigner, isvProdId, isvSvn, reportData };
}
