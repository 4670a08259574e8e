import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openMetadataDb } from '../../src/core/db/database.js';
import SqliteDatabase from 'better-sqlite3';
import { DEFAULT_AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES, WalCheckpointer } from '../../src/core/db/wal-checkpointer.js';
import { writeTransaction } from '../../src/core/db/write-transaction.js';

describe('SQLite WAL checkpoints on a worker thread', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tinycloud-wal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sustained writers never fail on the checkpointer’s lock, the WAL stays bounded, and close leaves every row in the database file', async () => {
    const file = path.join(dir, 'caps.db');
    const metadata = await openMetadataDb(`sqlite:${file}`);
    const payload = new Uint8Array(3000).fill(7);
    let largestWal = 0;
    // ~12k rows in ~3k transactions, each reading before it writes (as a KV put does): tens of thousands of WAL
    // frames, far past the point where the worker restarts the WAL, with writers queued the whole time.
    const rounds = 3000;
    const writers = 4;
    for (let round = 0; round < rounds; round++) {
      await Promise.all(
        Array.from({ length: writers }, (_, i) =>
          writeTransaction(metadata, async (trx) => {
            await trx.selectFrom('invocation').select('id').limit(1).execute();
            await new Promise((resolve) => setImmediate(resolve));
            await trx
              .insertInto('invocation')
              .values({ id: Buffer.from(`${round}-${i}`.padEnd(34, '.')), invoker: 'did:example:alice', issued_at: round, expiry: null, facts: null, serialization: payload })
              .execute();
          }),
        ),
      );
      if (round % 100 === 0 && existsSync(`${file}-wal`)) largestWal = Math.max(largestWal, statSync(`${file}-wal`).size);
    }
    await metadata.close();
    expect(largestWal).toBeGreaterThan(0);
    expect(largestWal).toBeLessThan(WAL_SIZE_LIMIT_BYTES);
    // The last connection to close checkpoints everything and removes the WAL.
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = await openMetadataDb(`sqlite:${file}`);
    try {
      const { count } = await reopened.db.selectFrom('invocation').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
      expect(Number(count)).toBe(rounds * writers);
    } finally {
      await reopened.close();
    }
  }, 120_000);

  it('a node that writes now and then keeps no checkpoint thread; frequent writes start one, which hands back when they stop', async () => {
    const file = path.join(dir, 'rare.db');
    const database = new SqliteDatabase(file);
    database.pragma('journal_mode = WAL');
    const autocheckpoint = () => Number(database.pragma('wal_autocheckpoint', { simple: true }));
    const checkpointer = new WalCheckpointer(file, {
      autocheckpoint: (pages) => void database.pragma(`wal_autocheckpoint = ${pages}`),
    });
    try {
      for (let i = 0; i < 10; i++) checkpointer.wrote();
      expect(checkpointer.running).toBe(false);
      expect(autocheckpoint()).toBe(DEFAULT_AUTOCHECKPOINT_PAGES);
      for (let i = 0; i < 40; i++) checkpointer.wrote();
      expect(checkpointer.running).toBe(true);
      expect(autocheckpoint()).toBeGreaterThan(DEFAULT_AUTOCHECKPOINT_PAGES);
    } finally {
      await checkpointer.close();
      expect(checkpointer.running).toBe(false);
      database.close();
    }
  });

  it('a reader that held the WAL while it grew does not leave it long: the WAL starts over once the reader is gone', async () => {
    const file = path.join(dir, 'reader.db');
    const metadata = await openMetadataDb(`sqlite:${file}`);
    const observer = new SqliteDatabase(file);
    const walFrames = () => (observer.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log;
    const payload = new Uint8Array(3000).fill(9);
    let row = 0;
    /** Writes in groups of eight until `done()` holds or `ms` pass; whether it held. */
    const writeUntil = async (done: () => boolean, ms: number) => {
      const until = Date.now() + ms;
      while (!done() && Date.now() < until) {
        await Promise.all(
          Array.from({ length: 8 }, () =>
            writeTransaction(metadata, (trx) =>
              trx
                .insertInto('invocation')
                .values({ id: Buffer.from(`r${row++}`.padEnd(34, '.')), invoker: 'did:example:bob', issued_at: 0, expiry: null, facts: null, serialization: payload })
                .execute(),
            ),
          ),
        );
      }
      return done();
    };
    try {
      await writeUntil(() => false, 300);
      // An export-like reader: a read transaction open while thousands of frames are written.
      const reader = new SqliteDatabase(file, { readonly: true });
      reader.exec('begin');
      reader.prepare('select count(*) from invocation').get();
      expect(await writeUntil(() => walFrames() > 6000, 30_000)).toBe(true);
      reader.exec('commit');
      reader.close();
      // It starts over soon, long before the writer's own backstop (16384 pages) would make it.
      let longest = 0;
      const restarted = () => {
        const frames = walFrames();
        longest = Math.max(longest, frames);
        return frames < 4096;
      };
      expect(await writeUntil(restarted, 30_000)).toBe(true);
      expect(longest).toBeLessThan(12_000);
    } finally {
      observer.close();
      await metadata.close();
    }
  }, 60_000);
});
