import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { didKeyFromEd25519, generateEd25519Key } from '../../src/core/auth/index.js';
import { chunks, failure, invocation, openCoreKv, type CoreKv } from './support.js';

const alice = generateEd25519Key();
const space = `tinycloud:${didKeyFromEd25519(alice.publicKey).slice('did:'.length)}:default`;
const put = async (core: CoreKv, key: string, value: Buffer) =>
  core.kv.invoke(await invocation(alice, { [`${space}/kv/${key}`]: 'tinycloud.kv/put' }), { headers: {}, body: chunks(value) });

describe('quota (storage.limit, no override)', () => {
  let core: CoreKv;
  beforeAll(async () => {
    core = await openCoreKv('Local', { limit: 10_000 });
  });
  afterAll(() => core?.close());

  it('counts each distinct block once, refuses with 413 then 402, and keeps nothing of a refused write', async () => {
    const value = randomBytes(4000);
    expect((await put(core, 'a', value)).status).toBe(200);
    // The same content under another key costs nothing more.
    expect((await put(core, 'b', value)).status).toBe(200);
    expect(await core.kv.quotas.usage(space)).toMatchObject({ usedBytes: 4000, limitBytes: 10_000, override: false });
    const refused = await failure(put(core, 'c', randomBytes(7000)));
    expect([refused.status, refused.message]).toEqual([413, 'Write exceeds remaining storage. Used: 4000 bytes, Limit: 10000 bytes']);
    expect(await core.metadata.db.selectFrom('kv_write').select('key').where('key', '=', 'c').execute()).toEqual([]);
    expect((await core.metadata.db.selectFrom('block').selectAll().execute()).length).toBe(1);
    expect((await put(core, 'c', randomBytes(6000))).status).toBe(200);
    const full = await failure(put(core, 'd', Buffer.from('x')));
    expect([full.status, full.message]).toEqual([402, 'Storage quota exceeded. Used: 10000 bytes, Limit: 10000 bytes']);
  });

  it('never lets concurrent writers pass the limit together', async () => {
    const other = `${space.slice(0, -'default'.length)}race`;
    await core.kv.quotas.setOverride(other, 50_000);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, async (_, i) =>
        core.kv.invoke(await invocation(alice, { [`${other}/kv/k${i}`]: 'tinycloud.kv/put' }), { headers: {}, body: chunks(randomBytes(9_000)) }),
      ),
    );
    const written = results.filter((r) => r.status === 'fulfilled').length;
    expect(written).toBe(5);
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.status);
    expect(new Set(refused)).toEqual(new Set(refused.filter((s) => s === 413 || s === 402)));
    expect((await core.kv.quotas.usage(other)).usedBytes).toBe(45_000);
    expect((await core.metadata.db.selectFrom('kv_write').select('key').where('space', '=', other).execute()).length).toBe(5);
    expect(await core.kv.quotas.clearOverride(other)).toBe(true);
    expect((await core.kv.quotas.usage(other)).limitBytes).toBe(10_000);
  });
});
