import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type { Kysely, Transaction } from 'kysely';
import type { Capability } from '../auth/types.js';
import type { ReadSnapshot } from '../db/snapshot.js';
import type { Database } from '../db/schema.js';
import { TinyCloudError } from '../errors.js';
import { blake3, createBlake3Hasher } from '../ids/blake3.js';
import { CID, DAG_CBOR_CODEC, RAW_CODEC, cidOfDigest } from '../ids/cid.js';
import { compareEpochPosition } from '../services/kv/store.js';
import { databaseName, isSqlCapability, type SqlService } from '../services/sql/index.js';
import { sweepAbandonedFiles } from '../abandoned-files.js';
import { asBlake3Cid, cidText, epochCid, invalid, rawCid, type SectionEntry } from './format.js';
import { decodeEvent } from './history-blocks.js';
import type { BlockHead, CarStreamReader } from './reader.js';
import { backupInto, quickCheck, vacuumInto } from './sqlite-worker.js';

/**
 * The `sql` section of a space export (docs/car-format.md): one snapshot per SQL database of the space, each a
 * run of raw BLAKE3 blocks (`SQL_CHUNK` bytes, the last one shorter), listed in the manifest with the database's
 * name, size, and the last SQL event of the history it includes.
 */
export const SQL_SECTION = 'sql';
export const SQL_SECTION_VERSION = 1;
export const SQL_CHUNK = 1024 * 1024;
/** The schema cookie every snapshot carries (header offset 40): `VACUUM INTO` writes the source's plus one. */
const SNAPSHOT_SCHEMA_COOKIE = 1;
const SQLITE_MAGIC = Buffer.from('SQLite format 3\u0000', 'latin1');
const PAGE = 200;

type Db = Kysely<Database> | Transaction<Database>;

/** Where an event stands in a space's history, ordered as KV's last writer wins orders writes. */
export interface SqlPosition {
  seq: number;
  epochSeq: number;
  /** Multihash of the epoch. */
  epoch: Uint8Array;
  /** Multihash of the invocation. */
  invocation: Uint8Array;
}

export interface SqlDatabaseEntry {
  name: string;
  /** Bytes of the snapshot file. */
  size: number;
  /** The epoch, seq and invocation of the last SQL event on this database that the snapshot includes. */
  epoch: CID;
  seq: number;
  event: CID;
  /** The file's blocks in order (raw, BLAKE3). */
  chunks: CID[];
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The manifest's `sections.sql`. Databases by name (UTF-16 code unit order, as JavaScript sorts strings). */
export function sqlSectionEntry(databases: readonly SqlDatabaseEntry[]): SectionEntry {
  return {
    version: SQL_SECTION_VERSION,
    // An older node would import the history without the databases: it must refuse the file instead.
    required: true,
    blocks: databases.reduce((n, d) => n + d.chunks.length, 0),
    databases: databases.map((d) => ({ name: d.name, size: d.size, epoch: d.epoch, seq: d.seq, event: d.event, chunks: d.chunks })),
  };
}

/** `sections.sql` of an untrusted manifest, every field checked. */
export function decodeSqlSection(section: SectionEntry, root: CID): SqlDatabaseEntry[] {
  const bad = (what: string) => invalid(`manifest ${cidText(root)}: section sql: ${what}`, { cid: cidText(root) });
  if (section.version !== SQL_SECTION_VERSION) throw bad(`version ${section.version} is not supported (this node reads version ${SQL_SECTION_VERSION})`);
  if (!Array.isArray(section.databases)) throw bad('databases is not a list');
  let blocks = 0;
  let previous: string | undefined;
  const entries = section.databases.map((d: unknown): SqlDatabaseEntry => {
    if (!isRecord(d) || typeof d.name !== 'string' || d.name === '' || !isCount(d.size) || d.size === 0 || !isCount(d.seq) || !Array.isArray(d.chunks)) {
      throw bad('a database is not {name, size, epoch, seq, event, chunks}');
    }
    const name = d.name;
    const epoch = asBlake3Cid(d.epoch, DAG_CBOR_CODEC);
    const event = asBlake3Cid(d.event, RAW_CODEC);
    if (!epoch || !event) throw bad(`database ${JSON.stringify(name)}: epoch is not an epoch CID or event not a raw CID`);
    if (d.chunks.length === 0) throw bad(`database ${JSON.stringify(name)} has no chunks`);
    const chunks = d.chunks.map((c: unknown) => asBlake3Cid(c, RAW_CODEC) ?? (() => { throw bad(`database ${JSON.stringify(name)}: a chunk is not a raw BLAKE3 CID`); })());
    if (previous !== undefined && !(previous < name)) throw bad('databases are not in ascending name order, each once');
    previous = name;
    blocks += chunks.length;
    return { name, size: d.size, epoch, seq: d.seq, event, chunks };
  });
  if (blocks !== section.blocks) throw bad(`its databases list ${blocks} chunks, but it counts ${section.blocks} blocks`);
  return entries;
}

/** The SQL databases of `space` an invocation's capabilities name (the SQL service takes exactly one). */
export function sqlDatabasesOf(capabilities: readonly Capability[], space: string): string[] {
  const names = new Set<string>();
  for (const cap of capabilities) {
    const t = cap.target;
    if (!isSqlCapability(cap) || t.kind !== 'tinycloud' || t.space.text !== space) continue;
    names.add(databaseName(t.path));
  }
  return [...names];
}

/**
 * The last SQL event on each of `names` among the events of `space` with a seq of at least `minSeq`: the newest
 * invocation (by (seq, epoch_seq, id), as KV orders writes) that made no KV op and holds a SQL capability on the
 * database. The SQL service records exactly one such event per write that changed something.
 */
export async function lastSqlEvents(db: Db, space: string, names: ReadonlySet<string>, minSeq: number): Promise<Map<string, SqlPosition>> {
  const found = new Map<string, SqlPosition>();
  if (names.size === 0) return found;
  let cursor: SqlPosition | undefined;
  for (;;) {
    let query = db
      .selectFrom('event_order as e')
      .innerJoin('invocation as i', 'i.id', 'e.event')
      .select(['e.event', 'e.seq', 'e.epoch', 'e.epoch_seq', 'i.serialization'])
      .where('e.space', '=', space)
      .where('e.kind', '=', 'invocation')
      .where('e.seq', '>=', minSeq)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('kv_write as w').select('w.key').where('w.space', '=', space).whereRef('w.seq', '=', 'e.seq').whereRef('w.epoch_seq', '=', 'e.epoch_seq').whereRef('w.invocation', '=', 'e.event'))),
      )
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('kv_delete as k').select('k.key').where('k.space', '=', space).whereRef('k.seq', '=', 'e.seq').whereRef('k.epoch_seq', '=', 'e.epoch_seq').whereRef('k.invocation', '=', 'e.event'))),
      );
    if (cursor) {
      const c = cursor;
      query = query.where((eb) =>
        eb.or([
          eb('e.seq', '<', c.seq),
          eb.and([eb('e.seq', '=', c.seq), eb('e.epoch_seq', '<', c.epochSeq)]),
          eb.and([eb('e.seq', '=', c.seq), eb('e.epoch_seq', '=', c.epochSeq), eb('e.event', '<', c.invocation)]),
        ]),
      );
    }
    const rows = await query.orderBy('e.seq', 'desc').orderBy('e.epoch_seq', 'desc').orderBy('e.event', 'desc').limit(PAGE).execute();
    for (const row of rows) {
      const position: SqlPosition = { seq: Number(row.seq), epochSeq: Number(row.epoch_seq), epoch: new Uint8Array(row.epoch), invocation: new Uint8Array(row.event) };
      cursor = position;
      const decoded = await decodeEvent(new Uint8Array(row.serialization));
      if (!decoded.ok) continue;
      for (const name of sqlDatabasesOf(decoded.value.info.capabilities, space)) {
        if (names.has(name) && !found.has(name)) found.set(name, position);
      }
      if (found.size === names.size) return found;
    }
    if (rows.length < PAGE) return found;
  }
}

// ---- files ------------------------------------------------------------------------------------------------

/** `<sqlPath>/.car`: snapshots being exported or imported, and copies kept to undo an install. */
function workDir(sqlDir: string): string {
  const dir = path.join(sqlDir, '.car');
  mkdirSync(dir, { recursive: true });
  sweepAbandonedFiles(dir, WORK_NAME); // files of imports/exports whose process died
  return dir;
}

const WORK_NAME = /^(?:export|import|rollback)-(\d+)-[0-9a-f]{12}\.sqlite3(?:-journal|-wal|-shm)?$/;

function workFile(dir: string, kind: 'export' | 'import' | 'rollback'): string {
  return path.join(dir, `${kind}-${process.pid}-${randomBytes(6).toString('hex')}.sqlite3`);
}

function removeFile(file: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

interface SqliteHeader {
  pageSize: number;
  pages: number;
  /** Both file-format bytes are 1: a rollback-journal database (never WAL). */
  rollbackJournal: boolean;
  /** The in-header page count is valid (version-valid-for equals the change counter). */
  countValid: boolean;
}

function readHeader(file: string): SqliteHeader | undefined {
  const fd = openSync(file, 'r');
  try {
    const h = Buffer.alloc(100);
    if (readSync(fd, h, 0, 100, 0) < 100 || !h.subarray(0, 16).equals(SQLITE_MAGIC)) return undefined;
    const raw = h.readUInt16BE(16);
    return {
      pageSize: raw === 1 ? 65536 : raw,
      pages: h.readUInt32BE(28),
      rollbackJournal: h[18] === 1 && h[19] === 1,
      countValid: h.readUInt32BE(92) === h.readUInt32BE(24),
    };
  } finally {
    closeSync(fd);
  }
}

const validPageSize = (n: number): boolean => n >= 512 && n <= 65536 && (n & (n - 1)) === 0;

// ---- export -----------------------------------------------------------------------------------------------

/** One database's snapshot, ready to be written: its manifest entry and the file its chunks are read from. */
export interface SqlExportCopy {
  entry: SqlDatabaseEntry;
  file: string;
}

/** Hold `run`'s lock (a FIFO per-database lock) until the returned function is called. */
function hold(run: (fn: () => Promise<void>) => Promise<unknown>): Promise<() => void> {
  return new Promise((acquired, failed) => {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    run(() => {
      acquired(release);
      return done;
    }).catch(failed);
  });
}

interface HeldDatabase {
  release(): void;
}

/**
 * The SQL side of an export's snapshot. Every database of the space is locked for writing (the service's own
 * per-database writer lock, then SQLite's write lock, which also stops a `serve` in another process) before the
 * metadata snapshot is opened, so each file holds exactly the SQL events the snapshot holds: a write takes the
 * same lock before it runs and releases it only after both its event and its SQLite commit. Each database is
 * then copied with `VACUUM INTO` (on a worker thread) and unlocked; readers are never held up.
 */
export class SqlExportSession {
  readonly #sql: SqlService;
  readonly #space: string;
  readonly #held = new Map<string, HeldDatabase>();
  readonly #files: string[] = [];

  private constructor(sql: SqlService, space: string) {
    this.#sql = sql;
    this.#space = space;
  }

  /** Lock the space's databases, then open the metadata snapshot (again, with more locks, if a database appeared meanwhile). */
  static async open(sql: SqlService, space: string, openSnapshot: () => Promise<ReadSnapshot>): Promise<{ session: SqlExportSession; snapshot: ReadSnapshot }> {
    const session = new SqlExportSession(sql, space);
    try {
      const names = new Set((await sql.databases(space)).map((d) => d.name));
      for (let attempt = 0; ; attempt++) {
        await session.#lock([...names].sort());
        const snapshot = await openSnapshot();
        let missing: string[];
        try {
          const rows = await snapshot.db.selectFrom('sql_database').select('name').where('space', '=', space).execute();
          missing = rows.map((r) => r.name).filter((name) => !session.#held.has(name));
        } catch (error) {
          await snapshot.release();
          throw error;
        }
        if (missing.length === 0) return { session, snapshot };
        await snapshot.release();
        session.#releaseAll();
        for (const name of missing) names.add(name);
        if (attempt >= 8) throw new TinyCloudError('CONFLICT', `SQL databases of ${space} keep appearing while the export starts; try again`);
      }
    } catch (error) {
      session.close();
      throw error;
    }
  }

  /** In name order, so two sessions never wait for each other. */
  async #lock(names: string[]): Promise<void> {
    const pool = this.#sql.pool;
    for (const name of names) {
      const release = await hold((fn) => pool.exclusive(this.#space, name, fn));
      let connection: SqliteDatabase.Database | undefined;
      try {
        const file = pool.file(this.#space, name);
        if (existsSync(file)) {
          connection = new SqliteDatabase(file, { fileMustExist: true });
          connection.pragma('busy_timeout = 10000');
          connection.exec('BEGIN IMMEDIATE');
        }
      } catch (error) {
        connection?.close();
        release();
        throw error;
      }
      this.#held.set(name, {
        release: () => {
          try {
            if (connection?.inTransaction) connection.exec('ROLLBACK');
          } finally {
            connection?.close();
            release();
          }
        },
      });
    }
  }

  #release(name: string): void {
    const held = this.#held.get(name);
    this.#held.delete(name);
    held?.release();
  }

  #releaseAll(): void {
    for (const name of [...this.#held.keys()]) this.#release(name);
  }

  /**
   * The snapshots to export, read from the metadata snapshot `db`: every database with a SQL event after `after`
   * (all of them for a full export), copied, normalized and chunked. Every lock is released by the time this returns.
   */
  async copies(db: Db, after: number): Promise<SqlExportCopy[]> {
    const space = this.#space;
    const pool = this.#sql.pool;
    try {
      const names = [...this.#held.keys()].sort();
      const positions = await lastSqlEvents(db, space, new Set(names), after + 1);
      const dir = names.length > 0 ? workDir(pool.dir) : '';
      const out: SqlExportCopy[] = [];
      for (const name of names) {
        const source = pool.file(space, name);
        const position = positions.get(name);
        if (!existsSync(source) || !position) {
          // No file: its first write never committed. No event after `after`: the export it continues has it.
          if (existsSync(source) && after < 0) {
            throw new TinyCloudError('INTERNAL', `SQL database ${JSON.stringify(name)} of ${space} has no SQL event in the space's history`);
          }
          this.#release(name);
          continue;
        }
        const file = workFile(dir, 'export');
        this.#files.push(file);
        await vacuumInto(source, file);
        this.#release(name);
        normalizeSnapshot(file);
        const { chunks, size } = await chunkCids(file);
        out.push({ file, entry: { name, size, epoch: epochCid(position.epoch), seq: position.seq, event: rawCid(position.invocation), chunks } });
      }
      return out;
    } finally {
      this.#releaseAll();
    }
  }

  /** Release what is still held and delete the copies. */
  close(): void {
    this.#releaseAll();
    for (const file of this.#files.splice(0)) removeFile(file);
  }
}

/**
 * `VACUUM INTO` lays out a file from its contents alone (tables, then indexes, rows in key order, no free pages)
 * but writes the source's schema cookie plus one; a fixed cookie makes identical contents identical bytes.
 */
function normalizeSnapshot(file: string): void {
  const header = readHeader(file);
  if (!header?.rollbackJournal) throw new TinyCloudError('INTERNAL', `VACUUM INTO wrote ${file} in an unexpected format`);
  const fd = openSync(file, 'r+');
  try {
    const cookie = Buffer.alloc(4);
    cookie.writeUInt32BE(SNAPSHOT_SCHEMA_COOKIE);
    writeSync(fd, cookie, 0, 4, 40);
  } finally {
    closeSync(fd);
  }
}

async function chunkCids(file: string): Promise<{ chunks: CID[]; size: number }> {
  const chunks: CID[] = [];
  let size = 0;
  for await (const chunk of readChunks(file)) {
    chunks.push(cidOfDigest(await blake3(chunk), RAW_CODEC));
    size += chunk.length;
  }
  return { chunks, size };
}

/** The file in `SQL_CHUNK` pieces, each a fresh buffer (the CAR writer keeps them until they are sent). */
export async function* readChunks(file: string): AsyncGenerator<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(SQL_CHUNK);
      let filled = 0;
      while (filled < SQL_CHUNK) {
        const { bytesRead } = await handle.read(buffer, filled, SQL_CHUNK - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled > 0) yield buffer.subarray(0, filled);
      if (filled < SQL_CHUNK) return;
    }
  } finally {
    await handle.close();
  }
}

// ---- import -----------------------------------------------------------------------------------------------

interface StagedDatabase {
  entry: SqlDatabaseEntry;
  file: string;
  pageSize: number;
  position: SqlPosition;
  /** When the source node accepted the event (the note's time): the `sql_database` row's time. */
  at: number;
}

/** What an import did with one database of the file. */
export interface SqlImportResult {
  name: string;
  size: number;
  seq: number;
  /** false: this node's copy has an SQL event at or after the snapshot's, so it was kept (last writer wins). */
  installed: boolean;
}

interface ImportHold {
  existed: boolean;
  finish(committed: boolean): void;
  /** Settles once the pool has dealt with the file (deleted it, for a database created by an import that failed). */
  done: Promise<unknown>;
  release(): void;
}

/**
 * The SQL side of an import. While the CAR streams: the last SQL event per database in the file's history
 * (`noteEvent`), then each snapshot's chunks hashed into a temp file in the SQL dir, fsynced and checked as a
 * SQLite database. Then, under the databases' writer locks: which snapshots win (`decide`, inside the replay
 * transaction), installing them (`install`: a new database is linked into place, an existing one replaced in
 * one SQLite transaction through the backup API, so open connections and other processes see old or new, never
 * a mix), their `sql_database` rows (`record`, in the replay transaction), and undoing the installs if the
 * metadata transaction fails after all (`restore`).
 */
export class SqlImport {
  readonly #sql: SqlService;
  #space = '';
  readonly #events = new Map<string, { position: SqlPosition; at: number }>();
  readonly #staged: StagedDatabase[] = [];
  readonly #files: string[] = [];
  readonly #holds = new Map<string, ImportHold>();
  readonly #rollbacks: { name: string; file: string; copy: string }[] = [];

  constructor(sql: SqlService) {
    this.#sql = sql;
  }

  begin(space: string): void {
    this.#space = space;
  }

  /** Databases the file carries snapshots of. */
  get pending(): boolean {
    return this.#staged.length > 0;
  }

  /** One staged event; only invocations without KV ops can be SQL writes. */
  noteEvent(capabilities: readonly Capability[], position: SqlPosition, at: number): void {
    for (const name of sqlDatabasesOf(capabilities, this.#space)) {
      const known = this.#events.get(name);
      if (!known || compareEpochPosition(position, known.position) > 0) this.#events.set(name, { position, at });
    }
  }

  /** Read the section's blocks: every chunk hashed while it is written to the database's temp file. */
  async stage(entries: readonly SqlDatabaseEntry[], reader: CarStreamReader, next: (what: string) => Promise<BlockHead>): Promise<void> {
    const dir = workDir(this.#sql.pool.dir);
    for (const entry of entries) {
      const label = `SQL database ${JSON.stringify(entry.name)}`;
      const last = this.#events.get(entry.name);
      if (!last || !sameBytes(last.position.invocation, entry.event.multihash.bytes) || !sameBytes(last.position.epoch, entry.epoch.multihash.bytes) || last.position.seq !== entry.seq) {
        const actual = last ? `invocation ${cidText(rawCid(last.position.invocation))} (seq ${last.position.seq})` : 'none';
        throw invalid(`the snapshot of ${label} is said to follow invocation ${cidText(entry.event)} in epoch ${cidText(entry.epoch)} (seq ${entry.seq}), but the last SQL event on it in this file is ${actual}`, {
          cid: cidText(entry.event),
        });
      }
      const file = workFile(dir, 'import');
      this.#files.push(file);
      const handle = await open(file, 'wx');
      let written = 0;
      try {
        for (const [n, chunk] of entry.chunks.entries()) {
          const what = `chunk ${n + 1} of ${entry.chunks.length} of ${label}`;
          const head = await next(`${what} (${cidText(chunk)})`);
          if (!head.cid.equals(chunk)) throw invalid(`block #${head.index} is ${cidText(head.cid)} where ${what} (${cidText(chunk)}) was expected`, { cid: cidText(head.cid) });
          if (written + head.length > entry.size) throw invalid(`block ${cidText(chunk)} (#${head.index}, ${what}) runs past the ${entry.size} bytes the manifest gives the database`, { cid: cidText(chunk) });
          const hasher = await createBlake3Hasher();
          for await (const piece of reader.pieces()) {
            hasher.update(piece);
            await handle.write(piece);
          }
          written += head.length;
          const digest = hasher.digest();
          if (!sameBytes(digest, chunk.multihash.digest)) {
            throw invalid(`block ${cidText(chunk)} (#${head.index}, ${what}): its bytes hash to ${hex(digest)}, not to its CID`, { cid: cidText(chunk) });
          }
        }
        if (written !== entry.size) throw invalid(`${label}: its chunks hold ${written} bytes, the manifest says ${entry.size}`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const header = readHeader(file);
      if (!header || !validPageSize(header.pageSize) || !header.rollbackJournal || !header.countValid || header.pages * header.pageSize !== entry.size) {
        throw invalid(`${label}: the snapshot is not a SQLite database file as a node exports it (rollback journal, page count matching its size)`, { cid: cidText(entry.chunks[0]!) });
      }
      let problems: string[];
      try {
        problems = await quickCheck(file);
      } catch (error) {
        problems = [(error as Error).message];
      }
      if (problems.length > 0) throw invalid(`${label}: the snapshot is not a sound SQLite database: ${problems.join('; ')}`, { cid: cidText(entry.chunks[0]!) });
      this.#staged.push({ entry, file, pageSize: header.pageSize, position: last.position, at: last.at });
    }
  }

  /**
   * Take every staged database's writer lock (in name order), and mark the ones that do not exist yet as being
   * created: until the import commits, this node's readers see no such database, and if it does not, the pool
   * deletes the file.
   */
  async lock(): Promise<void> {
    const pool = this.#sql.pool;
    const space = this.#space;
    for (const name of this.#staged.map((s) => s.entry.name).sort()) {
      const release = await hold((fn) => pool.exclusive(space, name, fn));
      try {
        let done!: Promise<unknown>;
        const created = await new Promise<{ existed: boolean; finish(committed: boolean): void }>((resolve, reject) => {
          done = pool.creating(space, name, (_file, existed) =>
            new Promise((settle) => resolve({ existed, finish: (committed) => settle({ value: undefined, committed }) })),
          );
          done.catch(reject);
        });
        this.#holds.set(name, { ...created, done, release });
      } catch (error) {
        release();
        throw error;
      }
    }
  }

  /**
   * For each staged database, whether its snapshot replaces this node's: always when the node has no such
   * database; otherwise only when the node's history has no SQL event on it at or after the snapshot's (last
   * writer wins by epoch position, ties by invocation id, as KV). Read in the replay transaction before the
   * file's epochs are added. Refuses a snapshot that cannot replace the database here (another page size).
   */
  async decide(trx: Transaction<Database>): Promise<Map<string, boolean>> {
    const pool = this.#sql.pool;
    const decisions = new Map<string, boolean>();
    const existing = this.#staged.filter((s) => existsSync(pool.file(this.#space, s.entry.name)));
    const minSeq = Math.min(...existing.map((s) => s.position.seq));
    const here = await lastSqlEvents(trx, this.#space, new Set(existing.map((s) => s.entry.name)), Number.isFinite(minSeq) ? minSeq : 0);
    for (const staged of this.#staged) {
      const name = staged.entry.name;
      const file = pool.file(this.#space, name);
      if (!existsSync(file)) {
        decisions.set(name, true);
        continue;
      }
      const header = readHeader(file);
      if (header && header.pageSize !== staged.pageSize) {
        throw invalid(`SQL database ${JSON.stringify(name)}: the snapshot's pages are ${staged.pageSize} bytes, this node's database has ${header.pageSize}; it cannot replace it`, {
          cid: cidText(staged.entry.chunks[0]!),
        });
      }
      const newest = here.get(name);
      decisions.set(name, !newest || compareEpochPosition(newest, staged.position) < 0);
    }
    return decisions;
  }

  /** The `sql_database` rows of the databases installed (their size counts towards the space's quota). */
  async record(trx: Transaction<Database>, decisions: ReadonlyMap<string, boolean>): Promise<void> {
    for (const staged of this.#staged) {
      if (!decisions.get(staged.entry.name)) continue;
      const row = { size_bytes: staged.entry.size, updated_at: staged.at };
      const updated = await trx.updateTable('sql_database').set(row).where('space', '=', this.#space).where('name', '=', staged.entry.name).executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        await trx.insertInto('sql_database').values({ space: this.#space, name: staged.entry.name, created_at: staged.at, ...row }).execute();
      }
    }
  }

  /** Put the winning snapshots in place (under the locks `lock` took). */
  async install(decisions: ReadonlyMap<string, boolean>): Promise<void> {
    const pool = this.#sql.pool;
    for (const staged of this.#staged) {
      const name = staged.entry.name;
      if (!decisions.get(name)) continue;
      const file = pool.file(this.#space, name);
      if (this.#holds.get(name)?.existed) {
        const copy = workFile(path.dirname(staged.file), 'rollback');
        this.#files.push(copy);
        await backupInto(file, copy);
        this.#rollbacks.push({ name, file, copy });
        await backupInto(staged.file, file);
      } else {
        mkdirSync(path.dirname(file), { recursive: true });
        // Left by a database of this name that no longer exists: they would be read as part of the new file.
        for (const suffix of ['-journal', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
        try {
          linkSync(staged.file, file);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          throw new TinyCloudError('CONFLICT', `SQL database ${JSON.stringify(name)} of ${this.#space} was created by another process during the import; import again`);
        }
        fsyncDir(path.dirname(file));
      }
    }
  }

  /** After a failed commit: the replaced databases get their previous contents back (new ones are deleted on release). */
  async restore(): Promise<void> {
    for (const { file, copy } of this.#rollbacks.splice(0).reverse()) await backupInto(copy, file);
  }

  /** The metadata transaction committed: the installs stand, and the service rereads the recorded sizes. */
  committed(decisions: ReadonlyMap<string, boolean>): SqlImportResult[] {
    this.#rollbacks.length = 0;
    for (const hold of this.#holds.values()) hold.finish(true);
    const results: SqlImportResult[] = [];
    for (const staged of this.#staged) {
      const installed = decisions.get(staged.entry.name) === true;
      if (installed) this.#sql.forgetRecordedSize(this.#space, staged.entry.name);
      results.push({ name: staged.entry.name, size: staged.entry.size, seq: staged.entry.seq, installed });
    }
    return results;
  }

  /** Release the locks (a database created by an import that did not commit is deleted first) and the temp files. */
  async close(): Promise<void> {
    for (const hold of this.#holds.values()) {
      hold.finish(false);
      await hold.done.catch(() => undefined);
      hold.release();
    }
    this.#holds.clear();
    for (const file of this.#files.splice(0)) removeFile(file);
  }
}
