import { rmSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openMetadataDb, type MetadataDb } from '../../src/core/db/database.js';
import { tempDir } from '../support/test-node.js';
import { metadataEngines } from '../support/server-databases.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const engines = metadataEngines(`sqlite:${path.join(dir, 'caps.db')}`);

async function roundTripDelegationRow(metadata: MetadataDb): Promise<void> {
  const id = new Uint8Array(34).fill(7);
  await metadata.db
    .insertInto('delegation')
    .values({ id, delegator: 'did:pkh:eip155:1:0xAb', delegatee: 'did:key:z6Mk', expiry: 1795211352.147, not_before: null, issued_at: null, facts: null, terminal: 0, serialization: new Uint8Array([1, 2, 3]), received_at: 1 })
    .execute();
  const row = await metadata.db.selectFrom('delegation').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  expect(new Uint8Array(row.id)).toEqual(id);
  expect(row.expiry).toBeCloseTo(1795211352.147, 3);
  expect(new Uint8Array(row.serialization)).toEqual(new Uint8Array([1, 2, 3]));
  // Identifiers are case-sensitive on every engine (MySQL's default collation is not).
  const wrongCase = await metadata.db.selectFrom('delegation').select('id').where('delegator', '=', 'did:pkh:eip155:1:0xAB').execute();
  expect(wrongCase).toHaveLength(0);
}

describe.each(engines)('metadata DB migrations on %s', (name, url) => {
  it.runIf(url !== undefined)('creates every table and stores rows faithfully', async () => {
    const metadata = await openMetadataDb(url!);
    try {
      for (const table of ['space', 'actor', 'delegation', 'invocation', 'revocation', 'ability', 'parent_delegation', 'epoch', 'epoch_order', 'event_order', 'kv_write', 'kv_delete', 'current_kv', 'invocation_replay', 'block']) {
        await sql`select count(*) as n from ${sql.table(table)}`.execute(metadata.db);
      }
      await roundTripDelegationRow(metadata);
    } finally {
      await metadata.close();
    }
  });

  it.runIf(url !== undefined)('applies migrations once: reopening an existing database changes nothing', async () => {
    const first = await openMetadataDb(url!);
    await first.close();
    const second = await openMetadataDb(url!);
    const count = await second.db.selectFrom('delegation').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
    await second.close();
  });

  it.runIf(url === undefined && !process.env.CI)(`is not run: ${name} is not installed here (apt-get install it, or run .ci/run)`, () => {
    expect(url).toBeUndefined();
  });
});

describe('metadata DB failures', () => {
  it('names the unreachable database without leaking its password', async () => {
    await expect(openMetadataDb('postgres://alice:hunter2@127.0.0.1:1/nope')).rejects.toThrow(/storage\.database: cannot use postgres:\/\/alice:\*\*\*@127\.0\.0\.1:1\/nope/);
    await expect(openMetadataDb('postgres://alice:hunter2@127.0.0.1:1/nope')).rejects.not.toThrow(/hunter2/);
  });
});
