import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blake3 } from '../../src/core/ids/blake3.js';
import type { VersionDescription } from '../../src/core/services/kv/index.js';
import type { TestNode } from '../support/test-node.js';
import { alice, bob, mallory, TestClock } from '../auth-engine/support.js';
import { ADMIN_SECRET, KvClient, admin, startKvNode, startS3Server, streamedBody, type S3TestServer } from './http-support.js';
import type { Driver } from './support.js';

const etagOf = async (bytes: Uint8Array) => `"blake3-${Buffer.from(await blake3(bytes)).toString('hex')}"`;

let s3: S3TestServer;
beforeAll(async () => {
  s3 = await startS3Server('tinycloud-kv-http');
}, 30_000);
afterAll(() => s3?.stop());

describe.each<Driver>(['Local', 'S3'])('KV over HTTP on %s blocks', (driver) => {
  const clock = new TestClock();
  let node: TestNode;
  let a: KvClient;
  beforeAll(async () => {
    node = await startKvNode(driver, clock, s3, { TINYCLOUD_STORAGE_LIMIT: '10 MiB' });
    a = await KvClient.signIn(node, alice, clock);
  });
  afterAll(() => node?.destroy());

  const blockCount = async (space: string) => {
    let n = 0;
    for await (const _ of node.node.blocks.list(space)) n++;
    return n;
  };

  it('advertises kv in /info', async () => {
    const info = (await (await fetch(`${node.url}/info`)).json()) as { features: string[] };
    expect(info.features).toContain('kv');
  });

  it('put → get → metadata → list → del with every header and status of WIRE §4', async () => {
    const value = randomBytes(600 * 1024);
    const etag = await etagOf(value);
    const put = await a.put('photos/cat.jpg', value, { 'content-type': 'image/jpeg', 'x-tinycloud-meta-album': 'cats' });
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).toBe(etag);
    expect(await put.text()).toBe('');

    const got = await a.get('photos/cat.jpg');
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/jpeg');
    expect(got.headers.get('x-tinycloud-meta-album')).toBe('cats');
    expect(got.headers.get('etag')).toBe(etag);
    expect(got.headers.get('cache-control')).toBe('private, no-cache');
    expect(got.headers.get('content-length')).toBe(String(value.length));
    expect(Buffer.from(await got.arrayBuffer()).equals(value)).toBe(true);

    expect((await a.get('photos/cat.jpg', { 'if-none-match': etag })).status).toBe(304);
    const tooBig = await a.get('photos/cat.jpg', { 'x-tinycloud-max-response-bytes': '1000' });
    expect(tooBig.status).toBe(413);

    const meta = await a.kv('tinycloud.kv/metadata', 'photos/cat.jpg');
    expect(meta.status).toBe(200);
    expect(meta.headers.get('etag')).toBe(etag);
    expect(await meta.text()).toBe('');

    await a.put('photos/dog.jpg', 'woof');
    const listed = await a.kv('tinycloud.kv/list', 'photos/');
    expect(listed.status).toBe(200);
    expect(listed.headers.get('content-type')).toMatch(/^application\/json/);
    expect(listed.headers.get('x-tinycloud-truncated')).toBe('false');
    expect(await listed.json()).toEqual(['photos/cat.jpg', 'photos/dog.jpg']);
    const page = await a.kv('tinycloud.kv/list', 'photos/', { headers: { 'x-tinycloud-limit': '1' } });
    expect(page.headers.get('x-tinycloud-truncated')).toBe('true');
    const next = await a.kv('tinycloud.kv/list', 'photos/', { headers: { 'x-tinycloud-limit': '1', 'x-tinycloud-cursor': page.headers.get('x-tinycloud-next-cursor')! } });
    expect(await next.json()).toEqual(['photos/dog.jpg']);

    const missing = await a.get('photos/none');
    expect([missing.status, await missing.text()]).toEqual([404, 'No Such Key: photos/none']);
    const neverDeleted = await a.kv('tinycloud.kv/del', 'photos/none');
    expect([neverDeleted.status, await neverDeleted.text()]).toEqual([404, 'No Such Key: photos/none']);
    const removed = await a.kv('tinycloud.kv/del', 'photos/dog.jpg');
    expect([removed.status, removed.headers.get('etag')]).toEqual([200, await etagOf(Buffer.from('woof'))]);
    const again = await a.kv('tinycloud.kv/delete', 'photos/dog.jpg');
    expect([again.status, again.headers.get('etag')]).toEqual([200, null]);
    expect((await a.get('photos/dog.jpg')).status).toBe(404);
  });

  it('preconditions: 412 on failure, 400 where they are not allowed, 501 for mixed operations', async () => {
    const created = await a.put('pre/doc', 'v1', { 'if-none-match': '*' });
    expect(created.status).toBe(200);
    expect((await a.put('pre/doc', 'v2', { 'if-none-match': '*' })).status).toBe(412);
    expect((await a.put('pre/doc', 'v2', { 'if-match': `"blake3-${'1'.repeat(64)}"` })).status).toBe(412);
    expect((await a.put('pre/doc', 'v2', { 'if-match': created.headers.get('etag')! })).status).toBe(200);
    expect((await a.kv('tinycloud.kv/del', 'pre/doc', { headers: { 'if-match': created.headers.get('etag')! } })).status).toBe(412);
    expect((await a.kv('tinycloud.kv/del', 'pre/doc', { headers: { 'if-none-match': '*' } })).status).toBe(400);
    expect((await a.put('pre/doc', 'v3', { 'if-match': 'nonsense' })).status).toBe(400);
    expect((await a.put('pre/doc', 'v3', { 'x-tinycloud-expected-version': '1' })).status).toBe(400);
    const mixed = await a.invoke({ [a.resource('pre/doc')]: { 'tinycloud.kv/get': [{}], 'tinycloud.kv/del': [{}] } });
    expect(mixed.status).toBe(501);
    expect(await (await a.get('pre/doc')).text()).toBe('v2');
  });

  it('multipart batch put from a real FormData client, then batch get', async () => {
    const keys = ['batch/a.txt', 'batch/b.bin', 'batch/c%20d'];
    const att = Object.fromEntries(keys.map((k) => [a.resource(k), { 'tinycloud.kv/put': [{}] }]));
    const form = new FormData();
    form.append(encodeURIComponent('batch/a.txt'), new Blob(['alpha'], { type: 'text/plain' }));
    form.append(encodeURIComponent('batch/b.bin'), new Blob([randomBytes(300_000)], { type: 'application/octet-stream' }));
    form.append(encodeURIComponent('batch/c%20d'), new Blob(['gamma'], { type: 'text/x-gamma' }));
    const written = await a.invoke(att, { body: form });
    expect(written.status).toBe(200);
    expect(await written.json()).toEqual({ written: keys, count: 3 });

    const unknown = new FormData();
    unknown.append('batch/a.txt', new Blob(['x']));
    unknown.append('batch/zzz', new Blob(['x']));
    const refused = await a.invoke({ [a.resource('batch/a.txt')]: { 'tinycloud.kv/put': [{}] } }, { body: unknown });
    expect(refused.status).toBe(400);
    expect(await (await a.get('batch/a.txt')).text()).toBe('alpha');

    const read = await a.invoke(Object.fromEntries([...keys, 'batch/none'].map((k) => [a.resource(k), { 'tinycloud.kv/get': [{}] }])));
    expect(read.status).toBe(200);
    const { results } = (await read.json()) as { results: { key: string; ok: boolean; dataBase64?: string; headers?: Record<string, string> }[] };
    const gamma = results.find((r) => r.key === 'batch/c%20d')!;
    expect(Buffer.from(gamma.dataBase64!, 'base64').toString()).toBe('gamma');
    expect(gamma.headers!['content-type']).toBe('text/x-gamma');
    expect(results.find((r) => r.key === 'batch/none')).toMatchObject({ ok: false, error: { code: 'KV_NOT_FOUND' } });
  });

  it('version history: list versions and read an earlier one; two concurrent writers resolve by epoch order', async () => {
    const first = await a.put('hist/note', 'first draft');
    await a.put('hist/note', 'second draft');
    const [x, y] = await Promise.all([a.put('hist/note', 'writer X'), a.put('hist/note', 'writer Y')]);
    expect([x.status, y.status]).toEqual([200, 200]);
    const listing = await a.kv('tinycloud.kv/versions', 'hist/note');
    expect(listing.status).toBe(200);
    const versions = (await listing.json()) as VersionDescription[];
    expect(versions).toHaveLength(4);
    expect(versions[0]).toMatchObject({ version: first.headers.get('x-tinycloud-version'), writer: alice.sessionDid, size: 11, deleted: false });
    const winner = versions[3]!;
    const current = await a.get('hist/note');
    expect(current.headers.get('x-tinycloud-version')).toBe(winner.version);
    const loser = versions[2]!;
    const old = await a.get('hist/note', {}, [{ kvVersion: loser.version }]);
    expect(old.status).toBe(200);
    expect([await old.text(), await current.text()].sort()).toEqual(['writer X', 'writer Y']);
    const draft = await a.get('hist/note', {}, [{ kvVersion: versions[0]!.version }]);
    expect(await draft.text()).toBe('first draft');
  });

  it('quota: admin override, 413 when a write would pass the limit (nothing left behind), 402 once full', async () => {
    const q = await KvClient.signIn(node, alice, clock, 'quota');
    expect((await admin(node, 'PUT', `/admin/quota/${encodeURIComponent(q.space)}`, { limit_bytes: 100_000 })).status).toBe(200);
    expect((await q.put('q/one', randomBytes(60_000))).status).toBe(200);
    const before = await (await admin(node, 'GET', `/admin/quota/${encodeURIComponent(q.space)}`)).json();
    expect(before).toMatchObject({ space: q.space, used_bytes: 60_000, limit_bytes: 100_000, override: true });
    const blocksBefore = await blockCount(q.space);

    const declared = await q.put('q/two', randomBytes(60_000));
    expect(declared.status).toBe(413);
    expect(await declared.text()).toMatch(/Used: 60000 bytes, Limit: 100000 bytes/);
    const streamed = await q.put('q/two', streamedBody(200_000));
    expect(streamed.status).toBe(413);
    const batch = new FormData();
    batch.append('q/b1', new Blob([randomBytes(30_000)]));
    batch.append('q/b2', new Blob([randomBytes(30_000)]));
    const batched = await q.invoke({ [q.resource('q/b1')]: { 'tinycloud.kv/put': [{}] }, [q.resource('q/b2')]: { 'tinycloud.kv/put': [{}] } }, { body: batch });
    expect(batched.status).toBe(413);

    expect(await (await admin(node, 'GET', `/admin/quota/${encodeURIComponent(q.space)}`)).json()).toEqual(before);
    expect(await blockCount(q.space)).toBe(blocksBefore);
    for (const key of ['q/two', 'q/b1', 'q/b2']) expect((await q.get(key)).status).toBe(404);
    expect((await q.kv('tinycloud.kv/versions', 'q/two')).status).toBe(404);

    expect((await q.put('q/fill', randomBytes(40_000))).status).toBe(200);
    const full = await q.put('q/more', 'x');
    expect(full.status).toBe(402);
    expect(await full.text()).toBe('Storage quota exceeded. Used: 100000 bytes, Limit: 100000 bytes');
    // Deletes are logical: they do not give quota back.
    expect((await q.kv('tinycloud.kv/del', 'q/one')).status).toBe(200);
    expect((await q.put('q/more', 'x')).status).toBe(402);

    expect((await admin(node, 'DELETE', `/admin/quota/${encodeURIComponent(q.space)}`)).status).toBe(200);
    const usage = (await (await admin(node, 'GET', '/admin/usage')).json()) as { spaces: { space: string; used_bytes: number; limit_bytes: number }[] };
    expect(usage.spaces.find((s) => s.space === q.space)).toMatchObject({ used_bytes: 100_000, limit_bytes: 10 * 1024 * 1024 });
    expect((await q.put('q/more', 'x')).status).toBe(200);
  });

  it('admin routes need the bearer secret', async () => {
    expect((await admin(node, 'GET', '/admin/usage', undefined, 'wrong')).status).toBe(401);
    expect((await fetch(`${node.url}/admin/usage`)).status).toBe(401);
    expect((await admin(node, 'PUT', `/admin/quota/${encodeURIComponent(a.space)}`, { limit_bytes: -1 })).status).toBe(400);
    expect((await admin(node, 'GET', '/admin/quota/not-a-space')).status).toBe(400);
    const quotas = (await (await admin(node, 'GET', '/admin/quota')).json()) as { default_limit_bytes: number };
    expect(quotas.default_limit_bytes).toBe(10 * 1024 * 1024);
  });

  it('signed URLs: mint from a kv/get invocation, then full, ranged (206/416) and If-Range reads', async () => {
    const value = Buffer.from('0123456789abcdefghij');
    await a.put('share/file.txt', value, { 'content-type': 'text/plain' });
    const mint = (body: unknown, att = { [a.resource('share/')]: { 'tinycloud.kv/get': [{}] } }, type = 'application/json') =>
      fetch(`${node.url}/signed/kv`, { method: 'POST', headers: { authorization: a.token(att), 'content-type': type }, body: JSON.stringify(body) });
    expect((await mint({ space: a.space, path: 'share/file.txt' }, undefined, 'text/plain')).status).toBe(404);
    expect((await mint({ space: a.space, path: 'share/file.txt', maxUses: 1 })).status).toBe(400);
    expect((await mint({ space: a.space, path: 'other/file.txt' })).status).toBe(403);
    expect((await mint({ space: a.space, path: 'share/none' })).status).toBe(404);
    expect((await mint({ space: a.space, path: 'share/file.txt', etag: `"blake3-${'0'.repeat(64)}"` })).status).toBe(412);
    const minted = await mint({ space: a.space, path: 'share/file.txt', ttlSeconds: 60, etag: await etagOf(value) });
    expect(minted.status).toBe(200);
    const ticket = (await minted.json()) as { url: string; ticketId: string; expiresAt: string };
    expect(ticket.url).toBe(`/signed/kv/${ticket.ticketId}`);
    expect(Date.parse(ticket.expiresAt) / 1000).toBe(Math.floor(clock.now + 60));

    const full = await fetch(`${node.url}${ticket.url}`);
    expect([full.status, await full.text(), full.headers.get('accept-ranges'), full.headers.get('content-type')]).toEqual([200, value.toString(), 'bytes', 'text/plain']);
    const ranged = await fetch(`${node.url}${ticket.url}`, { headers: { range: 'bytes=2-5' } });
    expect([ranged.status, await ranged.text(), ranged.headers.get('content-range')]).toEqual([206, '2345', 'bytes 2-5/20']);
    const suffix = await fetch(`${node.url}${ticket.url}`, { headers: { range: 'bytes=-3' } });
    expect([suffix.status, await suffix.text()]).toEqual([206, 'hij']);
    const open = await fetch(`${node.url}${ticket.url}`, { headers: { range: 'bytes=18-' } });
    expect([open.status, await open.text()]).toEqual([206, 'ij']);
    const beyond = await fetch(`${node.url}${ticket.url}`, { headers: { range: 'bytes=20-30' } });
    expect([beyond.status, beyond.headers.get('content-range')]).toEqual([416, 'bytes */20']);
    const etag = full.headers.get('etag')!;
    const ifRangeOk = await fetch(`${node.url}${ticket.url}`, { headers: { range: 'bytes=0-0', 'if-range': etag } });
    expect([ifRangeOk.status, await ifRangeOk.text()]).toEqual([206, '0']);
    const ifRangeStale = await fetch(`${node.url}${ticket.url}`, { headers: { range: 'bytes=0-0', 'if-range': '"blake3-stale"' } });
    expect([ifRangeStale.status, await ifRangeStale.text()]).toEqual([200, value.toString()]);

    expect((await fetch(`${node.url}/signed/kv/${'A'.repeat(43)}`)).status).toBe(401);
    await a.put('share/file.txt', 'changed');
    expect((await fetch(`${node.url}${ticket.url}`)).status).toBe(412);
    clock.advance(61);
    expect((await fetch(`${node.url}${ticket.url}`)).status).toBe(401);
  });

  it('hostile keys stay opaque names inside the space; unparseable or oversize keys are refused with clear messages', async () => {
    const names = ['/abs/path', '..%2F..%2Fescape', '%00nul', 'a/%2E%2E%2Fb', '...'];
    for (const key of names) {
      expect((await a.put(key, `v:${key}`)).status).toBe(200);
      expect(await (await a.get(key)).text()).toBe(`v:${key}`);
    }
    const long = await a.get('k'.repeat(4096));
    expect([long.status, await long.text()]).toEqual([400, 'Invalid key: longer than 512 characters']);
    for (const key of ['../x', '%2e%2e/x', 'a/../../b']) {
      const refused = await a.get(key);
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.status).toBeLessThan(500);
      expect(await refused.text()).toMatch(/dot segments are not allowed/);
    }
    const nul = await fetch(`${node.url}/invoke`, { method: 'POST', headers: { authorization: a.token({ [`${a.space}/kv/x\u0000y`]: { 'tinycloud.kv/get': [{}] } }) } });
    expect(nul.status).toBeLessThan(500);
    expect(nul.status).toBeGreaterThanOrEqual(400);
  });

  it('mallory cannot read or write alice\'s keys', async () => {
    const m = await KvClient.signIn(node, mallory, clock);
    const read = await m.invoke({ [a.resource('photos/cat.jpg')]: { 'tinycloud.kv/get': [{}] } });
    expect(read.status).toBe(401);
    const write = await m.invoke({ [a.resource('photos/cat.jpg')]: { 'tinycloud.kv/put': [{}] } }, { body: 'pwned' });
    expect(write.status).toBe(401);
    expect((await (await a.get('photos/cat.jpg')).arrayBuffer()).byteLength).toBe(600 * 1024);
    void bob;
    void ADMIN_SECRET;
  });
});
