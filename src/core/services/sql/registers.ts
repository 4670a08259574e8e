/**
 * Which VDBE registers each opcode reads and writes (SQLite's vdbe.c opcode documentation). Used only to prove
 * that a column an UPDATE loads is written back unchanged to the same place (see program.ts `carriedReads`).
 * An opcode missing from this table is treated as touching every register, so a gap here can only make the
 * analysis refuse more, never allow more.
 */

export interface Op {
  addr: number;
  opcode: string;
  p1: number;
  p2: number;
  p3: number;
  p4: string | number | null;
  p5: number;
}

/** `[first, count]`; count may be Infinity. */
export type Span = readonly [number, number];

export interface RegisterUse {
  reads: Span[];
  writes: Span[];
}

const one = (r: number): Span => [r, 1];
const span = (first: number, count: number): Span => [first, Math.max(count, 1)];
const ALL: RegisterUse = { reads: [[0, Infinity]], writes: [[0, Infinity]] };
const NONE: RegisterUse = { reads: [], writes: [] };
const use = (reads: Span[], writes: Span[]): RegisterUse => ({ reads, writes });
/** The numeric P4 of seek and compare opcodes: how many key fields the comparison uses. */
export const keyFieldCount = (op: Op): number | undefined => {
  const n = typeof op.p4 === 'number' ? op.p4 : typeof op.p4 === 'string' && /^\d+$/.test(op.p4) ? Number(op.p4) : undefined;
  return n !== undefined && n > 0 ? n : undefined;
};
/** `Function` shows its P4 as `name(N)`. */
export const functionName = (op: Op): string | undefined =>
  typeof op.p4 === 'string' ? /^([^()]+)\(-?\d+\)$/.exec(op.p4)?.[1]?.toLowerCase() : undefined;
const functionArgs = (op: Op): number | undefined => {
  const m = typeof op.p4 === 'string' ? /\((\d+)\)$/.exec(op.p4) : null;
  return m ? Number(m[1]) : undefined;
};

const NO_REGISTERS = new Set([
  'Init', 'Goto', 'Halt', 'Noop', 'Explain', 'Trace', 'Once', 'Jump', 'ElseEq', 'Permutation', 'Transaction',
  'TableLock', 'SetCookie', 'OpenDup', 'OpenEphemeral', 'OpenAutoindex', 'SorterOpen', 'Close',
  'ColumnsUsed', 'SeekEnd', 'Last', 'Rewind', 'Next', 'Prev', 'SorterSort', 'Sort', 'SorterNext', 'NullRow',
  'Delete', 'ResetCount', 'Expire', 'CursorLock', 'CursorUnlock', 'ParseSchema', 'LoadAnalysis', 'DropTable',
  'DropIndex', 'DropTrigger', 'FkCounter', 'FkIfZero', 'FkCheck', 'Abortable', 'ReleaseReg', 'CursorHint',
  'SeekHit', 'IfNotOpen', 'VBegin', 'VCreate', 'VDestroy', 'VOpen', 'VNext', 'IncrVacuum', 'AutoCommit',
  'Savepoint', 'ResetSorter', 'FinishSeek', 'DeferredSeek', 'SeekScan', 'SequenceTest', 'IfSmaller',
  'RowCell', 'IfEmpty', 'SorterOpen',
]);

const BINARY = new Set(['Concat', 'Add', 'Subtract', 'Multiply', 'Divide', 'Remainder', 'BitAnd', 'BitOr', 'ShiftLeft', 'ShiftRight', 'And', 'Or']);
const COMPARE = new Set(['Eq', 'Ne', 'Lt', 'Le', 'Gt', 'Ge']);
const IN_PLACE = new Set(['AddImm', 'MustBeInt', 'RealAffinity', 'Cast', 'IfPos', 'IfNotZero', 'DecrJumpZero', 'Yield', 'ClrSubtype', 'AggFinal']);
const WRITES_P2 = new Set([
  'Integer', 'Int64', 'Real', 'String8', 'Blob', 'Variable', 'BeginSubrtn', 'Count', 'Sequence', 'SorterData',
  'RowData', 'Rowid', 'IdxRowid', 'Destroy', 'CreateBtree', 'Pagecount', 'MaxPgcnt', 'ReadCookie', 'JournalMode',
  'Param',
]);
const KEY_SEEK = new Set(['SeekLT', 'SeekLE', 'SeekGE', 'SeekGT', 'IdxLE', 'IdxGT', 'IdxLT', 'IdxGE', 'Filter', 'FilterAdd']);
const RECORD_SEEK = new Set(['Found', 'NotFound', 'NoConflict', 'IfNoHope']);

export function registerUse(op: Op): RegisterUse {
  const { opcode, p1, p2, p3, p5 } = op;
  if (NO_REGISTERS.has(opcode)) return NONE;
  if (BINARY.has(opcode)) return use([one(p1), one(p2)], [one(p3)]);
  if (COMPARE.has(opcode)) return use([one(p1), one(p3)], []);
  if (IN_PLACE.has(opcode)) return use([one(p1)], [one(p1)]);
  if (WRITES_P2.has(opcode)) return use([], [one(p2)]);
  if (KEY_SEEK.has(opcode)) return use([span(p3, keyFieldCount(op) ?? 1)], []);
  if (RECORD_SEEK.has(opcode)) return use([span(p3, keyFieldCount(op) ?? 1)], []);
  switch (opcode) {
    case 'OpenRead':
    case 'OpenWrite':
    case 'ReopenIdx':
      return (p5 & 0x10) !== 0 ? use([one(p2)], []) : NONE; // OPFLAG_P2ISREG
    case 'OpenPseudo':
      return use([one(p2)], []);
    case 'Gosub':
    case 'InitCoroutine':
    case 'SoftNull':
      return use([], [one(p1)]);
    case 'CollSeq':
      return p1 !== 0 ? use([], [one(p1)]) : NONE;
    case 'Return':
    case 'EndCoroutine':
    case 'If':
    case 'IfNot':
    case 'IsNull':
    case 'NotNull':
    case 'VRename':
      return use([one(p1)], []);
    case 'HaltIfNull':
      return use([one(p3)], []);
    case 'String':
      return use(p3 !== 0 ? [one(p3)] : [], [one(p2)]);
    case 'Null':
      return use([], [span(p2, p3 > p2 ? p3 - p2 + 1 : 1)]);
    case 'Move':
      return use([span(p1, p3)], [span(p2, p3)]);
    case 'Copy':
      return use([span(p1, p3 + 1)], [span(p2, p3 + 1)]);
    case 'SCopy':
    case 'IntCopy':
    case 'IsTrue':
    case 'Not':
    case 'BitNot':
    case 'GetSubtype':
    case 'SetSubtype':
      return use([one(p1)], [one(p2)]);
    case 'ResultRow':
    case 'TypeCheck':
      return use([span(p1, p2)], []);
    case 'Affinity':
      return use([span(p1, p2)], [span(p1, p2)]);
    case 'MakeRecord':
      return use([span(p1, p2)], [one(p3)]);
    case 'Compare':
      return use([span(p1, p3), span(p2, p3)], []);
    case 'IsType':
      return p1 < 0 ? use([one(p3)], []) : NONE;
    case 'ZeroOrNull':
      return use([one(p1), one(p3)], [one(p2)]);
    case 'Column':
    case 'Offset':
    case 'VColumn':
    case 'IfNullRow':
      return use([], [one(p3)]);
    case 'SeekRowid':
    case 'NotExists':
    case 'SorterCompare':
      return use([one(p3)], []);
    case 'NewRowid':
      return use(p3 !== 0 ? [one(p3)] : [], p3 !== 0 ? [one(p2), one(p3)] : [one(p2)]);
    case 'Insert':
      return use([one(p2), one(p3)], []);
    case 'IdxInsert':
    case 'SorterInsert': {
      const key = keyFieldCount(op);
      return use(key && p3 ? [one(p2), span(p3, key)] : [one(p2)], []);
    }
    case 'IdxDelete':
      return use([span(p2, p3)], []);
    case 'RowSetAdd':
      return use([one(p1), one(p2)], [one(p1)]);
    case 'RowSetRead':
      return use([one(p1)], [one(p1), one(p3)]);
    case 'RowSetTest':
      return use([one(p1), one(p3)], [one(p1)]);
    case 'Program':
      return use([[p1, Infinity]], [one(p3)]);
    case 'MemMax':
      return use([one(p1), one(p2)], [one(p1)]);
    case 'OffsetLimit':
      return use([one(p1), one(p3)], [one(p2)]);
    case 'AggStep':
    case 'AggStep1':
    case 'AggInverse':
      return use([span(p2, p5), one(p3)], [one(p3)]);
    case 'AggValue':
      return use([one(p1)], [one(p3)]);
    case 'Function':
    case 'PureFunc': {
      const n = functionArgs(op);
      return use([n === undefined ? [p2, Infinity] : span(p2, n)], [one(p3)]);
    }
    case 'VFilter':
      return use([[p3, Infinity]], []);
    case 'VUpdate':
      return use([span(p3, p2)], []);
    case 'Checkpoint':
      return use([], [span(p3, 3)]);
    case 'Vacuum':
      return p2 !== 0 ? use([one(p2)], []) : NONE;
    case 'Clear':
      return p3 !== 0 ? use([one(p3)], [one(p3)]) : NONE;
    default:
      return ALL;
  }
}

export const covers = (spans: readonly Span[], r: number): boolean => spans.some(([first, count]) => r >= first && r < first + count);
