import type BetterSqlite3 from 'better-sqlite3';
import { ANY_COLUMN, ROWID, type Catalog, type CatalogObject, type CatalogTable, type ColumnName } from './catalog.js';
import { covers, functionName, keyFieldCount, registerUse, type Op, type RegisterUse } from './registers.js';

/**
 * What a prepared statement will do, read off the program SQLite compiled for it (`EXPLAIN`), the statement's
 * `sqlite3_stmt_readonly` flag and the schema's root pages. This stands in for the authorizer callback that
 * better-sqlite3 does not expose: the tables, columns and effects are SQLite's own, after it resolved views,
 * CTEs, subqueries, `*`, table-valued functions and the triggers and foreign-key actions the statement fires.
 */
export interface StatementProfile {
  /** The ability class needed: `read` (returns or computes only), `write` (DML), `schema` (DDL), `admin`. */
  kind: 'read' | 'write' | 'schema' | 'admin';
  /** Set when no holder may run the statement at all. */
  refused?: string;
  /** `sqlite3_stmt_readonly`. */
  readonly: boolean;
  /** Tables (and virtual tables) whose rows the program reads, lower-case names. */
  tablesRead: Set<string>;
  /** Tables the program inserts into, updates or deletes from, lower-case names. */
  tablesWritten: Set<string>;
  /** Columns whose values the program reads (`columnKey`); column `*` when it cannot tell which. */
  columnsRead: Set<string>;
  /** Columns an UPDATE changes (`columnKey`); column `*` when it cannot tell which. */
  columnsWritten: Set<string>;
  /** An INSERT that sets `last_insert_rowid()` (what `lastInsertRowId` reports). */
  insertsRow: boolean;
  /** VACUUM: SQLite runs it only outside a transaction. */
  outsideTransaction: boolean;
  /**
   * The schema's virtual tables the program opens (lower-case). Their modules run statements of their own
   * (an FTS5 table with `content=` reads another table) that are not part of this program.
   */
  virtualTables: Set<string>;
}

/** SQL functions no statement may call. SQLite already refuses most of them; this keeps it that way. */
const REFUSED_FUNCTIONS = new Map([
  ['sqlite_attach', 'ATTACH is not allowed'],
  ['sqlite_detach', 'DETACH is not allowed'],
  ['load_extension', 'load_extension is not allowed'],
  ['fts3_tokenizer', 'fts3_tokenizer is not allowed'],
]);
/** Table-valued functions every reader may use: they only see the values passed to them. */
const FREE_VTABS = ['json_each', 'json_tree'];
const SCHEMA_OPS = new Set(['ParseSchema', 'CreateBtree', 'Destroy', 'DropTable', 'DropIndex', 'DropTrigger', 'VCreate', 'VDestroy', 'RenameTable']);
const INDEX_KEY_OPS = new Set(['SeekLT', 'SeekLE', 'SeekGE', 'SeekGT', 'IdxLE', 'IdxGT', 'IdxLT', 'IdxGE', 'Found', 'NotFound', 'NoConflict', 'IfNoHope']);
const OPFLAG_ISUPDATE = 0x04;
const OPFLAG_P2ISREG = 0x10;
const OPFLAG_LASTROWID = 0x20;
const INTERNAL_TABLES = new Set(['sqlite_sequence']);

type CursorTarget =
  | { kind: 'object'; object: CatalogObject; write: boolean }
  | { kind: 'vtab'; name: string | undefined; table?: CatalogTable }
  | { kind: 'derived' };

/** `EXPLAIN <sql>`: the main program first, then each trigger sub-program; addresses restart at 0 in each. */
export function explain(db: BetterSqlite3.Database, sql: string, params: unknown[]): Op[][] {
  const rows = db.prepare(`EXPLAIN ${sql}`).safeIntegers(false).all(...params) as Op[];
  const programs: Op[][] = [];
  for (const row of rows) {
    if (row.addr === 0 || programs.length === 0) programs.push([]);
    (programs[programs.length - 1] as Op[]).push(row);
  }
  return programs;
}

/** `vtab:<pointer>` → module name, for the virtual tables a statement may open. */
export type VtabNames = ReadonlyMap<string, string>;

export function vtabNames(db: BetterSqlite3.Database, catalog: Catalog): VtabNames {
  const names = new Map<string, string>();
  const probe = (name: string, from: string) => {
    for (const op of db.prepare(`EXPLAIN SELECT * FROM ${from}`).safeIntegers(false).all() as Op[]) {
      if (op.opcode === 'VOpen' && typeof op.p4 === 'string') names.set(op.p4, name);
    }
  };
  for (const name of FREE_VTABS) probe(name, `${name}('[]')`);
  for (const table of catalog.tables.values()) {
    if (table.virtual) probe(table.name.toLowerCase(), `"${table.name.replaceAll('"', '""')}"`);
  }
  return names;
}

export function profileStatement(
  programs: Op[][],
  readonly: boolean,
  catalog: Catalog,
  vtabs: VtabNames,
  wantColumns: boolean,
): StatementProfile {
  const profile: StatementProfile = {
    kind: 'read',
    readonly,
    tablesRead: new Set(),
    tablesWritten: new Set(),
    columnsRead: new Set(),
    columnsWritten: new Set(),
    insertsRow: false,
    outsideTransaction: false,
    virtualTables: new Set(),
  };
  const refuse = (why: string) => (profile.refused ??= why);
  const all = programs.flat();
  const schemaChange = all.some((op) => SCHEMA_OPS.has(op.opcode) || (op.opcode === 'OpenWrite' && op.p2 === 1 && (op.p5 & OPFLAG_P2ISREG) === 0));
  let admin = false;
  let rowChanges = false;

  programs.forEach((ops, programIndex) => {
    const cursors = new Map<number, CursorTarget[]>();
    for (const op of ops) {
      switch (op.opcode) {
        case 'OpenRead':
        case 'OpenWrite':
        case 'ReopenIdx': {
          if (op.p3 !== 0) refuse('temporary and attached schemas are not available');
          const write = op.opcode === 'OpenWrite';
          const object = (op.p5 & OPFLAG_P2ISREG) === 0 ? catalog.byRoot.get(op.p2) : undefined;
          if (!object) {
            // Only schema work opens a b-tree the catalog does not know yet (CREATE INDEX, CREATE TABLE … AS).
            if (!schemaChange) refuse('statement opens a b-tree outside the schema');
            break;
          }
          addTarget(cursors, op.p1, { kind: 'object', object, write });
          const table = tableName(object);
          profile.tablesRead.add(table);
          if (write) profile.tablesWritten.add(table);
          break;
        }
        case 'OpenDup':
          for (const t of cursors.get(op.p2) ?? []) addTarget(cursors, op.p1, t);
          break;
        case 'OpenEphemeral':
        case 'OpenAutoindex':
        case 'OpenPseudo':
        case 'SorterOpen':
          addTarget(cursors, op.p1, { kind: 'derived' });
          break;
        case 'VOpen': {
          const name = typeof op.p4 === 'string' ? vtabs.get(op.p4) : undefined;
          if (!name) refuse('this table-valued function or virtual table is not available');
          const table = name ? catalog.tables.get(name) : undefined;
          addTarget(cursors, op.p1, { kind: 'vtab', name, table });
          if (table) {
            profile.tablesRead.add(table.name.toLowerCase());
            profile.virtualTables.add(table.name.toLowerCase());
          }
          break;
        }
        case 'VUpdate': {
          // VUpdate names its virtual table in P4, not through a cursor.
          const name = typeof op.p4 === 'string' ? vtabs.get(op.p4) : undefined;
          const table = name ? catalog.tables.get(name) : undefined;
          if (!table) refuse('this virtual table is not available');
          else {
            profile.tablesWritten.add(table.name.toLowerCase());
            profile.virtualTables.add(table.name.toLowerCase());
          }
          rowChanges = true;
          break;
        }
        case 'Insert':
          rowChanges = true;
          if ((op.p5 & OPFLAG_LASTROWID) !== 0 && programIndex === 0) profile.insertsRow = true;
          break;
        case 'Delete':
          rowChanges = true;
          break;
        case 'Clear': {
          // `DELETE FROM t` without WHERE truncates the b-tree outright; REINDEX clears index b-trees.
          const object = catalog.byRoot.get(op.p1);
          if (!object) {
            if (!schemaChange) refuse('statement clears a b-tree outside the schema');
            break;
          }
          profile.tablesWritten.add(tableName(object));
          if (object.kind === 'table') rowChanges = true;
          break;
        }
        case 'Function':
        case 'PureFunc':
        case 'AggStep':
        case 'AggStep1':
        case 'AggInverse':
        case 'AggValue':
        case 'AggFinal': {
          const name = functionName(op);
          const why = name ? REFUSED_FUNCTIONS.get(name) : undefined;
          if (why) refuse(why);
          break;
        }
        case 'AutoCommit':
        case 'Savepoint':
          refuse('transaction control is managed by the node');
          break;
        case 'Vacuum':
          if (op.p2 !== 0) refuse('VACUUM INTO is not allowed');
          if (op.p1 !== 0) refuse('temporary and attached schemas are not available');
          admin = true;
          profile.outsideTransaction = true;
          break;
        case 'LoadAnalysis':
        case 'IncrVacuum':
          admin = true;
          break;
      }
    }
    // A WITHOUT ROWID table is its primary-key b-tree: its rows change through IdxInsert/IdxDelete.
    for (const op of ops) {
      if (op.opcode !== 'IdxInsert' && op.opcode !== 'IdxDelete') continue;
      for (const target of cursors.get(op.p1) ?? []) {
        if (target.kind !== 'object' || target.object.kind !== 'table') continue;
        rowChanges = true;
        // Which of its columns changed is not traced (no ISUPDATE record to compare): all of them, to be safe.
        profile.columnsWritten.add(columnKey(target.object.name.toLowerCase(), ANY_COLUMN));
      }
    }
    if (wantColumns) collectColumns(ops, cursors, profile);
  });

  const writesUserRows = [...profile.tablesWritten].some((t) => !t.startsWith('sqlite_'));
  if (writesUserRows) {
    // AUTOINCREMENT bookkeeping, not data the holder touches.
    for (const internal of INTERNAL_TABLES) {
      profile.tablesWritten.delete(internal);
      profile.tablesRead.delete(internal);
      for (const set of [profile.columnsRead, profile.columnsWritten]) {
        for (const entry of [...set]) if (entry.startsWith(columnKey(internal, ''))) set.delete(entry);
      }
    }
  }
  const written = [...profile.tablesWritten];
  if (admin) profile.kind = 'admin';
  else if (schemaChange) profile.kind = 'schema';
  else if (written.some((t) => t === 'sqlite_schema' || t.startsWith('sqlite_stat'))) profile.kind = 'admin';
  else if (written.length > 0 && !rowChanges) profile.kind = 'admin'; // REINDEX: rebuilds indexes only
  else if (written.length > 0) profile.kind = 'write';
  else if (!readonly) refuse('statement has effects the node cannot classify');
  return profile;
}

function addTarget(cursors: Map<number, CursorTarget[]>, cursor: number, target: CursorTarget): void {
  const list = cursors.get(cursor);
  if (list) list.push(target);
  else cursors.set(cursor, [target]);
}

/** Table and column in one set entry; table names may contain dots, so NUL separates them. */
export const columnKey = (table: string, column: string): string => `${table}\u0000${column}`;
export const splitColumnKey = (key: string): [table: string, column: string] => {
  const cut = key.indexOf('\u0000');
  return [key.slice(0, cut), key.slice(cut + 1)];
};

const tableName = (object: CatalogObject): string => (object.kind === 'table' ? object.name : object.table).toLowerCase();

/**
 * Every column the program reads, as SQLite's authorizer would report SQLITE_READ: values loaded (`Column`,
 * `Rowid`, `IdxRowid`, `VColumn`, whole records), and index keys compared while seeking (an index on a hidden
 * column is an oracle even without a `Column`). The exceptions are the loads an UPDATE makes to write unchanged
 * columns back, and the old index keys it deletes, when register flow proves the value goes nowhere else.
 */
function collectColumns(ops: Op[], cursors: Map<number, CursorTarget[]>, profile: StatementProfile): void {
  const flow = new RegisterFlow(ops);
  const carried = carriedReads(ops, cursors, flow);
  const read = (table: string, column: ColumnName) => profile.columnsRead.add(columnKey(table, column));

  for (const op of ops) {
    for (const target of cursors.get(op.p1) ?? []) {
      if (target.kind === 'vtab') {
        if (op.opcode === 'VColumn' && target.table) read(target.table.name.toLowerCase(), target.table.columns[op.p2] ?? ANY_COLUMN);
        continue;
      }
      if (target.kind !== 'object') continue;
      const table = tableName(target.object);
      const fields = target.object.fields;
      const rowid = target.object.kind === 'table' ? (target.object.rowidAlias ?? ROWID) : undefined;
      switch (op.opcode) {
        case 'Column':
          if (!carried.has(op.addr)) read(table, fields[op.p2] ?? ANY_COLUMN);
          break;
        case 'Rowid':
        case 'SeekRowid':
        case 'NotExists':
          read(table, rowid ?? ANY_COLUMN);
          break;
        case 'IdxRowid':
          read(table, fields[fields.length - 1] ?? ANY_COLUMN);
          break;
        case 'RowData':
        case 'RowCell':
          read(table, ANY_COLUMN);
          break;
        default:
          if (INDEX_KEY_OPS.has(op.opcode)) {
            if (rowid !== undefined && !(target.object.kind === 'table' && target.object.withoutRowid)) {
              read(table, rowid);
            } else {
              const n = keyFieldCount(op) ?? fields.length;
              for (const field of fields.slice(0, n)) read(table, field);
            }
          }
      }
    }
    // RowCell copies the record of the cursor named in P2 (the transfer optimisation of INSERT … SELECT).
    if (op.opcode === 'RowCell') {
      for (const target of cursors.get(op.p2) ?? []) {
        if (target.kind === 'object') read(tableName(target.object), ANY_COLUMN);
      }
    }
  }

  for (const insert of ops.filter((o) => o.opcode === 'Insert' && (o.p5 & OPFLAG_ISUPDATE) !== 0)) {
    for (const target of cursors.get(insert.p1) ?? []) {
      if (target.kind !== 'object' || target.object.kind !== 'table') continue;
      const table = target.object;
      const record = flow.soleWriter(insert.p2);
      if (!record || record.opcode !== 'MakeRecord') {
        profile.columnsWritten.add(columnKey(table.name.toLowerCase(), ANY_COLUMN));
        continue;
      }
      for (let field = 0; field < record.p2; field += 1) {
        const column = table.fields[field] ?? ANY_COLUMN;
        if (column === table.rowidAlias) continue;
        if (!carried.hasSlot(insert.addr, field)) profile.columnsWritten.add(columnKey(table.name.toLowerCase(), column));
      }
    }
  }
}

/** Who reads and writes each register in one program. */
class RegisterFlow {
  private readonly uses: RegisterUse[];

  constructor(readonly ops: Op[]) {
    this.uses = ops.map(registerUse);
  }

  readers(r: number): Op[] {
    return this.ops.filter((_, i) => covers((this.uses[i] as RegisterUse).reads, r));
  }

  writers(r: number): Op[] {
    return this.ops.filter((_, i) => covers((this.uses[i] as RegisterUse).writes, r));
  }

  /** The one op that writes `r`, ignoring `Null` initialisation placed before it. */
  soleWriter(r: number): Op | undefined {
    const writers = this.writers(r);
    const real = writers.filter((w) => w.opcode !== 'Null');
    if (real.length !== 1) return undefined;
    const only = real[0] as Op;
    return writers.every((w) => w === only || w.addr < only.addr) ? only : undefined;
  }
}

interface Carried {
  has(addr: number): boolean;
  hasSlot(insertAddr: number, field: number): boolean;
}

/**
 * `Column` loads whose value provably goes only back into the same field of the same row (the record an
 * UPDATE rebuilds: `Column c k r` → `MakeRecord base n rec` with `r = base + k` → `Insert c rec`, flag
 * ISUPDATE), or only into the key of an `IdxDelete` on an index of the same table. Affinity on the record
 * range is allowed; any other reader or writer of the register, or any opcode the register table does not
 * know, disproves it.
 */
function carriedReads(ops: Op[], cursors: Map<number, CursorTarget[]>, flow: RegisterFlow): Carried {
  const carriedAddrs = new Set<number>();
  const slots = new Set<string>();
  const tableOf = (cursor: number): string | undefined => {
    const targets = cursors.get(cursor) ?? [];
    const names = new Set(targets.map((t) => (t.kind === 'object' ? tableName(t.object) : '\0')));
    return names.size === 1 && !names.has('\0') ? [...names][0] : undefined;
  };
  const isTableWriteCursor = (cursor: number): boolean => {
    const targets = cursors.get(cursor) ?? [];
    return targets.length === 1 && targets[0]?.kind === 'object' && targets[0].write && targets[0].object.kind === 'table';
  };

  for (const column of ops.filter((o) => o.opcode === 'Column')) {
    const r = column.p3;
    const writers = flow.writers(r);
    if (!writers.every((w) => w === column || (w.opcode === 'Null' && w.addr < column.addr) || w.opcode === 'Affinity')) continue;
    const readers = flow.readers(r);
    const table = tableOf(column.p1);
    if (!table) continue;

    if (readers.length > 0 && readers.every((x) => x.opcode === 'IdxDelete' && tableOf(x.p1) === table && cursorIsIndex(cursors, x.p1))) {
      carriedAddrs.add(column.addr);
      continue;
    }

    if (!isTableWriteCursor(column.p1)) continue;
    const records = readers.filter((x) => x.opcode === 'MakeRecord');
    if (records.length !== 1) continue;
    const record = records[0] as Op;
    if (!readers.every((x) => x === record || x.opcode === 'Affinity' || x.opcode === 'TypeCheck')) continue;
    if (r - record.p1 !== column.p2 || record.addr < column.addr) continue;
    if (flow.soleWriter(record.p3) !== record) continue;
    const consumers = flow.readers(record.p3);
    const insert = consumers[0];
    if (consumers.length !== 1 || !insert || insert.opcode !== 'Insert' || insert.p1 !== column.p1 || insert.p2 !== record.p3) continue;
    if ((insert.p5 & OPFLAG_ISUPDATE) === 0 || insert.addr < record.addr) continue;
    carriedAddrs.add(column.addr);
    slots.add(`${insert.addr}:${column.p2}`);
  }
  return { has: (addr) => carriedAddrs.has(addr), hasSlot: (insertAddr, field) => slots.has(`${insertAddr}:${field}`) };
}

function cursorIsIndex(cursors: Map<number, CursorTarget[]>, cursor: number): boolean {
  const targets = cursors.get(cursor) ?? [];
  return targets.length > 0 && targets.every((t) => t.kind === 'object' && t.object.kind === 'index');
}
