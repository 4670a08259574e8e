import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openMetadataDb } from '../../src/core/db/database.js';
import { writeTransaction } from '../../src/core/db/write-transaction.js';
import { addToTransactionEpoch, appendEpoch, encodeEpoch, eventCid, headEpochs, type AppendedEpoch } from '../../src/core/events/index.js';
import { blake3 } from '../../src/core/ids/blake3.js';
import { DAG_CBOR_CODEC, cidOfDigest, multihashOfDigest } from '../../src/core/ids/cid.js';
import { tempDir } from '../support/test-node.js';
import { metadataEngines } from '../support/server-databases.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const engines = metadataEngines(`sqlite:${path.join(dir, 'caps.db')}`);

const hash = (n: number) => new Uint8Array([0x1e, 0x20, ...new Uint8Array(32).fill(n)]);
const hex = (rows: Uint8Array[]) => rows.map((r) => Buffer.from(r).toString('hex')).sort();

describe.each(engines)('epoch heads on %s', (_name, url) => {
  it.runIf(url !== undefined)('follow appended epochs and epochs written directly, in any order', async () => {
    const metadata = await openMetadataDb(url!);
    const space = `tinycloud:key:z6Mkheads${Date.now()}:x`;
    try {
      const read = () => writeTransaction(metadata, (trx) => headEpochs(trx, space));
      expect(await read()).toEqual([]);
      const first = await writeTransaction(metadata, (trx) => appendEpoch(trx, space, [{ kind: 'delegation', multihash: hash(1) }]));
      expect(hex(await read())).toEqual(hex([first.epoch]));
      const second = await writeTransaction(metadata, (trx) => appendEpoch(trx, space, [{ kind: 'delegation', multihash: hash(2) }]));
      expect(hex(await read())).toEqual(hex([second.epoch]));

      // An importer writing a fork: a child's order row may arrive before its parent epoch.
      await writeTransaction(metadata, async (trx) => {
        await trx.insertInto('epoch_order').values({ parent: hash(40), child: hash(41), space }).execute();
        await trx.insertInto('epoch').values({ id: hash(41), space, seq: 2 }).execute();
        await trx.insertInto('epoch').values({ id: hash(40), space, seq: 1 }).execute();
      });
      expect(hex(await read())).toEqual(hex([second.epoch, hash(41)]));
      const merge = await writeTransaction(metadata, (trx) => appendEpoch(trx, space, [{ kind: 'delegation', multihash: hash(3) }]));
      expect(hex(await read())).toEqual(hex([merge.epoch]));
    } finally {
      await metadata.close();
    }
  });

  it.runIf(url !== undefined)('writers of one transaction share its epoch of a space: events in writer order, a failed writer left out, an epoch of a writer’s own ordered first', async () => {
    const metadata = await openMetadataDb(url!);
    const space = `tinycloud:key:z6Mkshared${Date.now()}:x`;
    try {
      const before = await writeTransaction(metadata, (trx) => appendEpoch(trx, space, [{ kind: 'delegation', multihash: hash(60) }]));
      const placed: Record<string, [AppendedEpoch, number]> = {};
      const sharing = (n: number, fail = false) =>
        writeTransaction(metadata, async (_trx, group) => {
          addToTransactionEpoch(group, space, { kind: 'invocation', multihash: hash(n) }, async (_t, epoch, epochSeq) => {
            placed[n] = [epoch, epochSeq];
          });
          if (fail) throw new Error(`writer ${n} refused`);
        });
      // Issued in one turn: one transaction.
      const results = await Promise.allSettled([
        sharing(61),
        sharing(62, true),
        writeTransaction(metadata, (trx) => appendEpoch(trx, space, [{ kind: 'revocation', multihash: hash(63) }])),
        sharing(64),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      const own = (results[2] as PromiseFulfilledResult<AppendedEpoch>).value;
      expect(Object.keys(placed)).toEqual(['61', '64']);
      const [shared, first] = placed[61]!;
      expect(first).toBe(0);
      expect(placed[64]![0].epoch).toEqual(shared.epoch);
      expect(placed[64]![1]).toBe(1);
      expect([before.seq, own.seq, shared.seq]).toEqual([before.seq, before.seq + 1, before.seq + 2]);
      // The shared epoch's id is WIRE §6's: parents (the writer's own epoch), then both events in order.
      const expected = encodeEpoch([cidOfDigest(own.epoch.subarray(2), DAG_CBOR_CODEC)], [eventCid(hash(61).subarray(2)), eventCid(hash(64).subarray(2))]);
      expect(Buffer.from(shared.epoch).equals(Buffer.from(multihashOfDigest(await blake3(expected))))).toBe(true);
      expect(hex(await writeTransaction(metadata, (trx) => headEpochs(trx, space)))).toEqual(hex([shared.epoch]));
    } finally {
      await metadata.close();
    }
  });
});
