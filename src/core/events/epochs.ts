import type { Transaction } from 'kysely';
import { prepared } from '../db/prepared.js';
import type { WriteGroup } from '../db/write-transaction.js';
import { blake3Sync } from '../ids/blake3.js';
import { CID, DAG_CBOR_CODEC, cidOfDigest, multihashOfDigest } from '../ids/cid.js';
import type { Database } from '../db/schema.js';
import { encodeEpoch, eventCid, kvOpCid, type EpochEventEntry, type KvOp } from './encoding.js';

export type EventKind = 'delegation' | 'invocation' | 'revocation';

export interface EventInput {
  kind: EventKind;
  /** 34-byte BLAKE3 multihash of the event's exact serialized bytes. */
  multihash: Uint8Array;
  /** KV ops this invocation performs in this space, in capability order. */
  ops?: KvOp[];
}

export interface AppendedEpoch {
  /** 34-byte multihash of the epoch block. */
  epoch: Uint8Array;
  /** The epoch CID (codec 0x71) and its exact DAG-CBOR bytes, as a CAR export carries them. */
  cid: CID;
  bytes: Uint8Array;
  seq: number;
  /** `epoch_seq` of each input event, in input order. */
  eventSeqs: number[];
}

const digestOf = (multihash: Uint8Array): Uint8Array => multihash.subarray(2);

export function epochEntries(events: EventInput[]): EpochEventEntry[] {
  return events.map((event) => {
    const cid = eventCid(digestOf(event.multihash));
    if (!event.ops?.length) return cid;
    return [cid, ...event.ops.map(kvOpCid)];
  });
}

// Every write runs these: compiled once (db/prepared.ts).
// `epoch_head` is kept by triggers on every insert into `epoch` and `epoch_order` (migration 005).
const headsQuery = prepared((db, space: string) => db.selectFrom('epoch_head').select('epoch').where('space', '=', space).orderBy('epoch'));
const lastSeqQuery = prepared((db, space: string) => db.selectFrom('epoch').select((eb) => eb.fn.max('seq').as('seq')).where('space', '=', space));
const insertEpoch = prepared((db, id: Uint8Array, space: string, seq: number) => db.insertInto('epoch').values({ id, space, seq }));
const insertEpochOrder = prepared((db, parent: Uint8Array, child: Uint8Array, space: string) =>
  db.insertInto('epoch_order').values({ parent, child, space }),
);
const insertEventOrder = prepared((db, event: Uint8Array, space: string, seq: number, epoch: Uint8Array, epochSeq: number, kind: string) =>
  db.insertInto('event_order').values({ event, space, seq, epoch, epoch_seq: epochSeq, kind }),
);

/** Epochs of a space that no later epoch names as parent. */
export async function headEpochs(trx: Transaction<Database>, space: string): Promise<Uint8Array[]> {
  return (await headsQuery(trx, space)).rows.map((r) => new Uint8Array(r.epoch));
}

/**
 * Orders events into a new epoch of `space` inside the caller's transaction (WIRE §6): seq = last seq + 1,
 * parents = current heads, events numbered 0..n-1. Service rows that reference the epoch are written by the
 * caller in the same transaction, so a write is visible exactly when its epoch is.
 */
export async function appendEpoch(trx: Transaction<Database>, space: string, events: EventInput[]): Promise<AppendedEpoch> {
  const parents = await headEpochs(trx, space);
  const [last] = (await lastSeqQuery(trx, space)).rows;
  const seq = last?.seq === null || last?.seq === undefined ? 0 : Number(last.seq) + 1;

  const parentCids = parents.map((p) => cidOfDigest(digestOf(p), DAG_CBOR_CODEC));
  const bytes = encodeEpoch(parentCids, epochEntries(events));
  // An epoch is a few hundred bytes: hashed synchronously, without a promise.
  const digest = blake3Sync(bytes);
  const epoch = multihashOfDigest(digest);

  await insertEpoch(trx, epoch, space, seq);
  for (const parent of parents) await insertEpochOrder(trx, parent, epoch, space);
  const eventSeqs = events.map((_, index) => index);
  for (const [index, event] of events.entries()) await insertEventOrder(trx, event.multihash, space, seq, epoch, index, event.kind);
  return { epoch, cid: cidOfDigest(digest, DAG_CBOR_CODEC), bytes, seq, eventSeqs };
}

/** Writes the rows that name an event's place in its epoch, once the epoch exists. */
export type EpochRows = (trx: Transaction<Database>, epoch: AppendedEpoch, epochSeq: number) => Promise<void>;

interface SharedEvent {
  event: EventInput;
  rows: EpochRows;
}

/**
 * Puts an event into the one epoch its transaction makes for `space` (WIRE §6: one epoch per transaction and
 * touched space), so writers sharing a group commit share an epoch too. The epoch is made once every writer of
 * the transaction has run; then `rows` writes what refers to it. Those rows land after every writer of the
 * transaction ran, so a writer whose own reads must see them in order (a conditional write, a delete) appends an
 * epoch of its own instead; it is then ordered before the shared one.
 */
export function addToTransactionEpoch(group: WriteGroup, space: string, event: EventInput, rows: EpochRows): void {
  const key = `epoch ${space}`;
  group.add(key, { event, rows } satisfies SharedEvent);
  group.beforeCommit(key, async (trx, items) => {
    const shared = items as SharedEvent[];
    if (shared.length === 0) return;
    const epoch = await appendEpoch(trx, space, shared.map((s) => s.event));
    for (const [index, { rows: write }] of shared.entries()) await write(trx, epoch, epoch.eventSeqs[index]!);
  });
}
