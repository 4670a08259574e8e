import path from 'node:path';
import type { Transaction } from 'kysely';
import { HistoryVerifier } from '../auth/engine/history.js';
import { parseSpaceId } from '../auth/resource.js';
import type { DelegationInfo, SignedEnvelope } from '../auth/types.js';
import { openBlockStore } from '../blocks/index.js';
import type { BlockStore, StagedBlock } from '../blocks/store.js';
import type { Config } from '../config/load.js';
import type { MetadataDb } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { writeTransaction } from '../db/write-transaction.js';
import { TinyCloudError } from '../errors.js';
import { headEpochs } from '../events/index.js';
import { blake3HexOf, createBlake3Hasher } from '../ids/blake3.js';
import { CID, DAG_CBOR_CODEC, RAW_CODEC } from '../ids/cid.js';
import { INLINE_VALUE_BYTES, blockRow, holdsValue } from '../services/kv/content.js';
import { applyCurrent, recordBlock } from '../services/kv/store.js';
import type { SqlService } from '../services/sql/index.js';
import type { CarProgress } from './export.js';
import { asBlake3Cid, blobCid, cidText, decodeManifest, decodeNote, epochCid, invalid, rawCid, type EventKind, type Manifest } from './format.js';
import { decodeEpochBlock, decodeEvent, decodeKvOpBlock, kvOpTargets } from './history-blocks.js';
import { CarStreamReader, type BlockHead } from './reader.js';
import { SQL_SECTION, SQL_SECTION_VERSION, SqlImport, decodeSqlSection, type SqlImportResult } from './sql-section.js';
import { ImportStaging, type StagedEpoch, type StagedEvent } from './staging.js';

/** What an import needs of a node: its metadata DB, block storage configuration, data dir (for staging) and SQL databases. */
export interface ImportTarget {
  readonly metadata: MetadataDb;
  readonly config: Pick<Config, 'storage' | 'dataDir'>;
  readonly sql: SqlService;
}

export interface ImportOptions {
  onProgress?: (progress: CarProgress) => void;
  /** Refuse a file of any other space (an online import is authorized for one space). */
  expectSpace?: string;
}

export interface ImportTally {
  epochs: number;
  delegations: number;
  invocations: number;
  revocations: number;
  /** KV versions (writes and deletes). */
  ops: number;
  /** Delegations and revocations carried outside the epochs. */
  proofs: number;
}

export interface ImportReport {
  space: string;
  /** The manifest CID. */
  root: string;
  /** The space did not exist here before. */
  createdSpace: boolean;
  /** What this import added. */
  added: ImportTally & { blobs: number; blobBytes: number };
  /** What the node already had. */
  existing: ImportTally;
  /** The space's head epochs after the import (several when two histories were merged). */
  heads: string[];
  /** Each SQL database snapshot in the file, and whether it replaced (or created) this node's database. */
  sql: SqlImportResult[];
  bytes: number;
  blocks: number;
}

/** Small blocks (manifest, events, epochs, notes, ops) are read whole; anything larger is refused. */
const MAX_SMALL_BLOCK = 16 * 1024 * 1024;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const emptyTally = (): ImportTally => ({ epochs: 0, delegations: 0, invocations: 0, revocations: 0, ops: 0, proofs: 0 });
const KIND_TALLY: Record<EventKind, 'delegations' | 'invocations' | 'revocations'> = {
  delegation: 'delegations',
  invocation: 'invocations',
  revocation: 'revocations',
};

class DryRun extends Error {}

/**
 * Import a space export (docs/car-format.md): everything is verified before anything is written. The CAR streams
 * once into staging (every block's hash, the epoch DAG re-encoded, ops against their invocation's capabilities,
 * every signature; content into staged blocks), then the history is replayed in epoch order inside one write
 * transaction (every chain, through the auth engine) and committed all at once. Content is persisted only after
 * a dry run of that transaction passed. Importing the same file twice adds nothing; a file that shares part of
 * its history with the node adds what is new (KV last-writer-wins by epoch position, ties by invocation id).
 */
export async function importSpace(target: ImportTarget, source: AsyncIterable<Uint8Array>, options: ImportOptions = {}): Promise<ImportReport> {
  const staging = new ImportStaging(path.join(target.config.dataDir, 'tmp'));
  const store = await openBlockStore(target.config.storage.blocks, { staging: 'FileSystem' });
  const blobs = new Map<string, StagedBlock>();
  const sqlImport = new SqlImport(target.sql);
  try {
    let bytes = 0;
    let lastReport = 0;
    let reader: CarStreamReader | undefined;
    const report = () => options.onProgress?.({ bytes, blocks: reader?.blockCount ?? 0 });
    reader = new CarStreamReader(
      (async function* () {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (Date.now() - lastReport >= 100) {
            lastReport = Date.now();
            report();
          }
          yield chunk;
        }
      })(),
    );
    const streamed = await stage(target, store, reader, staging, blobs, sqlImport, options);
    const { root, space } = streamed;
    const known = await target.metadata.db.selectFrom('space').select('id').where('id', '=', space).executeTakeFirst();

    let planned: Map<string, boolean> | undefined;
    const replay = (dryRun: boolean) =>
      writeTransaction(target.metadata, async (trx) => {
        const outcome = await new Replay(trx, target.metadata, store, staging, blobs, space, sqlImport, dryRun ? undefined : planned).run();
        if (dryRun) {
          planned = outcome.sql;
          throw new DryRun();
        }
        return outcome;
      });
    // SQL databases are locked (writers wait, readers go on) from before the dry run decides which snapshots
    // win until the import has committed or been undone.
    if (sqlImport.pending) await sqlImport.lock();
    if (blobs.size > 0 || sqlImport.pending) {
      // Content is persisted and SQL snapshots installed before the commit (a crash then leaves unreferenced
      // blocks, or a database ahead of its history that importing again repairs, never a dangling row), so make
      // sure the history replays before writing any of it.
      await replay(true).catch((error: unknown) => {
        if (!(error instanceof DryRun)) throw error;
      });
      for (const staged of blobs.values()) await staged.persist();
    }
    let outcome: ReplayOutcome;
    try {
      await sqlImport.install(planned ?? new Map());
      outcome = await replay(false);
    } catch (error) {
      try {
        await sqlImport.restore();
      } catch (undo) {
        throw new TinyCloudError('INTERNAL', `${(error as Error).message}; restoring the SQL databases the import had replaced failed too: ${(undo as Error).message}`);
      }
      throw error;
    }
    const sql = sqlImport.committed(outcome.sql);
    report();
    return {
      space,
      root: cidText(root),
      createdSpace: !known,
      added: outcome.added,
      existing: outcome.existing,
      heads: outcome.heads,
      sql,
      bytes,
      blocks: reader.blockCount,
    };
  } finally {
    await sqlImport.close();
    await Promise.allSettled([...blobs.values()].map((b) => b.discard()));
    await store.close();
    staging.close();
  }
}

interface Streamed {
  manifest: Manifest;
  root: CID;
  space: string;
}

/** Phase 1: read the whole CAR once, verifying every block and staging it. Writes nothing to the node. */
async function stage(
  target: ImportTarget,
  store: BlockStore,
  reader: CarStreamReader,
  staging: ImportStaging,
  blobs: Map<string, StagedBlock>,
  sqlImport: SqlImport,
  options: ImportOptions,
): Promise<Streamed> {
  const db = target.metadata.db;
  const roots = await reader.roots();
  if (roots.length !== 1) throw invalid(`a space export has exactly one root (its manifest); this file has ${roots.length}`);
  const root = roots[0]!;

  const expect = async (what: string): Promise<BlockHead> => {
    const head = await reader.next();
    if (!head) throw invalid(`truncated: the file ends ${reader.describeEnd()}, where ${what} was expected`);
    return head;
  };
  const expectCid = async (what: string, cid: CID): Promise<BlockHead> => {
    const head = await expect(`${what} ${cidText(cid)}`);
    if (!head.cid.equals(cid)) throw invalid(`block #${head.index} is ${cidText(head.cid)} where ${what} ${cidText(cid)} was expected`, { cid: cidText(head.cid) });
    return head;
  };
  const small = async (head: BlockHead, codec: number, what: string): Promise<Uint8Array> => {
    const cid = asBlake3Cid(head.cid, codec);
    if (!cid) throw invalid(`block ${cidText(head.cid)} (#${head.index}, ${what}) is not a CIDv1 BLAKE3-256 ${codec === RAW_CODEC ? 'raw' : 'DAG-CBOR'} block`, { cid: cidText(head.cid) });
    const bytes = await reader.body(MAX_SMALL_BLOCK);
    const digest = await blake3HexOf(bytes);
    if (digest !== hex(cid.multihash.digest)) {
      throw invalid(`block ${cidText(cid)} (#${head.index}, ${what}): its bytes hash to ${digest}, not to its CID`, { cid: cidText(cid) });
    }
    return bytes;
  };

  const rootHead = await expect('the manifest');
  if (!rootHead.cid.equals(root)) throw invalid(`the first block ${cidText(rootHead.cid)} is not the root ${cidText(root)} (the manifest comes first)`);
  const manifest = decodeManifest(await small(rootHead, DAG_CBOR_CODEC, 'manifest'), root);
  const parsed = parseSpaceId(manifest.space);
  if (!parsed.ok || parsed.value.text !== manifest.space) throw invalid(`manifest ${cidText(root)}: ${JSON.stringify(manifest.space)} is not a canonical space id`);
  const space = manifest.space;
  if (options.expectSpace !== undefined && options.expectSpace !== space) {
    throw new TinyCloudError('FORBIDDEN', `This file holds ${space}, not ${options.expectSpace}`);
  }
  sqlImport.begin(space);

  const seen: Record<EventKind, number> = { delegation: 0, invocation: 0, revocation: 0 };
  const checkedEvent = async (head: BlockHead, kind: EventKind, where: string): Promise<SignedEnvelope> => {
    const bytes = await small(head, RAW_CODEC, `${kind}${where}`);
    const decoded = await decodeEvent(bytes);
    const cid = cidText(head.cid);
    if (!decoded.ok) throw invalid(`${kind} ${cid}${where} does not decode: ${decoded.error.message}`, { cid });
    if (kind === 'invocation' && decoded.value.kind !== 'ucan') throw invalid(`invocation ${cid}${where} is not a UCAN`, { cid });
    const signed = HistoryVerifier.signature(decoded.value);
    if (!signed.ok) throw invalid(`${kind} ${cid}${where}: ${signed.error.message} (${signed.error.code})`, { cid, code: signed.error.code });
    if (staging.hasEvent(head.cid.multihash.bytes)) throw invalid(`${kind} ${cid}${where} appears twice in the file`, { cid });
    return decoded.value;
  };

  for (const proof of manifest.proofs) {
    const head = await expectCid(`proof ${proof.kind}`, proof.cid);
    const env = await checkedEvent(head, proof.kind, ' (proof)');
    staging.addEvent({ id: head.cid.multihash.bytes, kind: proof.kind, bytes: env.bytes, at: proof.at }, true);
  }

  let ops = 0;
  for (let index = 0; index < manifest.counts.epochs; index++) {
    const head = await expect(`epoch ${index + 1} of ${manifest.counts.epochs}`);
    const cid = head.cid;
    const { parents, entries } = decodeEpochBlock(await small(head, DAG_CBOR_CODEC, 'epoch'), cid);
    const epochText = cidText(cid);
    for (let i = 1; i < parents.length; i++) {
      if (Buffer.compare(parents[i - 1]!.bytes, parents[i]!.bytes) >= 0) throw invalid(`epoch ${epochText}: parents are not in ascending order`, { cid: epochText });
    }
    let parentSeq = -1;
    for (const parent of parents) {
      const id = parent.multihash.bytes;
      let seq = staging.epochSeq(id);
      if (seq === undefined) {
        const row = await db.selectFrom('epoch').select('seq').where('space', '=', space).where('id', '=', id).executeTakeFirst();
        seq = row ? Number(row.seq) : undefined;
      }
      if (seq === undefined) {
        const hint = manifest.since ? ' (this is an incremental export: import the export it continues first)' : '';
        throw invalid(`epoch ${epochText} names parent ${cidText(parent)}, which is neither earlier in the file nor on this node${hint}`, { cid: epochText });
      }
      parentSeq = Math.max(parentSeq, seq);
    }
    if (staging.epochSeq(cid.multihash.bytes) !== undefined) throw invalid(`epoch ${epochText} appears twice in the file`, { cid: epochText });

    const noteHead = await expect(`the note of epoch ${epochText}`);
    const note = decodeNote(await small(noteHead, DAG_CBOR_CODEC, 'epoch note'), noteHead.cid);
    if (!note.epoch.equals(cid) || note.events.length !== entries.length) {
      throw invalid(`block ${cidText(noteHead.cid)} (#${noteHead.index}) is not the note of epoch ${epochText}`, { cid: cidText(noteHead.cid) });
    }
    if (note.seq <= parentSeq) throw invalid(`epoch ${epochText}: seq ${note.seq} does not follow its parents' (${parentSeq})`, { cid: epochText });

    for (const [pos, entry] of entries.entries()) {
      const [eventId, ...opIds] = Array.isArray(entry) ? entry : [entry];
      const { kind, at } = note.events[pos]!;
      const where = ` (event ${pos} of epoch ${epochText})`;
      const eventHead = await expectCid(kind, eventId!);
      const env = await checkedEvent(eventHead, kind, where);
      const targets = kind === 'invocation' ? kvOpTargets(env.info.capabilities, space) : [];
      if (opIds.length !== targets.length) {
        throw invalid(`${kind} ${cidText(eventId!)}${where} has ${opIds.length} KV ops in its epoch entry, but its capabilities make ${targets.length}`, {
          cid: cidText(eventId!),
        });
      }
      staging.addEvent({ id: eventId!.multihash.bytes, kind, bytes: env.bytes, at }, false);
      seen[kind]++;
      if (kind === 'invocation' && opIds.length === 0) {
        sqlImport.noteEvent(env.info.capabilities, { seq: note.seq, epochSeq: pos, epoch: cid.multihash.bytes, invocation: eventId!.multihash.bytes }, at);
      }
      for (const [n, opId] of opIds.entries()) {
        const opHead = await expectCid('op', opId);
        const op = decodeKvOpBlock(await small(opHead, DAG_CBOR_CODEC, 'op'), opId);
        const t = targets[n]!;
        if (op.kind !== t.kind || op.key !== t.key) {
          throw invalid(`op ${cidText(opId)}: a ${op.kind} of ${JSON.stringify(op.key)}, where invocation ${cidText(eventId!)} makes a ${t.kind} of ${JSON.stringify(t.key)}`, {
            cid: cidText(opId),
          });
        }
        staging.addOp(index, pos, n, { cid: opId.bytes, op });
        ops++;
      }
    }
    staging.addEpoch({
      index,
      id: cid.multihash.bytes,
      seq: note.seq,
      parents: parents.map((p) => p.multihash.bytes),
      events: entries.map((e, pos) => ({ id: (Array.isArray(e) ? e[0]! : e).multihash.bytes, ...note.events[pos]! })),
    });
  }

  let previous: Uint8Array | undefined;
  let blobBytes = 0;
  for (let n = 0; n < manifest.counts.blobs; n++) {
    const head = await expect(`content block ${n + 1} of ${manifest.counts.blobs}`);
    const cid = asBlake3Cid(head.cid, RAW_CODEC);
    const text = cidText(head.cid);
    if (!cid) throw invalid(`block ${text} (#${head.index}) is not a CIDv1 BLAKE3-256 raw content block`, { cid: text });
    const digest = cid.multihash.digest;
    if (previous && Buffer.compare(previous, digest) >= 0) throw invalid(`content block ${text} (#${head.index}) is out of order (content comes sorted by digest)`, { cid: text });
    previous = digest;
    if (!staging.isWritten(digest)) throw invalid(`content block ${text} (#${head.index}): no write in the file refers to it`, { cid: text });
    const row = await blockRow(db, space, digest);
    if (row && (row.inline !== undefined || (await store.has(space, digest)))) {
      const hasher = await createBlake3Hasher();
      for await (const piece of reader.pieces()) hasher.update(piece);
      if (hex(hasher.digest()) !== hex(digest)) throw invalid(`content block ${text} (#${head.index}): its bytes do not hash to its CID`, { cid: text });
    } else if (!row && head.length <= INLINE_VALUE_BYTES) {
      // Small content goes where a put would put it: its block row, written by the replay's transaction.
      const bytes = await reader.body(INLINE_VALUE_BYTES);
      if ((await blake3HexOf(bytes)) !== hex(digest)) throw invalid(`content block ${text} (#${head.index}): its bytes do not hash to its CID`, { cid: text });
      staging.addContent(digest, bytes);
    } else {
      const staged = await store.stage(space, reader.pieces(), { maxBytes: head.length });
      if (hex(staged.digest) !== hex(digest)) {
        await staged.discard();
        throw invalid(`content block ${text} (#${head.index}): its bytes hash to ${hex(staged.digest)}, not to its CID`, { cid: text });
      }
      blobs.set(hex(digest), staged);
    }
    blobBytes += head.length;
  }

  for (const name of Object.keys(manifest.sections).sort()) {
    const section = manifest.sections[name]!;
    if (name === SQL_SECTION && section.version === SQL_SECTION_VERSION) {
      await sqlImport.stage(decodeSqlSection(section, root), reader, expect);
      continue;
    }
    if (section.required) throw invalid(`this file needs section ${JSON.stringify(name)} (version ${section.version}), which this node does not read`);
    for (let n = 0; n < section.blocks; n++) {
      const head = await expect(`block ${n + 1} of section ${name}`);
      const cid = asBlake3Cid(head.cid);
      if (!cid) throw invalid(`block ${cidText(head.cid)} (#${head.index}) is not a CIDv1 BLAKE3-256 block`, { cid: cidText(head.cid) });
      const hasher = await createBlake3Hasher();
      for await (const piece of reader.pieces()) hasher.update(piece);
      if (hex(hasher.digest()) !== hex(cid.multihash.digest)) throw invalid(`block ${cidText(cid)} (#${head.index}): its bytes do not hash to its CID`, { cid: cidText(cid) });
    }
  }

  const extra = await reader.next();
  if (extra) throw invalid(`unexpected block ${cidText(extra.cid)} (#${extra.index}) after the end of the export`, { cid: cidText(extra.cid) });

  const c = manifest.counts;
  const mismatch = (
    [
      ['delegations', c.delegations, seen.delegation],
      ['invocations', c.invocations, seen.invocation],
      ['revocations', c.revocations, seen.revocation],
      ['ops', c.ops, ops],
      ['content bytes', c.blobBytes, blobBytes],
    ] as const
  ).find(([, said, found]) => said !== found);
  if (mismatch) throw invalid(`manifest ${cidText(root)} counts ${mismatch[1]} ${mismatch[0]}, the file holds ${mismatch[2]}`);

  // Every write's content is in the file or already on this node.
  for (const digest of staging.writtenDigests()) {
    if (blobs.has(hex(digest)) || staging.content(digest)) continue;
    if (await holdsValue(db, store, space, digest)) continue;
    const writer = staging.writerOf(digest)!;
    throw invalid(
      `op ${cidText(CID.decode(writer.cid))} writes ${JSON.stringify(writer.key)} with content ${cidText(blobCid(digest))}, which is neither in the file nor on this node`,
      { cid: cidText(blobCid(digest)) },
    );
  }

  const heads = new Set(manifest.heads.map((h) => hex(h.bytes)));
  for (const head of staging.stagedHeads()) {
    if (!heads.has(hex(epochCid(head).bytes))) throw invalid(`epoch ${cidText(epochCid(head))} has no child in the file but is not one of the manifest's heads`);
  }
  return { manifest, root, space };
}

interface ReplayOutcome {
  added: ImportReport['added'];
  existing: ImportTally;
  heads: string[];
  /** Per SQL database of the file: whether its snapshot is installed. */
  sql: Map<string, boolean>;
}

/** Phase 2: the staged history replayed in epoch order inside one write transaction, each event checked first. */
class Replay {
  readonly #verifier: HistoryVerifier;
  readonly #added = { ...emptyTally(), blobs: 0, blobBytes: 0 };
  readonly #existing = emptyTally();
  readonly #proofsDone = new Set<string>();

  constructor(
    private readonly trx: Transaction<Database>,
    metadata: MetadataDb,
    private readonly store: BlockStore,
    private readonly staging: ImportStaging,
    private readonly blobs: Map<string, StagedBlock>,
    private readonly space: string,
    private readonly sqlImport: SqlImport,
    /** The SQL decisions the dry run made (and the installs followed): the commit must make the same. */
    private readonly planned: ReadonlyMap<string, boolean> | undefined,
  ) {
    this.#verifier = new HistoryVerifier(trx, metadata.engine);
  }

  async run(): Promise<ReplayOutcome> {
    const { trx, space } = this;
    // Against the history as it was before this import: its own events must not count as the node's.
    const sql = this.sqlImport.pending ? await this.sqlImport.decide(trx) : new Map<string, boolean>();
    if (this.planned && [...sql].some(([name, install]) => this.planned!.get(name) !== install)) {
      throw new TinyCloudError('CONFLICT', `The SQL databases of ${space} changed while the import ran; import again`);
    }
    const known = await trx.selectFrom('space').select('id').where('id', '=', space).executeTakeFirst();
    if (!known) {
      await trx.insertInto('space').values({ id: space, created_at: this.staging.firstEventTime() ?? Date.now() / 1000 }).execute();
    }
    for (const epoch of this.staging.epochs()) await this.#epoch(epoch);
    for (const proof of this.staging.proofs()) await this.#proof(proof);
    await this.sqlImport.record(trx, sql);
    const heads = (await headEpochs(trx, space)).map((h) => cidText(epochCid(h)));
    return { added: this.#added, existing: this.#existing, heads, sql };
  }

  async #decode(event: StagedEvent): Promise<SignedEnvelope> {
    const decoded = await decodeEvent(event.bytes);
    if (!decoded.ok) throw decoded.error;
    return decoded.value;
  }

  /** Proofs a chain cites are replayed just before the first event that needs them. */
  async #ensureParents(info: DelegationInfo): Promise<void> {
    for (const parent of info.parents) {
      if (this.#proofsDone.has(hex(parent)) || !this.staging.isProof(parent)) continue;
      await this.#proof(this.staging.event(parent)!);
    }
  }

  async #proof(proof: StagedEvent): Promise<void> {
    if (this.#proofsDone.has(hex(proof.id))) return;
    this.#proofsDone.add(hex(proof.id));
    const env = await this.#decode(proof);
    await this.#ensureParents(env.info);
    const stored = await this.#record(proof.kind, env, proof.at, `proof ${proof.kind} ${cidText(rawCid(proof.id))}`);
    (stored ? this.#added : this.#existing).proofs++;
  }

  /** Check and store one event's rows; false when the node already had it. */
  async #record(kind: EventKind, env: SignedEnvelope, at: number, what: string): Promise<boolean> {
    const fail = (error: TinyCloudError): never => {
      throw invalid(`${what}: ${error.message} (${error.code})`, { cid: cidText(env.cid), code: error.code });
    };
    const v = this.#verifier;
    switch (kind) {
      case 'delegation': {
        const exists = await this.trx.selectFrom('delegation').select('id').where('id', '=', env.multihash).executeTakeFirst();
        if (exists) return false;
        const edges = await v.delegation(env);
        if (!edges.ok) return fail(edges.error);
        const recorded = await v.recordDelegation(env, edges.value, at);
        if (!recorded.ok) return fail(recorded.error);
        return recorded.value === 'stored';
      }
      case 'invocation': {
        const exists = await this.trx.selectFrom('invocation').select('id').where('id', '=', env.multihash).executeTakeFirst();
        if (exists) return false;
        const checked = await v.invocation(env);
        if (!checked.ok) return fail(checked.error);
        return (await v.recordInvocation(env, at)) === 'stored';
      }
      case 'revocation': {
        const exists = await this.trx.selectFrom('revocation').select('id').where('id', '=', env.multihash).executeTakeFirst();
        if (exists) return false;
        const checked = await v.revocation(env, at);
        if (!checked.ok) return fail(checked.error);
        return (await v.recordRevocation(env, checked.value.cid.multihash.bytes, at)) === 'stored';
      }
    }
  }

  async #epoch(epoch: StagedEpoch): Promise<void> {
    const { trx, space } = this;
    const cid = epochCid(epoch.id);
    const exists = await trx.selectFrom('epoch').select('seq').where('space', '=', space).where('id', '=', epoch.id).executeTakeFirst();
    if (exists) {
      this.#existing.epochs++;
      return;
    }
    await trx.insertInto('epoch').values({ id: epoch.id, space, seq: epoch.seq }).execute();
    for (const parent of epoch.parents) await trx.insertInto('epoch_order').values({ parent, child: epoch.id, space }).execute();
    this.#added.epochs++;

    for (const [pos, ref] of epoch.events.entries()) {
      const event = this.staging.event(ref.id)!;
      const what = `${ref.kind} ${cidText(rawCid(ref.id))} (event ${pos} of epoch ${cidText(cid)})`;
      const ordered = await trx.selectFrom('event_order').select('epoch').where('space', '=', space).where('event', '=', ref.id).executeTakeFirst();
      if (ordered) {
        throw new TinyCloudError(
          'CONFLICT',
          `${what} is already in the history of ${space} here, in epoch ${cidText(epochCid(new Uint8Array(ordered.epoch)))}: the two histories diverged on the same event and cannot be merged`,
        );
      }
      const env = await this.#decode(event);
      await this.#ensureParents(env.info);
      const stored = await this.#record(ref.kind, env, ref.at, what);
      (stored ? this.#added : this.#existing)[KIND_TALLY[ref.kind]]++;
      await trx.insertInto('event_order').values({ event: ref.id, space, seq: epoch.seq, epoch: epoch.id, epoch_seq: pos, kind: ref.kind }).execute();
      if (ref.kind === 'invocation') await this.#kvOps(epoch, pos, env, ref.at);
    }
  }

  async #kvOps(epoch: StagedEpoch, pos: number, env: SignedEnvelope, at: number): Promise<void> {
    const { trx, space } = this;
    const position = { invocation: env.multihash, seq: epoch.seq, epoch: epoch.id, epochSeq: pos };
    for (const op of this.staging.opsOf(epoch.index, pos)) {
      if (op.kind === 'write') {
        const size = await this.#contentSize(op.value);
        const metadata = JSON.stringify(op.metadata);
        await trx
          .insertInto('kv_write')
          .values({ space, key: op.key, invocation: env.multihash, seq: epoch.seq, epoch: epoch.id, epoch_seq: pos, value: op.value, size, metadata, writer: env.info.delegator, written_at: at })
          .execute();
        await applyCurrent(trx, { space, key: op.key, ...position, value: op.value, size, metadata, deleted: false });
        if (await recordBlock(trx, space, op.value, size, at, this.staging.content(op.value) ?? null)) {
          this.#added.blobs++;
          this.#added.blobBytes += size;
        }
      } else {
        if (op.version) {
          const v = op.version;
          const write = await trx
            .selectFrom('kv_write')
            .select(['seq', 'epoch_seq'])
            .where('space', '=', space)
            .where('key', '=', op.key)
            .where('invocation', '=', v.invocation)
            .executeTakeFirst();
          if (!write || Number(write.seq) !== v.seq || Number(write.epoch_seq) !== v.epochSeq) {
            throw invalid(`op ${cidText(CID.decode(op.cid))} deletes a version of ${JSON.stringify(op.key)} (${cidText(rawCid(v.invocation))}) this history never wrote`, {
              cid: cidText(CID.decode(op.cid)),
            });
          }
        }
        await trx
          .insertInto('kv_delete')
          .values({ space, key: op.key, invocation: env.multihash, seq: epoch.seq, epoch: epoch.id, epoch_seq: pos, deleted_invocation: op.version?.invocation ?? null, writer: env.info.delegator, deleted_at: at })
          .execute();
        await applyCurrent(trx, { space, key: op.key, ...position, value: null, size: 0, metadata: '{}', deleted: true });
      }
      this.#added.ops++;
    }
  }

  async #contentSize(digest: Uint8Array): Promise<number> {
    const staged = this.blobs.get(hex(digest));
    if (staged) return staged.size;
    const held = this.staging.content(digest);
    if (held) return held.length;
    const row = await blockRow(this.trx, this.space, digest);
    if (row) return row.size;
    const size = await this.store.size(this.space, digest);
    if (size === undefined) throw invalid(`content ${cidText(blobCid(digest))} is neither in the file nor on this node`);
    return size;
  }
}

/**
 * The manifest at the head of a CAR stream, without consuming it: `source` replays every byte (the ones read to
 * find the manifest, then the rest). For clients that must know the space before they send the file.
 */
export async function peekManifest(input: AsyncIterable<Uint8Array>): Promise<{ manifest: Manifest; root: CID; source: AsyncIterable<Uint8Array> }> {
  const iterator = input[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  const recording = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        seen.push(next.value);
        yield next.value;
      }
    },
  };
  const reader = new CarStreamReader(recording);
  const roots = await reader.roots();
  const head = await reader.next();
  if (roots.length !== 1 || !head || !head.cid.equals(roots[0]!)) throw invalid('not a space export: its first block is not its one root');
  const bytes = await reader.body(MAX_SMALL_BLOCK);
  if ((await blake3HexOf(bytes)) !== hex(head.cid.multihash.digest)) throw invalid(`manifest ${cidText(head.cid)}: its bytes do not hash to its CID`);
  const manifest = decodeManifest(bytes, head.cid);
  return {
    manifest,
    root: head.cid,
    source: (async function* () {
      yield* seen;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    })(),
  };
}
