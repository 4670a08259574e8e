import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initDataDir } from '../../src/core/datadir.js';
import { blake3 } from '../../src/core/ids/blake3.js';
import { INLINE_VALUE_BYTES, SIZE_HEADER, type VersionDescription } from '../../src/core/services/kv/index.js';
import { alice, mallory, TestClock } from '../auth-engine/support.js';
import { exportToFile, importFile } from '../car/support.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { KvClient, startKvNode, startS3Server, type S3TestServer } from './http-support.js';
import { filesUnder, type Driver } from './support.js';

const etagOf = async (bytes: Uint8Array) => `"blake3-${Buffer.from(await blake3(bytes)).toString('hex')}"`;

let s3: S3TestServer;
beforeAll(async () => {
  s3 = await startS3Server('tinycloud-kv-inline');
}, 30_000);
afterAll(() => s3?.stop());

/** The digests the node's block store holds for a space (files under Local, objects in the S3 bucket). */
async function storedBlocks(node: TestNode, space: string): Promise<string[]> {
  const names: string[] = [];
  for await (const digest of node.node.blocks.list(space)) names.push(Buffer.from(digest).toString('hex'));
  return names.sort();
}

/** The `block` row of some content: its size, and whether its bytes are in the row. */
async function blockRow(node: TestNode, space: string, bytes: Uint8Array): Promise<{ size: number; inline: boolean } | undefined> {
  const row = await node.node.metadata.db
    .selectFrom('block')
    .select(['size', 'inline'])
    .where('space', '=', space)
    .where('digest', '=', await blake3(bytes))
    .executeTakeFirst();
  return row && { size: Number(row.size), inline: row.inline !== null };
}

/** Files of the Local block store outside its temp dir (none for a node whose values are all inline). */
async function blockFiles(node: TestNode): Promise<string[]> {
  const blocks = node.config.storage.blocks;
  return blocks.type === 'Local' ? (await filesUnder(blocks.path)).filter((f) => !f.startsWith('.tmp/')) : [];
}

describe.each<Driver>(['Local', 'S3'])('small KV values stored in the metadata DB (%s blocks)', (driver) => {
  const clock = new TestClock();
  let node: TestNode;
  let a: KvClient;
  beforeAll(async () => {
    node = await startKvNode(driver, clock, s3);
    a = await KvClient.signIn(node, alice, clock, `inline-${driver.toLowerCase()}`);
  });
  afterAll(() => node?.destroy());

  it('a 1 KiB put writes nothing to the block store, and get, metadata, versions and an old version return its bytes', async () => {
    const first = randomBytes(1024);
    const second = randomBytes(1024);
    const put = await a.put('small/doc', first, { 'content-type': 'text/x-small', 'x-tinycloud-meta-owner': 'alice' });
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).toBe(await etagOf(first));
    expect(await blockRow(node, a.space, first)).toEqual({ size: 1024, inline: true });
    expect(await storedBlocks(node, a.space)).toEqual([]);
    expect(await blockFiles(node)).toEqual([]);

    const got = await a.get('small/doc');
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe(await etagOf(first));
    expect(got.headers.get('content-type')).toBe('text/x-small');
    expect(got.headers.get('x-tinycloud-meta-owner')).toBe('alice');
    expect(got.headers.get('content-length')).toBe('1024');
    expect(got.headers.get('x-tinycloud-version')).toBe(put.headers.get('x-tinycloud-version'));
    expect(Buffer.from(await got.arrayBuffer()).equals(first)).toBe(true);
    expect((await a.get('small/doc', { 'if-none-match': await etagOf(first) })).status).toBe(304);
    expect((await a.get('small/doc', { 'x-tinycloud-max-response-bytes': '1023' })).status).toBe(413);

    const meta = await a.kv('tinycloud.kv/metadata', 'small/doc');
    expect([meta.status, meta.headers.get(SIZE_HEADER), meta.headers.get('etag'), await meta.text()]).toEqual([200, '1024', await etagOf(first), '']);

    expect((await a.put('small/doc', second)).status).toBe(200);
    const versions = (await (await a.kv('tinycloud.kv/versions', 'small/doc')).json()) as VersionDescription[];
    expect(versions.map((v) => [v.size, v.etag])).toEqual([
      [1024, await etagOf(first)],
      [1024, await etagOf(second)],
    ]);
    const old = await a.get('small/doc', {}, [{ kvVersion: versions[0]!.version }]);
    expect([old.status, old.headers.get('content-type')]).toEqual([200, 'text/x-small']);
    expect(Buffer.from(await old.arrayBuffer()).equals(first)).toBe(true);
    expect(Buffer.from(await (await a.get('small/doc')).arrayBuffer()).equals(second)).toBe(true);
    expect(await storedBlocks(node, a.space)).toEqual([]);
  });

  it('a multipart batch put of small values writes nothing to the block store, and batch get returns their bytes', async () => {
    const x = randomBytes(3000);
    const form = new FormData();
    form.append('batch/x', new Blob([x], { type: 'application/x-x' }));
    form.append('batch/y', new Blob(['why'], { type: 'text/plain' }));
    form.append('batch/same', new Blob([x]));
    const att = Object.fromEntries(['batch/x', 'batch/y', 'batch/same'].map((k) => [a.resource(k), { 'tinycloud.kv/put': [{}] }]));
    expect((await a.invoke(att, { body: form })).status).toBe(200);
    expect(await storedBlocks(node, a.space)).toEqual([]);

    const read = await a.invoke(Object.fromEntries(['batch/x', 'batch/y', 'batch/same'].map((k) => [a.resource(k), { 'tinycloud.kv/get': [{}] }])));
    const { results } = (await read.json()) as { results: { key: string; dataBase64: string; headers: Record<string, string> }[] };
    const byKey = Object.fromEntries(results.map((r) => [r.key, r]));
    expect(Buffer.from(byKey['batch/x']!.dataBase64, 'base64').equals(x)).toBe(true);
    expect(byKey['batch/x']!.headers).toMatchObject({ 'content-type': 'application/x-x', 'content-length': '3000' });
    expect(Buffer.from(byKey['batch/y']!.dataBase64, 'base64').toString()).toBe('why');
    expect(Buffer.from(byKey['batch/same']!.dataBase64, 'base64').equals(x)).toBe(true);
  });

  it('a signed URL serves an inline value whole, by range (206), refuses a range past its end (416) and honours If-Range', async () => {
    const value = Buffer.from('0123456789'.repeat(100));
    await a.put('share/small', value, { 'content-type': 'text/plain' });
    const minted = await fetch(`${node.url}/signed/kv`, {
      method: 'POST',
      headers: { authorization: a.token({ [a.resource('share/')]: { 'tinycloud.kv/get': [{}] } }), 'content-type': 'application/json' },
      body: JSON.stringify({ space: a.space, path: 'share/small' }),
    });
    const { url } = (await minted.json()) as { url: string };
    const open = (headers: Record<string, string> = {}) => fetch(`${node.url}${url}`, { headers });

    const full = await open();
    expect([full.status, full.headers.get('content-length'), await full.text()]).toEqual([200, '1000', value.toString()]);
    const ranged = await open({ range: 'bytes=995-1200' });
    expect([ranged.status, ranged.headers.get('content-range'), await ranged.text()]).toEqual([206, 'bytes 995-999/1000', '56789']);
    const suffix = await open({ range: 'bytes=-4' });
    expect([suffix.status, await suffix.text()]).toEqual([206, '6789']);
    const beyond = await open({ range: 'bytes=1000-' });
    expect([beyond.status, beyond.headers.get('content-range')]).toEqual([416, 'bytes */1000']);
    const etag = await etagOf(value);
    expect(await (await open({ range: 'bytes=10-12', 'if-range': etag })).text()).toBe('012');
    const stale = await open({ range: 'bytes=10-12', 'if-range': '"blake3-stale"' });
    expect([stale.status, (await stale.text()).length]).toEqual([200, 1000]);
  });

  it(`stores a value of INLINE_VALUE_BYTES (${INLINE_VALUE_BYTES}) inline and one a byte larger in the block store`, async () => {
    const fits = randomBytes(INLINE_VALUE_BYTES);
    const over = randomBytes(INLINE_VALUE_BYTES + 1);
    expect((await a.put('edge/fits', fits)).status).toBe(200);
    expect((await a.put('edge/over', over)).status).toBe(200);
    expect(await blockRow(node, a.space, fits)).toEqual({ size: INLINE_VALUE_BYTES, inline: true });
    expect(await blockRow(node, a.space, over)).toEqual({ size: INLINE_VALUE_BYTES + 1, inline: false });
    expect(await storedBlocks(node, a.space)).toEqual([Buffer.from(await blake3(over)).toString('hex')]);
    expect(Buffer.from(await (await a.get('edge/fits')).arrayBuffer()).equals(fits)).toBe(true);
    expect(Buffer.from(await (await a.get('edge/over')).arrayBuffer()).equals(over)).toBe(true);
  });

  it('stores an empty value inline and serves it with Content-Length 0', async () => {
    expect((await a.put('edge/empty', '')).status).toBe(200);
    expect(await blockRow(node, a.space, new Uint8Array(0))).toEqual({ size: 0, inline: true });
    const got = await a.get('edge/empty');
    expect([got.status, got.headers.get('content-length'), await got.text()]).toEqual([200, '0', '']);
    expect((await a.kv('tinycloud.kv/metadata', 'edge/empty')).headers.get(SIZE_HEADER)).toBe('0');
  });

  it('counts inline values against the quota once per distinct content, like blocks', async () => {
    const q = await KvClient.signIn(node, alice, clock, `inline-quota-${driver.toLowerCase()}`);
    const value = randomBytes(2048);
    await q.put('q/a', value);
    await q.put('q/b', value);
    await q.put('q/c', 'abc');
    const usage = await node.node.kv.quotas.usage(q.space);
    expect(usage.usedBytes).toBe(2048 + 3);
  });

  it('a CAR export carries inline values, and importing it into another node leaves every version readable', async () => {
    const c = await KvClient.signIn(node, alice, clock, `inline-car-${driver.toLowerCase()}`);
    const small = randomBytes(1024);
    const large = randomBytes(INLINE_VALUE_BYTES + 1);
    await c.put('car/small', 'first');
    await c.put('car/small', small);
    await c.put('car/large', large);
    await c.put('car/empty', '');
    const dir = tempDir('tinycloud-inline-car-');
    const target = await startKvNode('Local', clock);
    try {
      const file = path.join(dir, 'space.car');
      const summary = await exportToFile(node.node, c.space, file);
      expect(summary.counts.blobs).toBe(4);
      expect(summary.counts.blobBytes).toBe(5 + 1024 + INLINE_VALUE_BYTES + 1);
      const report = await importFile(target.node, file);
      expect(report.added).toMatchObject({ blobs: 4, blobBytes: 5 + 1024 + INLINE_VALUE_BYTES + 1 });

      // Imported content lives where a put would have put it.
      expect(await storedBlocks(target, c.space)).toEqual([Buffer.from(await blake3(large)).toString('hex')]);
      expect(await blockRow(target, c.space, small)).toEqual({ size: 1024, inline: true });
      const t = new KvClient(target, alice, c.space, c.sessionCid, clock);
      expect(Buffer.from(await (await t.get('car/small')).arrayBuffer()).equals(small)).toBe(true);
      expect(Buffer.from(await (await t.get('car/large')).arrayBuffer()).equals(large)).toBe(true);
      expect(await (await t.get('car/empty')).text()).toBe('');
      const versions = (await (await t.kv('tinycloud.kv/versions', 'car/small')).json()) as VersionDescription[];
      expect(await (await t.get('car/small', {}, [{ kvVersion: versions[0]!.version }])).text()).toBe('first');

      // Importing again finds everything present and adds nothing.
      expect((await importFile(target.node, file)).added).toMatchObject({ blobs: 0, ops: 0 });
    } finally {
      await target.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("mallory cannot read alice's inline values", async () => {
    const m = await KvClient.signIn(node, mallory, clock);
    expect((await m.invoke({ [a.resource('small/doc')]: { 'tinycloud.kv/get': [{}] } })).status).toBe(401);
  });
});

describe.each<Driver>(['Local', 'S3'])('small values stored as blocks before inline storage (%s blocks)', (driver) => {
  const clock = new TestClock();
  const dataDir = tempDir('tinycloud-inline-before-');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('are still served after a restart, through every read path, and writing the same bytes again leaves them where they are', async () => {
    await initDataDir(dataDir);
    const value = randomBytes(1024);
    // FileSystem staging never inlines: a small value goes to the block store, as every value did before.
    const before = await startKvNode(driver, clock, s3, { TINYCLOUD_STORAGE_STAGING: 'FileSystem' }, dataDir);
    const a = await KvClient.signIn(before, alice, clock, `before-${driver.toLowerCase()}`);
    try {
      expect((await a.put('old/doc', value, { 'content-type': 'text/x-old' })).status).toBe(200);
      expect(await blockRow(before, a.space, value)).toEqual({ size: 1024, inline: false });
      expect(await storedBlocks(before, a.space)).toHaveLength(1);
    } finally {
      await before.destroy();
    }

    const node = await startKvNode(driver, clock, s3, {}, dataDir);
    try {
      const b = new KvClient(node, alice, a.space, a.sessionCid, clock);
      const got = await b.get('old/doc');
      expect([got.status, got.headers.get('content-type')]).toEqual([200, 'text/x-old']);
      expect(Buffer.from(await got.arrayBuffer()).equals(value)).toBe(true);
      expect((await b.kv('tinycloud.kv/metadata', 'old/doc')).headers.get(SIZE_HEADER)).toBe('1024');

      const batch = await b.invoke({ [b.resource('old/doc')]: { 'tinycloud.kv/get': [{}] }, [b.resource('old/none')]: { 'tinycloud.kv/get': [{}] } });
      const { results } = (await batch.json()) as { results: { key: string; dataBase64?: string }[] };
      expect(Buffer.from(results.find((r) => r.key === 'old/doc')!.dataBase64!, 'base64').equals(value)).toBe(true);

      const minted = await fetch(`${node.url}/signed/kv`, {
        method: 'POST',
        headers: { authorization: b.token({ [b.resource('old/doc')]: { 'tinycloud.kv/get': [{}] } }), 'content-type': 'application/json' },
        body: JSON.stringify({ space: b.space, path: 'old/doc' }),
      });
      const { url } = (await minted.json()) as { url: string };
      const ranged = await fetch(`${node.url}${url}`, { headers: { range: 'bytes=0-9' } });
      expect([ranged.status, Buffer.from(await ranged.arrayBuffer()).equals(value.subarray(0, 10))]).toEqual([206, true]);

      expect((await b.put('old/copy', value)).status).toBe(200);
      expect(await blockRow(node, b.space, value)).toEqual({ size: 1024, inline: false });
      expect(Buffer.from(await (await b.get('old/copy')).arrayBuffer()).equals(value)).toBe(true);
      expect((await node.node.kv.quotas.usage(b.space)).usedBytes).toBe(1024);

      const file = path.join(dataDir, 'old.car');
      await exportToFile(node.node, b.space, file);
      const target = await startKvNode('Local', clock);
      try {
        await importFile(target.node, file);
        const t = new KvClient(target, alice, b.space, b.sessionCid, clock);
        expect(Buffer.from(await (await t.get('old/doc')).arrayBuffer()).equals(value)).toBe(true);
      } finally {
        await target.destroy();
      }
    } finally {
      await node.destroy();
    }
  });
});
