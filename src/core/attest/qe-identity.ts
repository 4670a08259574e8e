import { bytesEqual, fromHex } from './bytes.js';
import type { EnclaveReport } from './quote.js';
import type { TcbStatus } from './tcb-info.js';

/** Intel PCS enclave identity (v2) of the quoting enclave: `QE` for SGX quotes, `TD_QE` for TDX quotes. */
export interface QeIdentity {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  miscSelect: number;
  miscSelectMask: number;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  tcbLevels: { isvSvn: number; tcbStatus: TcbStatus; advisoryIds: string[] }[];
}

export function parseQeIdentity(json: string): QeIdentity {
  const q = JSON.parse(json) as Record<string, any>;
  const when = (v: unknown, field: string) => {
    const d = new Date(String(v));
    if (Number.isNaN(d.getTime())) throw new Error(`QE identity ${field} is not a date`);
    return d;
  };
  return {
    id: String(q.id),
    version: Number(q.version),
    issueDate: when(q.issueDate, 'issueDate'),
    nextUpdate: when(q.nextUpdate, 'nextUpdate'),
    miscSelect: Number.parseInt(q.miscselect, 16),
    miscSelectMask: Number.parseInt(q.miscselectMask, 16),
    attributes: fromHex(q.attributes),
    attributesMask: fromHex(q.attributesMask),
    mrSigner: fromHex(q.mrsigner),
    isvProdId: Number(q.isvprodid),
    tcbLevels: (q.tcbLevels as any[]).map((l) => ({
      isvSvn: Number(l.tcb.isvsvn),
      tcbStatus: l.tcbStatus as TcbStatus,
      advisoryIds: Array.isArray(l.advisoryIDs) ? l.advisoryIDs.map(String) : [],
    })),
  };
}

export type QeResult =
  | { ok: true; status: TcbStatus; advisoryIds: string[]; detail: string }
  | { ok: false; detail: string };

/** The QE report must come from Intel's quoting enclave (signer, product, masked attributes) at a listed SVN. */
export function evaluateQeIdentity(identity: QeIdentity, qe: EnclaveReport): QeResult {
  if (!bytesEqual(identity.mrSigner, qe.mrSigner)) return { ok: false, detail: 'QE MRSIGNER is not Intel’s' };
  if (identity.isvProdId !== qe.isvProdId) {
    return { ok: false, detail: `QE ISVPRODID ${qe.isvProdId}, expected ${identity.isvProdId}` };
  }
  if (((qe.miscSelect & identity.miscSelectMask) >>> 0) !== identity.miscSelect >>> 0) {
    return { ok: false, detail: 'QE MISCSELECT does not match' };
  }
  const masked = qe.attributes.map((b, i) => b & (identity.attributesMask[i] ?? 0));
  if (!bytesEqual(masked, identity.attributes)) return { ok: false, detail: 'QE attributes do not match' };
  const level = identity.tcbLevels.find((l) => l.isvSvn <= qe.isvSvn);
  if (!level) return { ok: false, detail: `no QE identity TCB level covers ISVSVN ${qe.isvSvn}` };
  if (level.tcbStatus === 'Revoked') return { ok: false, detail: `QE ISVSVN ${qe.isvSvn} is revoked` };
  return {
    ok: true,
    status: level.tcbStatus,
    advisoryIds: level.advisoryIds,
    detail: `${identity.id} ISVSVN ${qe.isvSvn}: ${level.tcbStatus}`,
  };
}
