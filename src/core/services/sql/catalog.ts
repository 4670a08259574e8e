import type BetterSqlite3 from 'better-sqlite3';

/** A column slot as SQLite reports it: a named column, the rowid, or something not attributable (`*`). */
export type ColumnName = string;
export const ROWID = '#rowid';
export const ANY_COLUMN = '*';

export interface CatalogTable {
  kind: 'table';
  name: string;
  /** Declared order, hidden and generated columns included (`PRAGMA table_xinfo`). */
  columns: string[];
  /** Record field index → column, as `OP_Column` P2 counts them on a cursor over the table's own b-tree. */
  fields: ColumnName[];
  /** The INTEGER PRIMARY KEY column that aliases the rowid, if any. */
  rowidAlias?: string;
  virtual: boolean;
  withoutRowid: boolean;
}

export interface CatalogIndex {
  kind: 'index';
  name: string;
  table: string;
  /** Index key position → table column (`#rowid` for the trailing rowid, `*` for an expression). */
  fields: ColumnName[];
}

export type CatalogObject = CatalogTable | CatalogIndex;

/**
 * The schema as the VDBE sees it: b-tree root pages (the P2 of `OpenRead`/`OpenWrite`) mapped to tables and
 * indexes, each with its record layout. Rebuilt whenever `PRAGMA schema_version` moves.
 */
export class Catalog {
  readonly byRoot = new Map<number, CatalogObject>();
  readonly tables = new Map<string, CatalogTable>();

  private constructor(readonly schemaVersion: number) {}

  static load(db: BetterSqlite3.Database, schemaVersion: number): Catalog {
    const catalog = new Catalog(schemaVersion);
    const list = db.prepare('PRAGMA main.table_list').safeIntegers(false).all() as { schema: string; name: string; type: string; wr: number }[];
    const kinds = new Map(list.filter((t) => t.schema === 'main').map((t) => [t.name, t]));
    const rows = db.prepare("SELECT type, name, tbl_name, rootpage FROM main.sqlite_schema WHERE type IN ('table','index')").safeIntegers(false).all() as {
      type: string;
      name: string;
      tbl_name: string;
      rootpage: number | null;
    }[];

    const schemaTable = tableFrom(db, 'sqlite_schema', false, false);
    catalog.byRoot.set(1, schemaTable);
    catalog.tables.set('sqlite_schema', schemaTable);

    for (const row of rows.filter((r) => r.type === 'table')) {
      const info = kinds.get(row.name);
      const table = tableFrom(db, row.name, info?.type === 'virtual', info?.wr === 1);
      catalog.tables.set(row.name.toLowerCase(), table);
      if (row.rootpage) catalog.byRoot.set(row.rootpage, table);
    }
    for (const row of rows.filter((r) => r.type === 'index' && r.rootpage)) {
      const table = catalog.tables.get(row.tbl_name.toLowerCase());
      const fields = indexFields(db, row.name, table);
      catalog.byRoot.set(row.rootpage as number, { kind: 'index', name: row.name, table: row.tbl_name, fields });
    }
    // A WITHOUT ROWID table is stored in its primary-key b-tree: its fields follow that index's order.
    for (const table of catalog.tables.values()) {
      if (!table.withoutRowid) continue;
      const pk = (db.prepare(`PRAGMA main.index_list(${quoteIdentifier(table.name)})`).safeIntegers(false).all() as { name: string; origin: string }[]).find(
        (i) => i.origin === 'pk',
      );
      if (pk) table.fields = indexFields(db, pk.name, table);
    }
    return catalog;
  }
}

function tableFrom(db: BetterSqlite3.Database, name: string, virtual: boolean, withoutRowid: boolean): CatalogTable {
  const cols = db.prepare(`PRAGMA main.table_xinfo(${quoteIdentifier(name)})`).safeIntegers(false).all() as {
    name: string;
    type: string;
    pk: number;
    hidden: number;
  }[];
  const columns = cols.map((c) => c.name);
  // Stored columns keep their order; VIRTUAL generated columns (hidden 2) are not in the record but are
  // numbered after the stored ones (sqlite3TableColumnToStorage).
  const fields = [...cols.filter((c) => c.hidden !== 2), ...cols.filter((c) => c.hidden === 2)].map((c) => c.name);
  const pks = cols.filter((c) => c.pk > 0);
  const rowidAlias = !withoutRowid && !virtual && pks.length === 1 && pks[0]?.type.toUpperCase() === 'INTEGER' ? pks[0].name : undefined;
  return { kind: 'table', name, columns, fields, rowidAlias, virtual, withoutRowid };
}

function indexFields(db: BetterSqlite3.Database, index: string, table: CatalogTable | undefined): ColumnName[] {
  const rows = db.prepare(`PRAGMA main.index_xinfo(${quoteIdentifier(index)})`).safeIntegers(false).all() as { seqno: number; cid: number; name: string | null }[];
  return rows
    .sort((a, b) => a.seqno - b.seqno)
    .map((r) => (r.cid === -1 ? (table?.rowidAlias ?? ROWID) : r.cid === -2 || r.name === null ? ANY_COLUMN : r.name));
}

export const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;
