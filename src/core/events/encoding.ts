import * as dagCbor from '@ipld/dag-cbor';
import { encode as cborEncode } from 'cborg';
import { blake3Sync } from '../ids/blake3.js';
import { CID, DAG_CBOR_CODEC, RAW_CODEC, cidOfDigest } from '../ids/cid.js';

/**
 * DAG-CBOR with maps written in insertion order. The reference node hashes epochs and ops as Rust structs,
 * whose fields serialize in declaration order (`parents` before `events`), not canonical key order (WIRE §6),
 * so we build each map in that order and keep it.
 */
const declarationOrder = { ...dagCbor.encodeOptions, mapSorter: () => 0 };

export function encodeInDeclarationOrder(value: unknown): Uint8Array {
  return cborEncode(value, declarationOrder);
}

/** DAG-CBOR canonical map order: shorter keys first, then bytewise. */
function canonicalKeyOrder(a: string, b: string): number {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length - bb.length || Buffer.compare(ab, bb);
}

export type KvOp =
  | { kind: 'write'; key: string; /** 32-byte BLAKE3 content digest */ value: Uint8Array; metadata: Record<string, string> }
  | { kind: 'delete'; key: string; /** the live version deleted: [seq, invocation CID, epoch_seq], or null */ version: [number, CID, number] | null };

export function encodeKvOp(op: KvOp): Uint8Array {
  if (op.kind === 'write') {
    const metadata = new Map(Object.keys(op.metadata).sort(canonicalKeyOrder).map((k) => [k, op.metadata[k]!]));
    // Codec 0x71 for the content CID although the blob is raw: the reference node does so (WIRE §6).
    return encodeInDeclarationOrder(new Map<string, unknown>([['key', op.key], ['value', cidOfDigest(op.value, DAG_CBOR_CODEC)], ['metadata', metadata]]));
  }
  return encodeInDeclarationOrder(new Map<string, unknown>([['key', op.key], ['version', op.version]]));
}

/** An op is a few hundred bytes: hashed synchronously, without a promise per hash. */
export function kvOpCid(op: KvOp): CID {
  return cidOfDigest(blake3Sync(encodeKvOp(op)), DAG_CBOR_CODEC);
}

/** An epoch's `events` entry: a bare event CID, or `[invocation CID, op CIDs…]` for an invocation with KV ops. */
export type EpochEventEntry = CID | CID[];

export function encodeEpoch(parents: CID[], events: EpochEventEntry[]): Uint8Array {
  return encodeInDeclarationOrder(new Map<string, unknown>([['parents', parents], ['events', events]]));
}

export const eventCid = (digest: Uint8Array): CID => cidOfDigest(digest, RAW_CODEC);
