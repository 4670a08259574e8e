import { fromHex } from './bytes.js';

export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

export interface TcbLevel {
  sgxSvn: number[];
  pceSvn: number;
  tdxSvn: number[] | null;
  tcbDate: string;
  tcbStatus: TcbStatus;
  advisoryIds: string[];
}

export interface ModuleIdentity {
  id: string;
  mrSigner: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  tcbLevels: { isvSvn: number; tcbStatus: TcbStatus; tcbDate: string; advisoryIds: string[] }[];
}

/** Intel PCS TCB info (v2 for SGX, v3 for SGX and TDX), as signed. */
export interface TcbInfo {
  id: string;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  fmspc: string;
  pceId: string;
  tcbEvaluationDataNumber: number;
  tcbLevels: TcbLevel[];
  tdxModule: Omit<ModuleIdentity, 'id' | 'tcbLevels'> | null;
  tdxModuleIdentities: ModuleIdentity[];
}

type Json = Record<string, any>;

function status(value: unknown): TcbStatus {
  if (typeof value === 'string' && (TCB_STATUSES as readonly string[]).includes(value)) return value as TcbStatus;
  throw new Error(`unknown TCB status ${JSON.stringify(value)}`);
}

function date(value: unknown, field: string): Date {
  const d = new Date(String(value));
  if (typeof value !== 'string' || Number.isNaN(d.getTime())) throw new Error(`TCB info ${field} is not a date`);
  return d;
}

function svnList(list: unknown, what: string): number[] {
  if (!Array.isArray(list) || list.length !== 16) throw new Error(`TCB level ${what} must list 16 components`);
  return list.map((c: Json) => Number(c.svn));
}

function parseLevel(level: Json): TcbLevel {
  const tcb = level.tcb as Json;
  const sgxSvn = Array.isArray(tcb.sgxtcbcomponents)
    ? svnList(tcb.sgxtcbcomponents, 'sgxtcbcomponents')
    : Array.from({ length: 16 }, (_, i) => Number(tcb[`sgxtcbcomp${String(i + 1).padStart(2, '0')}svn`]));
  if (sgxSvn.some((n) => !Number.isInteger(n))) throw new Error('TCB level has non-integer SGX SVNs');
  return {
    sgxSvn,
    pceSvn: Number(tcb.pcesvn),
    tdxSvn: tcb.tdxtcbcomponents ? svnList(tcb.tdxtcbcomponents, 'tdxtcbcomponents') : null,
    tcbDate: String(level.tcbDate),
    tcbStatus: status(level.tcbStatus),
    advisoryIds: Array.isArray(level.advisoryIDs) ? level.advisoryIDs.map(String) : [],
  };
}

function parseModule(m: Json) {
  return { mrSigner: fromHex(m.mrsigner), attributes: fromHex(m.attributes), attributesMask: fromHex(m.attributesMask) };
}

export function parseTcbInfo(json: string): TcbInfo {
  const t = JSON.parse(json) as Json;
  return {
    id: typeof t.id === 'string' ? t.id : 'SGX',
    version: Number(t.version),
    issueDate: date(t.issueDate, 'issueDate'),
    nextUpdate: date(t.nextUpdate, 'nextUpdate'),
    fmspc: String(t.fmspc).toLowerCase(),
    pceId: String(t.pceId).toLowerCase(),
    tcbEvaluationDataNumber: Number(t.tcbEvaluationDataNumber),
    tcbLevels: (t.tcbLevels as Json[]).map(parseLevel),
    tdxModule: t.tdxModule ? parseModule(t.tdxModule) : null,
    tdxModuleIdentities: ((t.tdxModuleIdentities as Json[] | undefined) ?? []).map((m) => ({
      id: String(m.id),
      ...parseModule(m),
      tcbLevels: (m.tcbLevels as Json[]).map((l) => ({
        isvSvn: Number(l.tcb.isvsvn),
        tcbStatus: status(l.tcbStatus),
        tcbDate: String(l.tcbDate),
        advisoryIds: Array.isArray(l.advisoryIDs) ? l.advisoryIDs.map(String) : [],
      })),
    })),
  };
}

/**
 * The first TCB level (Intel lists them newest first) that the platform meets: every SGX component and the
 * PCE SVN at least the level's and, for TDX, every TEE TCB SVN component too. When the TDX module version
 * (TEE_TCB_SVN[1]) is non-zero the first two bytes are the module's, judged by its own identity instead.
 */
export function matchTcbLevel(
  info: TcbInfo,
  pck: { compSvn: number[]; pceSvn: number },
  teeTcbSvn: Uint8Array | null,
): TcbLevel | undefined {
  return info.tcbLevels.find((level) => {
    if (pck.pceSvn < level.pceSvn) return false;
    if (level.sgxSvn.some((svn, i) => pck.compSvn[i] < svn)) return false;
    if (!teeTcbSvn) return true;
    if (!level.tdxSvn) return false;
    const start = teeTcbSvn[1] > 0 ? 2 : 0;
    for (let i = start; i < 16; i++) if (teeTcbSvn[i] < level.tdxSvn[i]) return false;
    return true;
  });
}

export type ModuleResult =
  | { ok: true; status: TcbStatus | null; advisoryIds: string[]; detail: string }
  | { ok: false; detail: string };

/** TDX module identity: MRSIGNERSEAM and SEAM attributes as listed, and the module's own TCB level. */
export function evaluateTdxModule(
  info: TcbInfo,
  td: { teeTcbSvn: Uint8Array; mrSignerSeam: Uint8Array; seamAttributes: Uint8Array },
): ModuleResult {
  const [isvSvn, version] = td.teeTcbSvn;
  let expected: Omit<ModuleIdentity, 'id' | 'tcbLevels'> | null = info.tdxModule;
  let levelStatus: TcbStatus | null = null;
  let advisoryIds: string[] = [];
  let detail = `TDX module version ${version}, SVN ${isvSvn}`;
  if (version > 0) {
    const id = `TDX_${version.toString(16).padStart(2, '0').toUpperCase()}`;
    const identity = info.tdxModuleIdentities.find((m) => m.id.toUpperCase() === id);
    if (!identity) return { ok: false, detail: `TCB info lists no module identity ${id}` };
    const level = identity.tcbLevels.find((l) => l.isvSvn <= isvSvn);
    if (!level) return { ok: false, detail: `no TCB level of ${id} covers module SVN ${isvSvn}` };
    expected = identity;
    levelStatus = level.tcbStatus;
    advisoryIds = level.advisoryIds;
    detail = `${id} ISVSVN ${isvSvn}: ${level.tcbStatus}`;
  }
  if (!expected) return { ok: false, detail: 'TCB info has no tdxModule' };
  if (Buffer.compare(Buffer.from(expected.mrSigner), Buffer.from(td.mrSignerSeam)) !== 0) {
    return { ok: false, detail: 'MRSIGNERSEAM differs from the TCB info' };
  }
  const masked = td.seamAttributes.map((b, i) => b & (expected.attributesMask[i] ?? 0));
  if (Buffer.compare(Buffer.from(masked), Buffer.from(expected.attributes)) !== 0) {
    return { ok: false, detail: 'SEAM attributes differ from the TCB info' };
  }
  return { ok: true, status: levelStatus, advisoryIds, detail };
}

/**
 * Intel's rule for folding a component status (TDX module or QE) into the platform status: an out-of-date
 * component makes the platform out of date, keeping any configuration need; revoked wins.
 */
export function convergeStatus(platform: TcbStatus, component: TcbStatus | null): TcbStatus {
  if (component === 'Revoked') return 'Revoked';
  if (component === 'OutOfDate') {
    if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate';
    if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded') {
      return 'OutOfDateConfigurationNeeded';
    }
  }
  return platform;
}
