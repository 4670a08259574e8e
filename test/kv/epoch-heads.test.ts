import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openMetadataDb } from '../../src/core/db/database.js';
import { writeTransaction } from '../../src/core/db/write-transaction.js';
import { appendEpoch, headEpochs } from '../../src/core/events/index.js';
import { tempDir } from '../support/test-node.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const engines: [string, string | undefined][] = [
  ['SQLite', `sqlite:${path.join(dir, 'caps.db')}`],
  ['PostgreSQL', process.env.TINYCLOUD_TEST_POSTGRES_URL],
  ['MariaDB', process.env.TINYCLOUD_TEST_MYSQL_URL],
];

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
});
