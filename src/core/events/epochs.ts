import type { Transaction } from 'kysely';
import { blake3 } from '../ids/blake3.js';
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

export async function epochEntries(events: EventInput[]): Promise<EpochEventEntry[]> {
  return Promise.all(
    events.map(async (event) => {
      const cid = eventCid(digestOf(event.multihash));
      if (!event.ops?.length) return cid;
      return [cid, ...(await Promise.all(event.ops.map(kvOpCid)))];
    }),
  );
}

/** Epochs of a space that no later epoch names as parent. */
export async function headEpochs(trx: Transaction<Database>, space: string): Promise<Uint8Array[]> {
  // `epoch_head` is kept by triggers on every insert into `epoch` and `epoch_order` (migration 005).
  const rows = await trx.selectFrom('epoch_head').select('epoch').where('space', '=', space).orderBy('epoch').execute();
  return rows.map((r) => new Uint8Array(r.epoch));
}

/**
 * Orders events into a new epoch of `space` inside the caller's transaction (WIRE §6): seq = last seq + 1,
 * parents = current heads, events numbered 0..n-1. Service rows that reference the epoch are written by the
 * caller in the same transaction, so a write is visible exactly when its epoch is.
 */
export async function appendEpoch(trx: Transaction<Database>, space: string, events: EventInput[]): Promise<AppendedEpoch> {
  const parents = await headEpochs(trx, space);
  const last = await trx.selectFrom('epoch').select((eb) => eb.fn.max('seq').as('seq')).where('space', '=', space).executeTakeFirst();
  const seq = last?.seq === null || last?.seq === undefined ? 0 : Number(last.seq) + 1;

  const parentCids = parents.map((p) => cidOfDigest(digestOf(p), DAG_CBOR_CODEC));
  const bytes = encodeEpoch(parentCids, await epochEntries(events));
  const digest = await blake3(bytes);
  const epoch = multihashOfDigest(digest);

  await trx.insertInto('epoch').values({ id: epoch, space, seq }).execute();
  for (const parent of parents) {
    await trx.insertInto('epoch_order').values({ parent, child: epoch, space }).execute();
  }
  const eventSeqs = events.map((_, index) => index);
  if (events.length > 0) {
    await trx
      .insertInto('event_order')
      .values(events.map((event, index) => ({ event: event.multihash, space, seq, epoch, epoch_seq: index, kind: event.kind })))
      .execute();
  }
  return { epoch, cid: cidOfDigest(digest, DAG_CBOR_CODEC), bytes, seq, eventSeqs };
}
