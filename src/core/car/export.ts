import type { Transaction } from 'kysely';
import { parseSpaceId } from '../auth/resource.js';
import type { BlockStore } from '../blocks/store.js';
import type { Config } from '../config/load.js';
import type { MetadataDb } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { openReadSnapshot } from '../db/snapshot.js';
import { TinyCloudError } from '../errors.js';
import { encodeEpoch, encodeKvOp, headEpochs, type EpochEventEntry, type KvOp } from '../events/index.js';
import { blake3HexOf } from '../ids/blake3.js';
import { CID, parseCid } from '../ids/cid.js';
import { unwrap } from '../result.js';
import { openValue } from '../services/kv/content.js';
import type { SqlService } from '../services/sql/index.js';
import { NODE_VERSION, PROTOCOL_VERSION } from '../version.js';
import {
  CAR_FORMAT,
  CAR_FORMAT_VERSION,
  blobCid,
  carHeader,
  cidText,
  dagCborCid,
  encodeManifest,
  encodeNote,
  epochCid,
  rawCid,
  sectionHead,
  type EpochNote,
  type EventKind,
  type Manifest,
  type ManifestCounts,
  type ProofEntry,
} from './format.js';
import { decodeEvent, kvOpTargets } from './history-blocks.js';
import { SQL_SECTION, SqlExportSession, readChunks, sqlSectionEntry, type SqlExportCopy } from './sql-section.js';

/** What an export needs of a node: its metadata DB (and where it lives), its block store and its SQL databases. */
export interface ExportSource {
  readonly metadata: MetadataDb;
  readonly blocks: BlockStore;
  readonly config: Pick<Config, 'storage'>;
  readonly sql: SqlService;
}

export interface CarProgress {
  bytes: number;
  blocks: number;
  /** Known once the manifest is written: content bytes to come (the bulk of a large export). */
  blobBytes?: number;
}

export interface ExportOptions {
  /** Epoch CIDs (as printed by a previous export): write only the epochs after them (incremental backup). */
  since?: readonly (string | CID)[];
  onProgress?: (progress: CarProgress) => void;
}

export interface ExportSummary {
  space: string;
  /** The manifest CID (the CAR's root). */
  root: string;
  heads: string[];
  since: string[] | null;
  createdAt: string | null;
  counts: ManifestCounts;
  proofs: number;
  /** The SQL database snapshots in the file (the `sql` section). */
  sql: { name: string; size: number; seq: number }[];
  bytes: number;
  blocks: number;
}

type Db = Transaction<Database>;

const CHUNK = 64 * 1024;
const PAGE = 500;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytesOf = (value: Uint8Array): Uint8Array => new Uint8Array(value);

/**
 * A space as a CARv1 stream (docs/car-format.md): manifest, proofs, then every epoch with its note, events and
 * ops, then content blobs by digest. Read from one snapshot of the metadata DB, so `serve` may keep writing; the
 * same history always gives the same bytes. `summary` is set once the last byte has been produced.
 */
export class SpaceExport implements AsyncIterable<Uint8Array> {
  /** Set before the first byte is produced. */
  manifest?: { root: CID; value: Manifest };
  summary?: ExportSummary;
  readonly #source: ExportSource;
  readonly #space: string;
  readonly #options: ExportOptions;

  constructor(source: ExportSource, space: string, options: ExportOptions = {}) {
    this.#source = source;
    this.#space = unwrap(parseSpaceId(space)).text;
    this.#options = options;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    // The SQL databases are locked before the snapshot opens: see SqlExportSession.
    const { session, snapshot } = await SqlExportSession.open(this.#source.sql, this.#space, () =>
      openReadSnapshot(this.#source.metadata, this.#source.config.storage.database),
    );
    try {
      yield* this.#write(snapshot.db as Db, session);
    } finally {
      session.close();
      await snapshot.release();
    }
  }

  async *#write(db: Db, session: SqlExportSession): AsyncGenerator<Uint8Array> {
    const space = this.#space;
    const known = await db.selectFrom('space').select('id').where('id', '=', space).executeTakeFirst();
    if (!known) throw new TinyCloudError('SPACE_NOT_FOUND', `Space not found: ${space}`);
    const { after, since } = await sinceOf(db, space, this.#options.since ?? []);
    const sql = await session.copies(db, after);
    const heads = (await headEpochs(db, space)).map(epochCid);
    const counts = await countsOf(db, space, after);
    const proofs = await proofsOf(db, space, after);
    const createdAt = await latestEventTime(db, space, after);
    const manifest: Manifest = {
      format: CAR_FORMAT,
      version: CAR_FORMAT_VERSION,
      space,
      heads,
      since,
      node: { version: NODE_VERSION, protocol: PROTOCOL_VERSION },
      createdAt,
      counts,
      proofs: proofs.map((p) => ({ cid: p.cid, kind: p.kind, at: p.at })),
      sections: sql.length > 0 ? { [SQL_SECTION]: sqlSectionEntry(sql.map((c) => c.entry)) } : {},
    };
    const root = await encodeManifest(manifest);
    this.manifest = { root: root.cid, value: manifest };

    const out = new Output(this.#options.onProgress, counts.blobBytes + sql.reduce((n, c) => n + c.entry.size, 0));
    out.raw(await carHeader(root.cid));
    out.block(root.cid, root.bytes);
    for (const proof of proofs) out.block(proof.cid, proof.bytes);
    yield* out.drain();

    for await (const epoch of epochsOf(db, space, after)) {
      for (const block of await epochBlocks(db, space, epoch)) out.block(block.cid, block.bytes);
      yield* out.drain();
    }

    for await (const blob of blobsOf(db, space, after)) {
      const body = await openValue(this.#source.blocks, { space, ...blob });
      const cid = blobCid(blob.digest);
      if (!body) throw new TinyCloudError('INTERNAL', `Content ${cidText(cid)} of ${space} is missing from the block store`);
      out.raw(sectionHead(cid, blob.size));
      let streamed = 0;
      try {
        for await (const chunk of body instanceof Uint8Array ? [body] : (body as AsyncIterable<Uint8Array>)) {
          streamed += chunk.length;
          if (streamed > blob.size) break;
          out.raw(chunk);
          yield* out.drain();
        }
      } finally {
        if (!(body instanceof Uint8Array)) body.destroy();
      }
      if (streamed !== blob.size) {
        throw new TinyCloudError('INTERNAL', `Content ${cidText(cid)} of ${space}: the block store holds ${streamed} bytes, the index says ${blob.size}`);
      }
      out.counted();
    }
    for (const copy of sql) yield* sqlBlocks(out, copy);
    yield* out.drain(true);

    this.summary = {
      space,
      root: cidText(root.cid),
      heads: heads.map(cidText),
      since: since?.map(cidText) ?? null,
      createdAt: createdAt === null ? null : new Date(createdAt * 1000).toISOString(),
      counts,
      proofs: proofs.length,
      sql: sql.map((c) => ({ name: c.entry.name, size: c.entry.size, seq: c.entry.seq })),
      bytes: out.bytes,
      blocks: out.blocks,
    };
  }
}

/** `exportSpace(node, space, {since})`: the CAR bytes of a space, streamed (see `SpaceExport`). */
export function exportSpace(source: ExportSource, space: string, options: ExportOptions = {}): SpaceExport {
  return new SpaceExport(source, space, options);
}

/** One database's snapshot as the blocks the manifest lists, read from its copy a chunk at a time. */
async function* sqlBlocks(out: Output, copy: SqlExportCopy): AsyncGenerator<Uint8Array> {
  const { entry } = copy;
  let n = 0;
  let size = 0;
  for await (const chunk of readChunks(copy.file)) {
    const cid = entry.chunks[n++];
    if (!cid) break;
    size += chunk.length;
    out.block(cid, chunk);
    yield* out.drain();
  }
  if (n !== entry.chunks.length || size !== entry.size) {
    throw new TinyCloudError('INTERNAL', `The snapshot of SQL database ${JSON.stringify(entry.name)} changed while it was exported`);
  }
}

/** Coalesces small pieces into ~64 KiB chunks (bluesky-social/atproto#5078) and counts what went out. */
class Output {
  bytes = 0;
  blocks = 0;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #lastReport = 0;

  constructor(
    private readonly onProgress: ExportOptions['onProgress'],
    private readonly blobBytes: number,
  ) {}

  raw(bytes: Uint8Array): void {
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
  }

  block(cid: CID, bytes: Uint8Array): void {
    this.raw(sectionHead(cid, bytes.length));
    this.raw(bytes);
    this.counted();
  }

  counted(): void {
    this.blocks++;
  }

  *drain(all = false): Generator<Uint8Array> {
    if (this.#pendingBytes === 0 || (!all && this.#pendingBytes < CHUNK)) return;
    const chunk = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.bytes += chunk.length;
    this.#pending = [];
    this.#pendingBytes = 0;
    const now = Date.now();
    if (this.onProgress && (all || now - this.#lastReport >= 100)) {
      this.#lastReport = now;
      this.onProgress({ bytes: this.bytes, blocks: this.blocks, blobBytes: this.blobBytes });
    }
    yield chunk;
  }
}

/** `--since`: the epochs named must be in the space; everything with a higher seq is exported. */
async function sinceOf(db: Db, space: string, given: readonly (string | CID)[]): Promise<{ after: number; since: CID[] | null }> {
  if (given.length === 0) return { after: -1, since: null };
  const cids = given.map((c) => {
    const cid = typeof c === 'string' ? parseCid(c.trim()) : c;
    if (!cid) throw new TinyCloudError('BAD_REQUEST', `--since ${String(c)} is not a CID (use an epoch CID from a previous export's heads)`);
    return epochCid(cid.multihash.bytes);
  });
  let after = -1;
  for (const cid of cids) {
    const row = await db.selectFrom('epoch').select('seq').where('space', '=', space).where('id', '=', cid.multihash.bytes).executeTakeFirst();
    if (!row) throw new TinyCloudError('NOT_FOUND', `No epoch ${cidText(cid)} in ${space}`);
    after = Math.max(after, Number(row.seq));
  }
  const unique = [...new Map(cids.map((c) => [hex(c.bytes), c])).values()].sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  return { after, since: unique };
}

async function countsOf(db: Db, space: string, after: number): Promise<ManifestCounts> {
  const epochs = await db.selectFrom('epoch').select((eb) => eb.fn.countAll().as('n')).where('space', '=', space).where('seq', '>', after).executeTakeFirstOrThrow();
  const kinds = await db
    .selectFrom('event_order')
    .select(['kind', (eb) => eb.fn.countAll().as('n')])
    .where('space', '=', space)
    .where('seq', '>', after)
    .groupBy('kind')
    .execute();
  const kind = (k: EventKind) => Number(kinds.find((r) => r.kind === k)?.n ?? 0);
  const writes = await db.selectFrom('kv_write').select((eb) => eb.fn.countAll().as('n')).where('space', '=', space).where('seq', '>', after).executeTakeFirstOrThrow();
  const deletes = await db.selectFrom('kv_delete').select((eb) => eb.fn.countAll().as('n')).where('space', '=', space).where('seq', '>', after).executeTakeFirstOrThrow();
  const blobs = await db
    .selectFrom(blobQuery(db, space, after).as('b'))
    .select([(eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.sum<number>('b.size').as('bytes')])
    .executeTakeFirstOrThrow();
  return {
    epochs: Number(epochs.n),
    delegations: kind('delegation'),
    invocations: kind('invocation'),
    revocations: kind('revocation'),
    ops: Number(writes.n) + Number(deletes.n),
    blobs: Number(blobs.n),
    blobBytes: Number(blobs.bytes ?? 0),
  };
}

/** Content written after `after` and not already written at or before it (an incremental export's base has it). */
function blobQuery(db: Db, space: string, after: number) {
  let query = db
    .selectFrom('kv_write as w')
    .select(['w.value as digest', (eb) => eb.fn.max('w.size').as('size')])
    .where('w.space', '=', space)
    .where('w.seq', '>', after);
  if (after >= 0) {
    query = query.where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('kv_write as b')
            .select('b.value')
            .where('b.space', '=', space)
            .whereRef('b.value', '=', 'w.value')
            .where('b.seq', '<=', after),
        ),
      ),
    );
  }
  return query.groupBy('w.value');
}

/** Content to export in digest order, with its bytes when they are stored inline (at most PAGE × 16 KiB a page). */
async function* blobsOf(db: Db, space: string, after: number): AsyncGenerator<{ digest: Uint8Array; size: number; inline?: Uint8Array }> {
  let last: Uint8Array | undefined;
  for (;;) {
    let query = db
      .selectFrom(blobQuery(db, space, after).as('b'))
      .leftJoin('block', (join) => join.on('block.space', '=', space).onRef('block.digest', '=', 'b.digest'))
      .select(['b.digest', 'b.size', 'block.inline']);
    if (last) query = query.where('b.digest', '>', last);
    const rows = await query.orderBy('b.digest').limit(PAGE).execute();
    for (const row of rows) yield { digest: bytesOf(row.digest), size: Number(row.size), ...(row.inline && { inline: row.inline }) };
    if (rows.length < PAGE) return;
    last = bytesOf(rows[rows.length - 1]!.digest);
  }
}

interface EpochRow {
  id: Uint8Array;
  seq: number;
}

async function* epochsOf(db: Db, space: string, after: number): AsyncGenerator<EpochRow> {
  let cursor: EpochRow | undefined;
  for (;;) {
    let query = db.selectFrom('epoch').select(['id', 'seq']).where('space', '=', space).where('seq', '>', after);
    if (cursor) {
      const c = cursor;
      query = query.where((eb) => eb.or([eb('seq', '>', c.seq), eb.and([eb('seq', '=', c.seq), eb('id', '>', c.id)])]));
    }
    const rows = await query.orderBy('seq').orderBy('id').limit(PAGE).execute();
    for (const row of rows) yield (cursor = { id: bytesOf(row.id), seq: Number(row.seq) });
    if (rows.length < PAGE) return;
  }
}

interface StoredEvent {
  bytes: Uint8Array;
  at: number;
}

async function storedEvent(db: Db, kind: EventKind, id: Uint8Array): Promise<StoredEvent | undefined> {
  switch (kind) {
    case 'delegation': {
      const row = await db.selectFrom('delegation').select(['serialization', 'received_at']).where('id', '=', id).executeTakeFirst();
      return row && { bytes: bytesOf(row.serialization), at: Number(row.received_at) };
    }
    case 'revocation': {
      const row = await db.selectFrom('revocation').select(['serialization', 'revoked_at']).where('id', '=', id).executeTakeFirst();
      return row && { bytes: bytesOf(row.serialization), at: Number(row.revoked_at) };
    }
    case 'invocation': {
      const row = await db.selectFrom('invocation').select(['serialization', 'issued_at']).where('id', '=', id).executeTakeFirst();
      return row && { bytes: bytesOf(row.serialization), at: Number(row.issued_at) };
    }
  }
}

/** The event bytes, checked against the id they are stored under. */
async function eventBytes(db: Db, kind: EventKind, id: Uint8Array, space: string): Promise<StoredEvent> {
  const stored = await storedEvent(db, kind, id);
  const cid = rawCid(id);
  if (!stored) throw new TinyCloudError('INTERNAL', `The ${kind} ${cidText(cid)} in the history of ${space} is not stored`);
  if ((await blake3HexOf(stored.bytes)) !== hex(id.subarray(2))) {
    throw new TinyCloudError('INTERNAL', `The stored bytes of ${kind} ${cidText(cid)} no longer hash to its id`);
  }
  return stored;
}

/**
 * The KV ops of one invocation event, rebuilt from its `kv_write` / `kv_delete` rows in the order of its
 * capabilities (WIRE §6), with the time they were committed. Empty for invocations of other services.
 */
async function kvOpsOf(db: Db, space: string, seq: number, epochSeq: number, invocation: Uint8Array, bytes: Uint8Array): Promise<{ ops: KvOp[]; at?: number }> {
  const writes = await db
    .selectFrom('kv_write')
    .select(['key', 'value', 'metadata', 'written_at'])
    .where('space', '=', space)
    .where('seq', '=', seq)
    .where('epoch_seq', '=', epochSeq)
    .where('invocation', '=', invocation)
    .execute();
  const deletes = await db
    .selectFrom('kv_delete as d')
    .leftJoin('kv_write as w', (join) =>
      join.onRef('w.space', '=', 'd.space').onRef('w.key', '=', 'd.key').onRef('w.invocation', '=', 'd.deleted_invocation'),
    )
    .select(['d.key', 'd.deleted_invocation', 'd.deleted_at', 'w.seq as wseq', 'w.epoch_seq as wepoch_seq'])
    .where('d.space', '=', space)
    .where('d.seq', '=', seq)
    .where('d.epoch_seq', '=', epochSeq)
    .where('d.invocation', '=', invocation)
    .execute();
  if (writes.length === 0 && deletes.length === 0) return { ops: [] };
  const byKey = new Map<string, KvOp>();
  for (const w of writes) {
    byKey.set(`write ${w.key}`, { kind: 'write', key: w.key, value: bytesOf(w.value).subarray(0), metadata: JSON.parse(w.metadata) as Record<string, string> });
  }
  for (const d of deletes) {
    const version: [number, CID, number] | null =
      d.deleted_invocation === null ? null : [Number(d.wseq), rawCid(bytesOf(d.deleted_invocation)), Number(d.wepoch_seq)];
    byKey.set(`delete ${d.key}`, { kind: 'delete', key: d.key, version });
  }
  const envelope = await decodeEvent(bytes);
  if (!envelope.ok) throw new TinyCloudError('INTERNAL', `Invocation ${cidText(rawCid(invocation))} no longer decodes: ${envelope.error.message}`);
  const ops = kvOpTargets(envelope.value.info.capabilities, space).map((t) => byKey.get(`${t.kind} ${t.key}`));
  if (ops.some((o) => !o) || ops.length !== byKey.size) {
    throw new TinyCloudError('INTERNAL', `The KV rows of invocation ${cidText(rawCid(invocation))} do not match its capabilities`);
  }
  const at = writes[0]?.written_at ?? deletes[0]?.deleted_at;
  return { ops: ops as KvOp[], at: at === undefined ? undefined : Number(at) };
}

/**
 * One epoch as blocks: the epoch (recomputed from its rows and checked against the stored id), its note, then
 * each event followed by its ops.
 */
async function epochBlocks(db: Db, space: string, epoch: EpochRow): Promise<{ cid: CID; bytes: Uint8Array }[]> {
  const cid = epochCid(epoch.id);
  const parents = (await db.selectFrom('epoch_order').select('parent').where('space', '=', space).where('child', '=', epoch.id).execute())
    .map((r) => bytesOf(r.parent))
    .sort(Buffer.compare)
    .map(epochCid);
  const events = await db
    .selectFrom('event_order')
    .select(['event', 'kind', 'epoch_seq'])
    .where('space', '=', space)
    .where('seq', '=', epoch.seq)
    .where('epoch', '=', epoch.id)
    .orderBy('epoch_seq')
    .execute();
  const entries: EpochEventEntry[] = [];
  const note: EpochNote = { epoch: cid, seq: epoch.seq, events: [] };
  const body: { cid: CID; bytes: Uint8Array }[] = [];
  for (const [index, event] of events.entries()) {
    if (Number(event.epoch_seq) !== index) throw new TinyCloudError('INTERNAL', `Epoch ${cidText(cid)} of ${space} has a gap in its events`);
    const kind = event.kind as EventKind;
    const id = bytesOf(event.event);
    const stored = await eventBytes(db, kind, id, space);
    let at = stored.at;
    const eventBlock = { cid: rawCid(id), bytes: stored.bytes };
    body.push(eventBlock);
    if (kind === 'invocation') {
      const kv = await kvOpsOf(db, space, epoch.seq, index, id, stored.bytes);
      if (kv.at !== undefined) at = kv.at;
      if (kv.ops.length > 0) {
        const opBlocks = await Promise.all(kv.ops.map(async (op) => {
          const opBytes = encodeKvOp(op);
          return { cid: await dagCborCid(opBytes), bytes: opBytes };
        }));
        body.push(...opBlocks);
        entries.push([eventBlock.cid, ...opBlocks.map((b) => b.cid)]);
      } else {
        entries.push(eventBlock.cid);
      }
    } else {
      entries.push(eventBlock.cid);
    }
    note.events.push({ kind, at });
  }
  const bytes = encodeEpoch(parents, entries);
  const recomputed = await dagCborCid(bytes);
  if (!recomputed.equals(cid)) {
    throw new TinyCloudError('INTERNAL', `Epoch ${cidText(cid)} of ${space} does not recompute from its rows (got ${cidText(recomputed)})`);
  }
  return [{ cid, bytes }, await encodeNote(note), ...body];
}

/** The newest event time in the exported epochs (arrival times, as the notes carry them). */
async function latestEventTime(db: Db, space: string, after: number): Promise<number | null> {
  const times = await Promise.all([
    db.selectFrom('event_order as e').innerJoin('delegation as d', 'd.id', 'e.event').select((eb) => eb.fn.max('d.received_at').as('t'))
      .where('e.space', '=', space).where('e.seq', '>', after).where('e.kind', '=', 'delegation').executeTakeFirst(),
    db.selectFrom('event_order as e').innerJoin('revocation as r', 'r.id', 'e.event').select((eb) => eb.fn.max('r.revoked_at').as('t'))
      .where('e.space', '=', space).where('e.seq', '>', after).where('e.kind', '=', 'revocation').executeTakeFirst(),
    db.selectFrom('kv_write').select((eb) => eb.fn.max('written_at').as('t')).where('space', '=', space).where('seq', '>', after).executeTakeFirst(),
    db.selectFrom('kv_delete').select((eb) => eb.fn.max('deleted_at').as('t')).where('space', '=', space).where('seq', '>', after).executeTakeFirst(),
    // Invocations of other services (no KV rows): their note carries the invocation row's time.
    db.selectFrom('event_order as e').innerJoin('invocation as i', 'i.id', 'e.event').select((eb) => eb.fn.max('i.issued_at').as('t'))
      .where('e.space', '=', space).where('e.seq', '>', after).where('e.kind', '=', 'invocation')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('kv_write as w').select('w.key').where('w.space', '=', space).whereRef('w.invocation', '=', 'e.event'))))
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('kv_delete as k').select('k.key').where('k.space', '=', space).whereRef('k.invocation', '=', 'e.event'))))
      .executeTakeFirst(),
  ]);
  const values = times.map((r) => (r?.t === null || r?.t === undefined ? undefined : Number(r.t))).filter((t): t is number => t !== undefined);
  return values.length === 0 ? null : Math.max(...values);
}

interface Proof extends ProofEntry {
  bytes: Uint8Array;
}

/**
 * Delegations the exported events stand on that are not in the space's own history (posted before the space
 * was hosted, or naming other spaces), with their ancestors, and revocations of exported delegations that
 * happened outside the space's history. Without them an importer could not check the chains.
 */
async function proofsOf(db: Db, space: string, after: number): Promise<Proof[]> {
  const inHistory = async (id: Uint8Array): Promise<boolean> =>
    (await db.selectFrom('event_order').select('event').where('space', '=', space).where('event', '=', id).executeTakeFirst()) !== undefined;

  const cited = new Map<string, Uint8Array>();
  const delegationParents = await db
    .selectFrom('parent_delegation as p')
    .innerJoin('event_order as e', 'e.event', 'p.child')
    .select('p.parent')
    .distinct()
    .where('e.space', '=', space)
    .where('e.seq', '>', after)
    .execute();
  for (const { parent } of delegationParents) cited.set(hex(parent), bytesOf(parent));
  // Invocation and revocation parents are not stored as edges: read them from the events themselves.
  let last: Uint8Array | undefined;
  for (;;) {
    let query = db
      .selectFrom('event_order')
      .select(['event', 'kind'])
      .where('space', '=', space)
      .where('seq', '>', after)
      .where('kind', 'in', ['invocation', 'revocation']);
    if (last) query = query.where('event', '>', last);
    const rows = await query.orderBy('event').limit(PAGE).execute();
    for (const row of rows) {
      const stored = await storedEvent(db, row.kind as EventKind, bytesOf(row.event));
      const decoded = stored && (await decodeEvent(stored.bytes));
      if (decoded?.ok) for (const parent of decoded.value.info.parents) cited.set(hex(parent), parent);
    }
    if (rows.length < PAGE) break;
    last = bytesOf(rows[rows.length - 1]!.event);
  }

  const proofs = new Map<string, Uint8Array>();
  let frontier: Uint8Array[] = [];
  for (const id of cited.values()) if (!(await inHistory(id))) frontier.push(id);
  while (frontier.length > 0) {
    const next: Uint8Array[] = [];
    for (const id of frontier) {
      if (proofs.has(hex(id))) continue;
      const stored = await db.selectFrom('delegation').select('id').where('id', '=', id).executeTakeFirst();
      if (!stored) continue;
      proofs.set(hex(id), id);
      const parents = await db.selectFrom('parent_delegation').select('parent').where('child', '=', id).execute();
      for (const { parent } of parents) if (!(await inHistory(bytesOf(parent)))) next.push(bytesOf(parent));
    }
    frontier = next;
  }

  const delegations = [...proofs.values()].sort(Buffer.compare);
  const revokedTargets = db
    .selectFrom('event_order')
    .select('event')
    .where('space', '=', space)
    .where('seq', '>', after)
    .where('kind', '=', 'delegation');
  let revocationQuery = db
    .selectFrom('revocation as r')
    .select('r.id')
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('event_order as e').select('e.event').where('e.space', '=', space).whereRef('e.event', '=', 'r.id'))));
  revocationQuery = revocationQuery.where((eb) =>
    delegations.length > 0 ? eb.or([eb('r.revoked', 'in', revokedTargets), eb('r.revoked', 'in', delegations)]) : eb('r.revoked', 'in', revokedTargets),
  );
  const revocations = (await revocationQuery.execute()).map((r) => bytesOf(r.id)).sort(Buffer.compare);

  const out: Proof[] = [];
  for (const id of delegations) {
    const stored = await eventBytes(db, 'delegation', id, space);
    out.push({ cid: rawCid(id), kind: 'delegation', at: stored.at, bytes: stored.bytes });
  }
  for (const id of revocations) {
    const stored = await eventBytes(db, 'revocation', id, space);
    out.push({ cid: rawCid(id), kind: 'revocation', at: stored.at, bytes: stored.bytes });
  }
  return out;
}
