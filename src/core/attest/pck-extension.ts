import type { Cert } from './certs.js';
import { toHex } from './bytes.js';
import { children, decodeOid, DerError, integerValue, parseDer, TAG } from './der.js';

const SGX_EXTENSION = '1.2.840.113741.1.13.1';

/** What the PCK certificate's Intel SGX extension says about the platform (Intel PCK Certificate spec). */
export interface PckExtension {
  ppid: string;
  /** SGX TCB component SVNs 1..16. */
  compSvn: number[];
  pceSvn: number;
  cpuSvn: string;
  pceId: string;
  fmspc: string;
  sgxType: number | null;
}

export function readPckExtension(cert: Cert): PckExtension {
  const ext = cert.extensions.get(SGX_EXTENSION);
  if (!ext) throw new DerError('PCK certificate has no Intel SGX extension');
  const out: PckExtension = { ppid: '', compSvn: [], pceSvn: -1, cpuSvn: '', pceId: '', fmspc: '', sgxType: null };
  for (const entry of children(parseDer(ext))) {
    const [oidNode, value] = children(entry);
    const oid = decodeOid(oidNode);
    if (oid === `${SGX_EXTENSION}.1`) out.ppid = toHex(value.value);
    else if (oid === `${SGX_EXTENSION}.3`) out.pceId = toHex(value.value);
    else if (oid === `${SGX_EXTENSION}.4`) out.fmspc = toHex(value.value);
    else if (oid === `${SGX_EXTENSION}.5` && value.tag === TAG.ENUMERATED) out.sgxType = value.value[0] ?? 0;
    else if (oid === `${SGX_EXTENSION}.2`) readTcb(value, out);
  }
  if (out.compSvn.length !== 16 || out.pceSvn < 0 || out.fmspc.length !== 12) {
    throw new DerError('PCK certificate SGX extension is incomplete (TCB, PCESVN or FMSPC missing)');
  }
  return out;
}

function readTcb(tcb: ReturnType<typeof parseDer>, out: PckExtension): void {
  const comps = new Array<number>(16).fill(-1);
  for (const entry of children(tcb)) {
    const [oidNode, value] = children(entry);
    const index = Number(decodeOid(oidNode).slice(`${SGX_EXTENSION}.2.`.length));
    if (index >= 1 && index <= 16) comps[index - 1] = integerValue(value);
    else if (index === 17) out.pceSvn = integerValue(value);
    else if (index === 18) out.cpuSvn = toHex(value.value);
  }
  if (comps.every((c) => c >= 0)) out.compSvn = comps;
}
