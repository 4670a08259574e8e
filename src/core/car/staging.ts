import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import type { KvOp } from '../events/index.js';
import { sweepAbandonedFiles } from '../abandoned-files.js';
import type { EventKind } from './format.js';

export interface StagedEvent {
  id: Uint8Array;
  kind: EventKind;
  bytes: Uint8Array;
  at: number;
}

export interface StagedEpoch {
  index: number;
  id: Uint8Array;
  seq: number;
  parents: Uint8Array[];
  /** Event ids in epoch order, with their kind and time from the note. */
  events: { id: Uint8Array; kind: EventKind; at: number }[];
}

export interface StagedOp {
  cid: Uint8Array;
  op: KvOp;
}

const MULTIHASH = 34;

/**
 * Everything of an import but the content blobs stored as blocks, held in a temporary SQLite file while the CAR
 * streams in, so memory stays flat however long the history is: small content (the bytes the replay stores in
 * its block rows) is held here too. Deleted on `close()`.
 */
export class ImportStaging {
  readonly #db: SqliteDatabase.Database;
  readonly #file: string;
  readonly #insertEvent: SqliteDatabase.Statement;
  readonly #insertEpoch: SqliteDatabase.Statement;
  readonly #insertEntry: SqliteDatabase.Statement;
  readonly #insertOp: SqliteDatabase.Statement;
  readonly #insertParent: SqliteDatabase.Statement;
  readonly #insertContent: SqliteDatabase.Statement;
  readonly #selectContent: SqliteDatabase.Statement;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    sweepAbandonedFiles(dir, STAGING_NAME); // staging files of imports whose process died
    this.#file = path.join(dir, `import-${process.pid}-${randomBytes(6).toString('hex')}.db`);
    this.#db = new SqliteDatabase(this.#file);
    this.#db.pragma('journal_mode = OFF');
    this.#db.pragma('synchronous = OFF');
    this.#db.exec(`
      create table event (id blob primary key, kind text not null, bytes blob not null, at real not null, proof integer not null);
      create table epoch (idx integer primary key, id blob not null unique, seq integer not null, parents blob not null);
      create table entry (epoch integer not null, pos integer not null, event blob not null, kind text not null, at real not null, primary key (epoch, pos));
      create table op (epoch integer not null, pos integer not null, n integer not null, cid blob not null, kind text not null, key text not null,
        value blob, metadata text, version_seq integer, version_invocation blob, version_epoch_seq integer, primary key (epoch, pos, n));
      create index op_value on op (value);
      create table parent (parent blob not null);
      create index parent_parent on parent (parent);
      create table content (digest blob primary key, bytes blob not null);
    `);
    this.#insertEvent = this.#db.prepare('insert into event (id, kind, bytes, at, proof) values (?, ?, ?, ?, ?)');
    this.#insertEpoch = this.#db.prepare('insert into epoch (idx, id, seq, parents) values (?, ?, ?, ?)');
    this.#insertEntry = this.#db.prepare('insert into entry (epoch, pos, event, kind, at) values (?, ?, ?, ?, ?)');
    this.#insertParent = this.#db.prepare('insert into parent (parent) values (?)');
    this.#insertContent = this.#db.prepare('insert into content (digest, bytes) values (?, ?)');
    this.#selectContent = this.#db.prepare('select bytes from content where digest = ?');
    this.#insertOp = this.#db.prepare(
      'insert into op (epoch, pos, n, cid, kind, key, value, metadata, version_seq, version_invocation, version_epoch_seq) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }

  hasEvent(id: Uint8Array): boolean {
    return this.#db.prepare('select 1 from event where id = ?').get(id) !== undefined;
  }

  addEvent(event: StagedEvent, proof: boolean): void {
    this.#insertEvent.run(event.id, event.kind, event.bytes, event.at, proof ? 1 : 0);
  }

  event(id: Uint8Array): StagedEvent | undefined {
    const row = this.#db.prepare('select id, kind, bytes, at from event where id = ?').get(id) as
      | { id: Buffer; kind: EventKind; bytes: Buffer; at: number }
      | undefined;
    return row && { id: new Uint8Array(row.id), kind: row.kind, bytes: new Uint8Array(row.bytes), at: row.at };
  }

  /** Proof events (not in any epoch), delegations first, each kind in id order. */
  proofs(): StagedEvent[] {
    const rows = this.#db.prepare("select id, kind, bytes, at from event where proof = 1 order by kind = 'revocation', id").all() as {
      id: Buffer;
      kind: EventKind;
      bytes: Buffer;
      at: number;
    }[];
    return rows.map((row) => ({ id: new Uint8Array(row.id), kind: row.kind, bytes: new Uint8Array(row.bytes), at: row.at }));
  }

  isProof(id: Uint8Array): boolean {
    return this.#db.prepare('select 1 from event where id = ? and proof = 1').get(id) !== undefined;
  }

  epochSeq(id: Uint8Array): number | undefined {
    const row = this.#db.prepare('select seq from epoch where id = ?').get(id) as { seq: number } | undefined;
    return row?.seq;
  }

  addEpoch(epoch: StagedEpoch): void {
    const run = this.#db.transaction(() => {
      this.#insertEpoch.run(epoch.index, epoch.id, epoch.seq, Buffer.concat(epoch.parents));
      for (const parent of epoch.parents) this.#insertParent.run(parent);
      for (const [pos, e] of epoch.events.entries()) this.#insertEntry.run(epoch.index, pos, e.id, e.kind, e.at);
    });
    run();
  }

  addOp(epoch: number, pos: number, n: number, op: StagedOp): void {
    const o = op.op;
    if (o.kind === 'write') {
      this.#insertOp.run(epoch, pos, n, op.cid, 'write', o.key, o.value, JSON.stringify(o.metadata), null, null, null);
    } else {
      const v = o.version;
      this.#insertOp.run(epoch, pos, n, op.cid, 'delete', o.key, null, null, v?.[0] ?? null, v ? v[1].multihash.bytes : null, v?.[2] ?? null);
    }
  }

  /** Staged epochs in file order, read a page at a time (better-sqlite3 allows no other query during an iterate()). */
  *epochs(): Generator<StagedEpoch> {
    const page = this.#db.prepare('select idx, id, seq, parents from epoch where idx > ? order by idx limit 256');
    const entries = this.#db.prepare('select event, kind, at from entry where epoch = ? order by pos');
    let last = -1;
    for (;;) {
      const rows = page.all(last) as { idx: number; id: Buffer; seq: number; parents: Buffer }[];
      for (const row of rows) {
        const parents: Uint8Array[] = [];
        for (let i = 0; i < row.parents.length; i += MULTIHASH) parents.push(new Uint8Array(row.parents.subarray(i, i + MULTIHASH)));
        const events = (entries.all(row.idx) as { event: Buffer; kind: EventKind; at: number }[]).map((e) => ({ id: new Uint8Array(e.event), kind: e.kind, at: e.at }));
        yield { index: row.idx, id: new Uint8Array(row.id), seq: row.seq, parents, events };
      }
      if (rows.length === 0) return;
      last = rows[rows.length - 1]!.idx;
    }
  }

  /** The time of the first staged event (a new space's creation time). */
  firstEventTime(): number | undefined {
    const row = this.#db.prepare('select at from entry order by epoch, pos limit 1').get() as { at: number } | undefined;
    return row?.at;
  }

  /** Epoch ids that no staged epoch names as a parent. */
  stagedHeads(): Uint8Array[] {
    const rows = this.#db.prepare('select id from epoch where id not in (select parent from parent) order by id').all() as { id: Buffer }[];
    return rows.map((r) => new Uint8Array(r.id));
  }

  opsOf(epoch: number, pos: number): StagedWriteOrDelete[] {
    const rows = this.#db
      .prepare('select cid, kind, key, value, metadata, version_seq, version_invocation, version_epoch_seq from op where epoch = ? and pos = ? order by n')
      .all(epoch, pos) as OpRow[];
    return rows.map(toStaged);
  }

  /** Hold small content (already checked against its digest) until the replay stores it. */
  addContent(digest: Uint8Array, bytes: Uint8Array): void {
    this.#insertContent.run(digest, bytes);
  }

  /** Small content held by `addContent`, or undefined. */
  content(digest: Uint8Array): Uint8Array | undefined {
    const row = this.#selectContent.get(digest) as { bytes: Buffer } | undefined;
    return row?.bytes;
  }

  /** Whether a staged write refers to this content digest. */
  isWritten(digest: Uint8Array): boolean {
    return this.#db.prepare("select 1 from op where value = ? and kind = 'write'").get(digest) !== undefined;
  }

  /** Content digests written by staged ops, ascending, a page at a time. */
  *writtenDigests(): Generator<Uint8Array> {
    const page = this.#db.prepare("select distinct value from op where kind = 'write' and value > ? order by value limit 1024");
    let last: Buffer = Buffer.alloc(0);
    for (;;) {
      const rows = page.all(last) as { value: Buffer }[];
      for (const row of rows) yield new Uint8Array(row.value);
      if (rows.length === 0) return;
      last = rows[rows.length - 1]!.value;
    }
  }

  /** A staged write op naming `digest` (for messages). */
  writerOf(digest: Uint8Array): { cid: Uint8Array; key: string } | undefined {
    const row = this.#db.prepare("select cid, key from op where value = ? and kind = 'write' limit 1").get(digest) as { cid: Buffer; key: string } | undefined;
    return row && { cid: new Uint8Array(row.cid), key: row.key };
  }

  close(): void {
    try {
      this.#db.close();
    } finally {
      rmSync(this.#file, { force: true });
    }
  }
}

interface OpRow {
  cid: Buffer;
  kind: 'write' | 'delete';
  key: string;
  value: Buffer | null;
  metadata: string | null;
  version_seq: number | null;
  version_invocation: Buffer | null;
  version_epoch_seq: number | null;
}

export type StagedWriteOrDelete =
  | { cid: Uint8Array; kind: 'write'; key: string; value: Uint8Array; metadata: Record<string, string> }
  | { cid: Uint8Array; kind: 'delete'; key: string; version: { seq: number; invocation: Uint8Array; epochSeq: number } | null };

function toStaged(row: OpRow): StagedWriteOrDelete {
  const cid = new Uint8Array(row.cid);
  if (row.kind === 'write') {
    return { cid, kind: 'write', key: row.key, value: new Uint8Array(row.value!), metadata: JSON.parse(row.metadata!) as Record<string, string> };
  }
  const version =
    row.version_invocation === null ? null : { seq: row.version_seq!, invocation: new Uint8Array(row.version_invocation), epochSeq: row.version_epoch_seq! };
  return { cid, kind: 'delete', key: row.key, version };
}

const STAGING_NAME = /^import-(\d+)-[0-9a-f]{12}\.db(-journal|-wal|-shm)?$/;
