import { CarWriter } from '@ipld/car/writer';
import * as dagCbor from '@ipld/dag-cbor';
import { TinyCloudError } from '../errors.js';
import { blake3HexOf } from '../ids/blake3.js';
import { BLAKE3_CODE, CID, DAG_CBOR_CODEC, RAW_CODEC, cidOfDigest, cidToBase32 } from '../ids/cid.js';

/** The `format` field of every manifest; with `version`, what a reader checks first (docs/car-format.md). */
export const CAR_FORMAT = 'tinycloud/space';
export const CAR_FORMAT_VERSION = 1;
export const CAR_CONTENT_TYPE = 'application/vnd.ipld.car';

export type EventKind = 'delegation' | 'invocation' | 'revocation';
const EVENT_KINDS: readonly string[] = ['delegation', 'invocation', 'revocation'];

export interface ManifestCounts {
  epochs: number;
  delegations: number;
  invocations: number;
  revocations: number;
  /** KV op blocks (writes and deletes). */
  ops: number;
  blobs: number;
  blobBytes: number;
}

/** An event the history needs that is not itself in the space's epochs: an ancestor delegation, or its revocation. */
export interface ProofEntry {
  cid: CID;
  kind: 'delegation' | 'revocation';
  /** When the source node received it (seconds; not signed). */
  at: number;
}

/**
 * A later addition (SQL snapshots, encryption-network records, …): its blocks come after the content blobs, in
 * section-name order. A reader skips `blocks` blocks of a section it does not know unless `required`. Other
 * fields are the section's own (`sql`: its databases, `sql-section.ts`).
 */
export interface SectionEntry {
  version: number;
  required: boolean;
  blocks: number;
  [field: string]: unknown;
}

export interface Manifest {
  format: string;
  version: number;
  space: string;
  /** The space's head epochs when the snapshot was taken (CIDs, codec 0x71), ascending by bytes. */
  heads: CID[];
  /** Incremental export: only epochs after these were written; null for a full export. */
  since: CID[] | null;
  node: { version: string; protocol: number };
  /** Seconds: the latest event time in the file (never the wall clock, so a re-export is byte-identical). */
  createdAt: number | null;
  counts: ManifestCounts;
  proofs: ProofEntry[];
  sections: Record<string, SectionEntry>;
}

/** What an epoch's id does not cover but a faithful restore needs: each event's kind and arrival time, the seq. */
export interface EpochNote {
  epoch: CID;
  seq: number;
  events: { kind: EventKind; at: number }[];
}

export const invalid = (message: string, details?: Record<string, unknown>): TinyCloudError =>
  new TinyCloudError('CAR_INVALID', message, details);

export const cidText = (cid: CID): string => cidToBase32(cid);
export const blobCid = (digest: Uint8Array): CID => cidOfDigest(digest, RAW_CODEC);
export const epochCid = (multihash: Uint8Array): CID => cidOfDigest(multihash.subarray(2), DAG_CBOR_CODEC);
export const rawCid = (multihash: Uint8Array): CID => cidOfDigest(multihash.subarray(2), RAW_CODEC);

/** The BLAKE3 CID (codec 0x71) of DAG-CBOR bytes. */
export const dagCborCid = async (bytes: Uint8Array): Promise<CID> => cidOfDigest(Buffer.from(await blake3HexOf(bytes), 'hex'), DAG_CBOR_CODEC);

/** DAG-CBOR block bytes (canonical order) and their BLAKE3 CID. */
export async function dagCborBlock(value: unknown): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = dagCbor.encode(value);
  return { cid: await dagCborCid(bytes), bytes };
}

export function encodeManifest(m: Manifest): Promise<{ cid: CID; bytes: Uint8Array }> {
  return dagCborBlock({ ...m });
}

export function encodeNote(note: EpochNote): Promise<{ cid: CID; bytes: Uint8Array }> {
  return dagCborBlock({ ...note });
}

/** The CARv1 header (varint length ‖ DAG-CBOR `{version: 1, roots}`), as @ipld/car writes it. */
export async function carHeader(root: CID): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([root]);
  const closing = writer.close();
  const parts: Uint8Array[] = [];
  for await (const chunk of out) parts.push(chunk);
  await closing;
  return Buffer.concat(parts);
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  let n = value;
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/**
 * The start of one CAR section: varint(CID length + body length) ‖ CID. The body follows as is, so a block of
 * any size streams without being held (@ipld/car's writer takes whole blocks).
 */
export const sectionHead = (cid: CID, bodyLength: number): Uint8Array => Buffer.concat([varint(cid.bytes.length + bodyLength), cid.bytes]);

// ---- decoding, for untrusted input: every shape is checked ------------------------------------------------

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A BLAKE3-256 CIDv1, or undefined. */
export function asBlake3Cid(value: unknown, codec?: number): CID | undefined {
  const cid = CID.asCID(value);
  if (!cid || cid.version !== 1 || cid.multihash.code !== BLAKE3_CODE || cid.multihash.size !== 32) return undefined;
  if (codec !== undefined && cid.code !== codec) return undefined;
  return cid;
}

function decodeDagCbor(bytes: Uint8Array, what: string, cid: CID): unknown {
  try {
    return dagCbor.decode(bytes);
  } catch (error) {
    throw invalid(`${what} ${cidText(cid)} is not valid DAG-CBOR: ${(error as Error).message}`, { cid: cidText(cid) });
  }
}

export function decodeManifest(bytes: Uint8Array, cid: CID): Manifest {
  const m = decodeDagCbor(bytes, 'manifest', cid);
  const bad = (what: string) => invalid(`manifest ${cidText(cid)}: ${what}`, { cid: cidText(cid) });
  if (!isRecord(m)) throw bad('not a map');
  if (m.format !== CAR_FORMAT) throw bad(`format is ${JSON.stringify(m.format)}, not ${CAR_FORMAT} (is this a TinyCloud space export?)`);
  if (m.version !== CAR_FORMAT_VERSION) throw bad(`format version ${String(m.version)} is not supported (this node reads version ${CAR_FORMAT_VERSION})`);
  if (typeof m.space !== 'string') throw bad('space is not a string');
  const cids = (v: unknown, what: string): CID[] => {
    if (!Array.isArray(v)) throw bad(`${what} is not a list`);
    return v.map((c) => asBlake3Cid(c, DAG_CBOR_CODEC) ?? (() => { throw bad(`${what} holds something other than an epoch CID`); })());
  };
  const heads = cids(m.heads, 'heads');
  const since = m.since === null ? null : cids(m.since, 'since');
  if (!isRecord(m.node) || typeof m.node.version !== 'string' || !isCount(m.node.protocol)) throw bad('node is not {version, protocol}');
  if (m.createdAt !== null && !isTime(m.createdAt)) throw bad('createdAt is not a time');
  const c = m.counts;
  const names = ['epochs', 'delegations', 'invocations', 'revocations', 'ops', 'blobs', 'blobBytes'] as const;
  if (!isRecord(c) || !names.every((n) => isCount(c[n]))) throw bad(`counts must hold ${names.join(', ')}`);
  if (!Array.isArray(m.proofs)) throw bad('proofs is not a list');
  const proofs = m.proofs.map((p): ProofEntry => {
    const proofCid = isRecord(p) ? asBlake3Cid(p.cid, RAW_CODEC) : undefined;
    if (!isRecord(p) || !proofCid || (p.kind !== 'delegation' && p.kind !== 'revocation') || !isTime(p.at)) {
      throw bad('a proof is not {cid (raw), kind: delegation|revocation, at}');
    }
    return { cid: proofCid, kind: p.kind, at: p.at };
  });
  if (!isRecord(m.sections)) throw bad('sections is not a map');
  const sections: Record<string, SectionEntry> = {};
  for (const [name, s] of Object.entries(m.sections)) {
    if (!isRecord(s) || !isCount(s.version) || typeof s.required !== 'boolean' || !isCount(s.blocks)) {
      throw bad(`section ${name} is not {version, required, blocks}`);
    }
    sections[name] = { ...s, version: s.version, required: s.required, blocks: s.blocks };
  }
  const counts = Object.fromEntries(names.map((n) => [n, c[n] as number])) as unknown as ManifestCounts;
  return {
    format: CAR_FORMAT,
    version: CAR_FORMAT_VERSION,
    space: m.space,
    heads,
    since,
    node: { version: m.node.version, protocol: m.node.protocol as number },
    createdAt: m.createdAt as number | null,
    counts,
    proofs,
    sections,
  };
}

export function decodeNote(bytes: Uint8Array, cid: CID): EpochNote {
  const n = decodeDagCbor(bytes, 'epoch note', cid);
  const epoch = isRecord(n) ? asBlake3Cid(n.epoch, DAG_CBOR_CODEC) : undefined;
  const valid =
    isRecord(n) &&
    epoch !== undefined &&
    isCount(n.seq) &&
    Array.isArray(n.events) &&
    n.events.every((e) => isRecord(e) && EVENT_KINDS.includes(e.kind as string) && isTime(e.at));
  if (!valid) throw invalid(`epoch note ${cidText(cid)} is not {epoch, seq, events: [{kind, at}]}`, { cid: cidText(cid) });
  return { epoch, seq: n.seq as number, events: (n.events as { kind: EventKind; at: number }[]).map((e) => ({ kind: e.kind, at: e.at })) };
}
