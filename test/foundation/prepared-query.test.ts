import path from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataDb, type MetadataDb } from '../../src/core/db/database.js';
import { prepared } from '../../src/core/db/prepared.js';
import { tempDir } from '../support/test-node.js';

const dir = tempDir();
let metadata: MetadataDb;
beforeAll(async () => {
  metadata = await openMetadataDb(`sqlite:${path.join(dir, 'caps.db')}`);
});
afterAll(async () => {
  await metadata.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('prepared queries', () => {
  const insertSpace = prepared((db, id: string, at: number) => db.insertInto('space').values({ id, created_at: at }));
  const spaceAt = prepared((db, id: string) => db.selectFrom('space').select(['id', 'created_at']).where('id', '=', id));

  it('run with each call’s own values, alone and inside a transaction', async () => {
    await insertSpace(metadata.db, 'tinycloud:key:z6Mkprepared:a', 1);
    await metadata.db.transaction().execute(async (trx) => {
      await insertSpace(trx, 'tinycloud:key:z6Mkprepared:b', 2);
      expect((await spaceAt(trx, 'tinycloud:key:z6Mkprepared:b')).rows).toEqual([{ id: 'tinycloud:key:z6Mkprepared:b', created_at: 2 }]);
    });
    expect((await spaceAt(metadata.db, 'tinycloud:key:z6Mkprepared:a')).rows).toEqual([{ id: 'tinycloud:key:z6Mkprepared:a', created_at: 1 }]);
    expect((await spaceAt(metadata.db, 'tinycloud:key:z6Mkprepared:none')).rows).toEqual([]);
  });

  it('outside a transaction never see the rows of one still open on the same connection, nor its rollback', async () => {
    let inside!: () => void;
    const insideReached = new Promise<void>((resolve) => (inside = resolve));
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const failing = metadata.db.transaction().execute(async (trx) => {
      await insertSpace(trx, 'tinycloud:key:z6Mkprepared:uncommitted', 3);
      inside();
      await finished;
      throw new Error('rolled back');
    });
    await insideReached;
    // Issued while the transaction holds the connection: it waits for it, then sees the rollback.
    const outside = spaceAt(metadata.db, 'tinycloud:key:z6Mkprepared:uncommitted');
    finish();
    await expect(failing).rejects.toThrow('rolled back');
    expect((await outside).rows).toEqual([]);
  });

  it('refuse a builder that does not bind every argument as a value', async () => {
    const broken = prepared((db, id: string, _unused: string) => db.selectFrom('space').select('id').where('id', '=', id));
    await expect(async () => broken(metadata.db, 'x', 'y')).rejects.toThrow(/argument 1 is not a bound value/);
  });
});
