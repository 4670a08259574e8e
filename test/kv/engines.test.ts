import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { didKeyFromEd25519, generateEd25519Key } from '../../src/core/auth/index.js';
import { blake3 } from '../../src/core/ids/blake3.js';
import { INLINE_VALUE_BYTES, VERSION_HEADER, etagOf, type VersionDescription } from '../../src/core/services/kv/index.js';
import { freshDatabase, serverEngines } from '../support/server-databases.js';
import { bodyOf, chunks, failure, invocation, jsonOf, multipartBody, openCoreKv, type CoreKv } from './support.js';

const alice = generateEd25519Key();
const space = `tinycloud:${didKeyFromEd25519(alice.publicKey).slice('did:'.length)}:default`;
const kvRes = (key: string) => `${space}/kv/${key}`;

// The request path runs its queries compiled once (src/core/db/prepared.ts); each engine must take them as built.
describe.each(serverEngines)('KV service on %s', (_name, kind, serverUrl) => {
  let core: CoreKv;
  beforeAll(async () => {
    if (serverUrl) core = await openCoreKv('Local', { database: await freshDatabase(kind, serverUrl, 'tc_kv_'), limit: 1_000_000 });
  }, 60_000);
  afterAll(() => core?.close());

  const put = async (key: string, value: Buffer | string) =>
    core.kv.invoke(await invocation(alice, { [kvRes(key)]: 'tinycloud.kv/put' }), { headers: { 'x-tinycloud-meta-n': key }, body: chunks(Buffer.from(value)) });
  const get = async (key: string) => core.kv.invoke(await invocation(alice, { [kvRes(key)]: 'tinycloud.kv/get' }), { headers: {} });

  it.runIf(serverUrl !== undefined)('puts, overwrites, dedups, reads, deletes, lists versions and counts quota', async () => {
    const first = randomBytes(1000);
    const second = randomBytes(2000);
    expect((await put('a', first)).headers.etag).toBe(etagOf(await blake3(first)));
    expect((await put('a', second)).status).toBe(200);
    expect((await put('b', second)).status).toBe(200);
    const read = await get('a');
    expect(read.headers).toMatchObject({ etag: etagOf(await blake3(second)), 'x-tinycloud-meta-n': 'a', 'content-length': '2000' });
    expect((await bodyOf(read)).equals(second)).toBe(true);
    expect((await core.kv.quotas.usage(space)).usedBytes).toBe(3000);

    const { body, contentType } = multipartBody([
      ['c', 'three'],
      ['d', 'four'],
    ]);
    const batch = await core.kv.invoke(await invocation(alice, { [kvRes('c')]: 'tinycloud.kv/put', [kvRes('d')]: 'tinycloud.kv/put' }), {
      headers: { 'content-type': contentType },
      body: chunks(body),
    });
    expect(await jsonOf(batch)).toEqual({ written: ['c', 'd'], count: 2 });

    expect((await core.kv.invoke(await invocation(alice, { [kvRes('a')]: 'tinycloud.kv/del' }), { headers: {} })).status).toBe(200);
    expect((await failure(get('a'))).status).toBe(404);
    const versions = await jsonOf<VersionDescription[]>(await core.kv.invoke(await invocation(alice, { [kvRes('a')]: 'tinycloud.kv/versions' }), { headers: {} }));
    expect(versions.map((v) => [v.size, v.deleted])).toEqual([
      [1000, false],
      [2000, false],
      [0, true],
    ]);

    await core.kv.quotas.setOverride(space, 3010);
    expect((await failure(put('big', randomBytes(100)))).status).toBe(413);
    expect((await core.kv.quotas.usage(space)).limitBytes).toBe(3010);
  });

  describe('with bodies staged in memory', () => {
    let inline: CoreKv;
    beforeAll(async () => {
      if (serverUrl) inline = await openCoreKv('Local', { database: await freshDatabase(kind, serverUrl, 'tc_kv_inline_'), staging: 'Memory' });
    }, 60_000);
    afterAll(() => inline?.close());

    it.runIf(serverUrl !== undefined)('stores small values (empty included) in their block rows and reads them back by every look-up', async () => {
      const invoke = async (key: string, ability: string, body?: Buffer, facts?: Record<string, unknown>[]) =>
        inline.kv.invoke(await invocation(alice, { [kvRes(key)]: ability }, facts), { headers: {}, ...(body && { body: chunks(body) }) });
      const small = randomBytes(1000);
      const large = randomBytes(INLINE_VALUE_BYTES + 1);
      const first = await invoke('s', 'tinycloud.kv/put', Buffer.from('first'));
      await invoke('s', 'tinycloud.kv/put', small);
      await invoke('e', 'tinycloud.kv/put', Buffer.alloc(0));
      await invoke('l', 'tinycloud.kv/put', large);

      const rows = await inline.metadata.db.selectFrom('block').select(['size', 'inline']).where('space', '=', space).orderBy('size').execute();
      expect(rows.map((r) => [Number(r.size), r.inline === null ? null : Buffer.from(r.inline).length])).toEqual([
        [0, 0],
        [5, 5],
        [1000, 1000],
        [INLINE_VALUE_BYTES + 1, null],
      ]);
      const stored: Uint8Array[] = [];
      for await (const digest of inline.blocks.list(space)) stored.push(digest);
      expect(stored).toHaveLength(1);

      expect((await bodyOf(await invoke('s', 'tinycloud.kv/get'))).equals(small)).toBe(true);
      expect((await bodyOf(await invoke('e', 'tinycloud.kv/get'))).length).toBe(0);
      expect((await bodyOf(await invoke('l', 'tinycloud.kv/get'))).equals(large)).toBe(true);
      const old = await invoke('s', 'tinycloud.kv/get', undefined, [{ kvVersion: first.headers[VERSION_HEADER] }]);
      expect((await bodyOf(old)).toString()).toBe('first');
      const batch = await jsonOf<{ results: { key: string; dataBase64: string }[] }>(
        await inline.kv.invoke(await invocation(alice, { [kvRes('s')]: 'tinycloud.kv/get', [kvRes('e')]: 'tinycloud.kv/get' }), { headers: {} }),
      );
      expect(batch.results.map((r) => [r.key, Buffer.from(r.dataBase64, 'base64').length])).toEqual([
        ['e', 0],
        ['s', 1000],
      ]);
      expect((await inline.kv.quotas.usage(space)).usedBytes).toBe(5 + 1000 + INLINE_VALUE_BYTES + 1);
    });
  });
});
