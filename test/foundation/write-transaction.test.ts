import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataDb, type MetadataDb } from '../../src/core/db/database.js';
import { writeTransaction } from '../../src/core/db/write-transaction.js';

describe('writeTransaction group commit', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tinycloud-write-tx-'));
  let metadata: MetadataDb;
  beforeAll(async () => {
    metadata = await openMetadataDb(`sqlite:${path.join(dir, 'caps.db')}`);
  });
  afterAll(async () => {
    await metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const actors = async () => (await metadata.db.selectFrom('actor').select('id').orderBy('id').execute()).map((r) => r.id);

  it('concurrent writers share transactions; one that throws loses only its own rows and alone sees its error', async () => {
    const order: string[] = [];
    const writer = (id: string, fail = false) =>
      writeTransaction(metadata, async (trx) => {
        order.push(id);
        await trx.insertInto('actor').values({ id: `did:example:${id}-a` }).execute();
        // The rows of writers before it in the same group are visible: writes are sequential.
        const seen = (await trx.selectFrom('actor').select('id').execute()).length;
        await trx.insertInto('actor').values({ id: `did:example:${id}-b` }).execute();
        if (fail) throw new Error(`writer ${id} refused`);
        return seen;
      });
    const results = await Promise.allSettled([writer('1'), writer('2'), writer('3', true), writer('4'), writer('5')]);
    expect(order).toEqual(['1', '2', '3', '4', '5']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ message: 'writer 3 refused' });
    const seen = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value);
    expect(seen).toEqual([1, 3, 5, 7]);
    expect(await actors()).toEqual(['1', '2', '4', '5'].flatMap((id) => [`did:example:${id}-a`, `did:example:${id}-b`]));
  });

  it('a writer resolves only once its rows are committed, visible outside the transaction', async () => {
    const first = writeTransaction(metadata, (trx) => trx.insertInto('actor').values({ id: 'did:example:c1' }).execute());
    const second = writeTransaction(metadata, (trx) => trx.insertInto('actor').values({ id: 'did:example:c2' }).execute());
    await second;
    expect(await actors()).toEqual(expect.arrayContaining(['did:example:c1', 'did:example:c2']));
    await first;
  });

  it('when the shared transaction itself fails, every writer of the group is rejected and none of their rows is kept', async () => {
    const before = await actors();
    await writeTransaction(metadata, (trx) => trx.insertInto('actor').values({ id: 'did:example:d0' }).execute());
    // Issued in one turn, these two share a transaction; the second ends its own savepoint, so the group's
    // RELEASE fails and the transaction is rolled back as a whole.
    const grouped = [
      writeTransaction(metadata, (trx) => trx.insertInto('actor').values({ id: 'did:example:d1' }).execute()),
      writeTransaction(metadata, (trx) => sql`release savepoint tc_writer_1`.execute(trx)),
    ];
    expect((await Promise.allSettled(grouped)).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await actors()).toEqual([...before, 'did:example:d0'].sort());
  });

  it('runs each commit hook once, after every writer, with the items of the writers that succeeded, in writer order', async () => {
    const seen: string[][] = [];
    const hook = async (trx: Parameters<Parameters<typeof writeTransaction>[1]>[0], items: unknown[]) => {
      seen.push(items as string[]);
      for (const item of items) await trx.insertInto('actor').values({ id: `did:example:hooked-${String(item)}` }).execute();
    };
    const writer = (id: string, fail = false) =>
      writeTransaction(metadata, async (_trx, group) => {
        group.add('names', id);
        group.beforeCommit('names', hook);
        if (fail) throw new Error(`writer ${id} refused`);
      });
    // Alone, then four issued in one turn, which share a transaction.
    await writer('h1');
    const grouped = [writer('g1'), writer('g2', true), writer('g3'), writer('g4')];
    const settled = await Promise.allSettled(grouped);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(seen).toEqual([['h1'], ['g1', 'g3', 'g4']]);
    expect((await actors()).filter((id) => id.startsWith('did:example:hooked-'))).toEqual(
      ['g1', 'g3', 'g4', 'h1'].map((id) => `did:example:hooked-${id}`),
    );
  });

  it('a commit hook that throws fails every writer of its transaction and keeps none of their rows', async () => {
    const before = await actors();
    await writeTransaction(metadata, (trx) => trx.insertInto('actor').values({ id: 'did:example:e0' }).execute());
    const grouped = [
      writeTransaction(metadata, (trx) => trx.insertInto('actor').values({ id: 'did:example:e1' }).execute()),
      writeTransaction(metadata, async (trx, group) => {
        await trx.insertInto('actor').values({ id: 'did:example:e2' }).execute();
        group.beforeCommit('boom', async () => {
          throw new Error('hook failed');
        });
      }),
    ];
    const settled = await Promise.allSettled(grouped);
    expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((settled[0] as PromiseRejectedResult).reason).toMatchObject({ message: 'hook failed' });
    expect(await actors()).toEqual([...before, 'did:example:e0'].sort());
  });
});
