import { createHash, generateKeyPairSync } from 'node:crypto';
import { collateralToJson, type Collateral } from '../../src/core/attest/collateral.js';
import { mintCert, mintCrl, sgxExtension, signRS } from './synthetic-pki.js';

type Level = { sgx: number[]; pce: number; tdx: number[]; status: string; advisories?: string[] };

export interface PlatformOptions {
  compSvn?: number[];
  pceSvn?: number;
  fmspc?: string;
  tcbLevels?: Level[];
  moduleLevels?: { isvsvn: number; status: string }[];
  qeLevels?: { isvsvn: number; status: string }[];
  revokeLeaf?: boolean;
  revokePckCa?: boolean;
  issueDate?: Date;
  nextUpdate?: Date;
}

export interface QuoteOptions {
  reportData?: Uint8Array;
  teeTcbSvn?: number[];
  qeIsvSvn?: number;
  tdAttributes?: string;
  mrTd?: Uint8Array;
  mrConfigId?: Uint8Array;
  rtmr?: Uint8Array[];
}

const svn16 = (head: number[]) => [...head, ...new Array(16 - head.length).fill(0)];
const components = (svns: number[]) => svns.map((svn) => ({ svn }));
const QE_MRSIGNER = Buffer.alloc(32, 0x5e);

export const DEFAULT_LEVELS: Level[] = [
  { sgx: svn16([3, 3, 2, 2, 4, 1, 0, 5]), pce: 13, tdx: svn16([5, 0, 3]), status: 'UpToDate' },
  { sgx: svn16([3, 3, 2, 2, 4, 1, 0, 5]), pce: 13, tdx: svn16([5, 0, 2]), status: 'ConfigurationNeeded', advisories: ['INTEL-SA-00001'] },
  { sgx: svn16([2, 2, 2, 2, 3, 1, 0, 3]), pce: 5, tdx: svn16([5, 0, 1]), status: 'OutOfDate', advisories: ['INTEL-SA-00106', 'INTEL-SA-00115'] },
  { sgx: svn16([1, 1, 1, 1, 1, 1, 0, 1]), pce: 1, tdx: svn16([1, 0, 1]), status: 'Revoked' },
];

/**
 * A complete synthetic DCAP platform: root, PCK CA and leaf (with its SGX extension), TCB signing cert, CRLs,
 * signed TCB info and QE identity, and a quote builder that signs whatever report data it is given.
 */
export function syntheticPlatform(opts: PlatformOptions = {}) {
  const issueDate = opts.issueDate ?? new Date('2025-06-01T00:00:00Z');
  const nextUpdate = opts.nextUpdate ?? new Date('2025-07-01T00:00:00Z');
  const fmspc = opts.fmspc ?? 'c0ffee000000';
  const root = mintCert({ cn: 'Test SGX Root CA', ca: true });
  const pckCa = mintCert({ cn: 'Test SGX PCK Platform CA', issuer: root, ca: true });
  const leaf = mintCert({
    cn: 'Test SGX PCK Certificate',
    issuer: pckCa,
    ca: false,
    extensions: [sgxExtension({ compSvn: opts.compSvn ?? svn16([3, 3, 2, 2, 4, 1, 0, 5]), pceSvn: opts.pceSvn ?? 13, fmspc })],
  });
  const tcbSigner = mintCert({ cn: 'Test SGX TCB Signing', issuer: root, ca: false });
  const chain = (...certs: { pem: string }[]) => certs.map((c) => c.pem).join('');

  const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
  const tcbInfo = JSON.stringify({
    id: 'TDX',
    version: 3,
    issueDate: iso(issueDate),
    nextUpdate: iso(nextUpdate),
    fmspc: fmspc.toUpperCase(),
    pceId: '0000',
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    tdxModule: { mrsigner: '00'.repeat(48), attributes: '0000000000000000', attributesMask: 'FFFFFFFFFFFFFFFF' },
    tdxModuleIdentities: [
      {
        id: 'TDX_01',
        mrsigner: '00'.repeat(48),
        attributes: '0000000000000000',
        attributesMask: 'FFFFFFFFFFFFFFFF',
        tcbLevels: (opts.moduleLevels ?? [{ isvsvn: 6, status: 'UpToDate' }, { isvsvn: 4, status: 'OutOfDate' }]).map((l) => ({
          tcb: { isvsvn: l.isvsvn },
          tcbDate: '2024-03-13T00:00:00Z',
          tcbStatus: l.status,
        })),
      },
    ],
    tcbLevels: (opts.tcbLevels ?? DEFAULT_LEVELS).map((l) => ({
      tcb: { sgxtcbcomponents: components(l.sgx), pcesvn: l.pce, tdxtcbcomponents: components(l.tdx) },
      tcbDate: '2024-03-13T00:00:00Z',
      tcbStatus: l.status,
      ...(l.advisories ? { advisoryIDs: l.advisories } : {}),
    })),
  });
  const qeIdentity = JSON.stringify({
    id: 'TD_QE',
    version: 2,
    issueDate: iso(issueDate),
    nextUpdate: iso(nextUpdate),
    tcbEvaluationDataNumber: 17,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: '11000000000000000000000000000000',
    attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: QE_MRSIGNER.toString('hex').toUpperCase(),
    isvprodid: 2,
    tcbLevels: (opts.qeLevels ?? [{ isvsvn: 4, status: 'UpToDate' }, { isvsvn: 2, status: 'OutOfDate' }]).map((l) => ({
      tcb: { isvsvn: l.isvsvn },
      tcbDate: '2024-03-13T00:00:00Z',
      tcbStatus: l.status,
    })),
  });
  const collateral: Collateral = {
    pckCrlIssuerChain: chain(pckCa, root),
    rootCaCrl: mintCrl(root, opts.revokePckCa ? [pckCa.serial] : [], issueDate, nextUpdate),
    pckCrl: mintCrl(pckCa, opts.revokeLeaf ? [leaf.serial, 0x77n] : [0x77n], issueDate, nextUpdate),
    tcbInfoIssuerChain: chain(tcbSigner, root),
    tcbInfo,
    tcbInfoSignature: signRS(tcbSigner.key, tcbInfo),
    qeIdentityIssuerChain: chain(tcbSigner, root),
    qeIdentity,
    qeIdentitySignature: signRS(tcbSigner.key, qeIdentity),
  };

  /** A TDX v4 quote over the given fields, signed by a fresh attestation key certified by this platform. */
  function quote(q: QuoteOptions = {}): Uint8Array {
    const header = Buffer.alloc(48);
    header.writeUInt16LE(4, 0);
    header.writeUInt16LE(2, 2);
    header.writeUInt32LE(0x81, 4);
    header.writeUInt16LE(13, 10);
    Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex').copy(header, 12);
    const body = Buffer.alloc(584);
    Buffer.from(q.teeTcbSvn ?? svn16([6, 1, 3])).copy(body, 0);
    Buffer.from(q.tdAttributes ?? '0000001000000000', 'hex').copy(body, 120);
    (q.mrTd ? Buffer.from(q.mrTd) : Buffer.alloc(48, 0x4d)).copy(body, 136);
    if (q.mrConfigId) Buffer.from(q.mrConfigId).copy(body, 184);
    (q.rtmr ?? []).forEach((r, i) => Buffer.from(r).copy(body, 328 + 48 * i));
    if (q.reportData) Buffer.from(q.reportData).copy(body, 520);

    const att = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = att.publicKey.export({ format: 'jwk' });
    const attKey = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    const signed = Buffer.concat([header, body]);
    const qeAuth = Buffer.alloc(32, 0xa5);

    const qeReport = Buffer.alloc(384);
    qeReport[48] = 0x11; // attributes: INIT | MODE64BIT
    QE_MRSIGNER.copy(qeReport, 128);
    qeReport.writeUInt16LE(2, 256);
    qeReport.writeUInt16LE(q.qeIsvSvn ?? 6, 258);
    createHash('sha256').update(attKey).update(qeAuth).digest().copy(qeReport, 320);

    const pem = Buffer.from(`${chain(leaf, pckCa, root)}\0`);
    const u16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const certData = Buffer.concat([qeReport, signRS(leaf.key, qeReport), u16(qeAuth.length), qeAuth, u16(5), u32(pem.length), pem]);
    const sigData = Buffer.concat([signRS(att.privateKey, signed), attKey, u16(6), u32(certData.length), certData]);
    return new Uint8Array(Buffer.concat([signed, u32(sigData.length), sigData, Buffer.alloc(30)]));
  }

  return { rootDer: root.der, rootPem: root.pem, collateral, collateralJson: collateralToJson(collateral), quote, at: new Date(issueDate.getTime() + 86_400_000) };
}
