import * as dagCbor from '@ipld/dag-cbor';
import { canonicalAbility } from '../auth/abilities.js';
import { decodeCacaoEnvelope, decodeUcanEnvelope } from '../auth/envelope.js';
import type { Capability, SignedEnvelope } from '../auth/types.js';
import { encodeEpoch, encodeKvOp, type EpochEventEntry, type KvOp } from '../events/index.js';
import { CID, DAG_CBOR_CODEC, RAW_CODEC } from '../ids/cid.js';
import type { Result } from '../result.js';
import { asBlake3Cid, cidText, invalid } from './format.js';

/** One KV op an invocation makes, as far as its signed capabilities say: which key, and write or delete. */
export interface KvOpTarget {
  kind: 'write' | 'delete';
  key: string;
}

const KV_PUT = 'tinycloud.kv/put';
const KV_DEL = 'tinycloud.kv/del';

/**
 * The ops an invocation's epoch entry carries in `space`, in the order WIRE §6 hashes them: capabilities sorted
 * by resource URI, then ability (as the KV service orders them), puts as writes and dels as deletes, one per key.
 */
export function kvOpTargets(capabilities: readonly Capability[], space: string): KvOpTarget[] {
  const sorted = [...capabilities].sort((a, b) =>
    a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : a.ability < b.ability ? -1 : a.ability > b.ability ? 1 : 0,
  );
  const seen = new Set<string>();
  const targets: KvOpTarget[] = [];
  for (const cap of sorted) {
    const t = cap.target;
    if (t.kind !== 'tinycloud' || t.service !== 'kv' || t.space.text !== space) continue;
    const ability = canonicalAbility(cap.ability);
    const kind = ability === KV_PUT ? 'write' : ability === KV_DEL ? 'delete' : undefined;
    if (!kind) continue;
    const id = `${kind} ${t.uri}`;
    if (seen.has(id)) continue;
    seen.add(id);
    targets.push({ kind, key: t.path ?? '' });
  }
  return targets;
}

const UCAN_BYTES = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Decode stored event bytes as the node's edge decodes them (either dialect): a compact JWS is a UCAN, anything
 * else a CACAO. Nothing is verified here.
 */
export async function decodeEvent(bytes: Uint8Array): Promise<Result<SignedEnvelope>> {
  const text = Buffer.from(bytes).toString('latin1');
  if (UCAN_BYTES.test(text)) return decodeUcanEnvelope(text, { legacy: true });
  return decodeCacaoEnvelope(bytes, { legacy: true });
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function decodeStrict(bytes: Uint8Array, what: string, cid: CID): unknown {
  try {
    return dagCbor.decode(bytes);
  } catch (error) {
    throw invalid(`${what} ${cidText(cid)} is not valid DAG-CBOR: ${(error as Error).message}`, { cid: cidText(cid) });
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/**
 * An epoch block: `{parents: [CID 0x71], events: [CID 0x55 | [CID 0x55, CID 0x71…]]}`, accepted only when the
 * events module encodes the decoded value back to exactly these bytes (declaration order, WIRE §6).
 */
export function decodeEpochBlock(bytes: Uint8Array, cid: CID): { parents: CID[]; entries: EpochEventEntry[] } {
  const value = decodeStrict(bytes, 'epoch', cid);
  const bad = (what: string) => invalid(`epoch ${cidText(cid)}: ${what}`, { cid: cidText(cid) });
  if (!isRecord(value) || !Array.isArray(value.parents) || !Array.isArray(value.events)) throw bad('not {parents, events}');
  const parents = value.parents.map((p) => asBlake3Cid(p, DAG_CBOR_CODEC) ?? (() => { throw bad('a parent is not an epoch CID'); })());
  const entries = value.events.map((e): EpochEventEntry => {
    if (Array.isArray(e)) {
      const [event, ...ops] = e;
      const head = asBlake3Cid(event, RAW_CODEC);
      const opCids = ops.map((o) => asBlake3Cid(o, DAG_CBOR_CODEC));
      if (!head || ops.length === 0 || opCids.some((o) => !o)) throw bad('an entry is not [event CID, op CIDs…]');
      return [head, ...(opCids as CID[])];
    }
    return asBlake3Cid(e, RAW_CODEC) ?? (() => { throw bad('an entry is not an event CID'); })();
  });
  if (!sameBytes(encodeEpoch(parents, entries), bytes)) throw bad('not encoded as the node encodes epochs (WIRE §6 field order)');
  return { parents, entries };
}

/** A KV op block, accepted only when it re-encodes to exactly these bytes (WIRE §6). */
export function decodeKvOpBlock(bytes: Uint8Array, cid: CID): KvOp {
  const value = decodeStrict(bytes, 'op', cid);
  const bad = (what: string) => invalid(`op ${cidText(cid)}: ${what}`, { cid: cidText(cid) });
  if (!isRecord(value) || typeof value.key !== 'string') throw bad('not an op with a key');
  let op: KvOp;
  if ('value' in value) {
    const content = asBlake3Cid(value.value, DAG_CBOR_CODEC);
    const metadata = value.metadata;
    if (!content || !isRecord(metadata) || !Object.values(metadata).every((v) => typeof v === 'string')) {
      throw bad('a write is not {key, value: CID, metadata: {string: string}}');
    }
    op = { kind: 'write', key: value.key, value: content.multihash.digest, metadata: metadata as Record<string, string> };
  } else {
    const v = value.version;
    let version: [number, CID, number] | null = null;
    if (v !== null) {
      const invocation = Array.isArray(v) ? asBlake3Cid(v[1], RAW_CODEC) : undefined;
      if (!Array.isArray(v) || v.length !== 3 || !Number.isSafeInteger(v[0]) || !Number.isSafeInteger(v[2]) || !invocation) {
        throw bad('a delete version is not null or [seq, invocation CID, epoch_seq]');
      }
      version = [v[0] as number, invocation, v[2] as number];
    }
    op = { kind: 'delete', key: value.key, version };
  }
  if (!sameBytes(encodeKvOp(op), bytes)) throw bad('not encoded as the node encodes ops (WIRE §6 field order)');
  return op;
}
