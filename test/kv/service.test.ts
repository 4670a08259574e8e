import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { didKeyFromEd25519, generateEd25519Key } from '../../src/core/auth/index.js';
import { blake3 } from '../../src/core/ids/blake3.js';
import { SIZE_HEADER, VERSION_HEADER, etagOf, type VersionDescription } from '../../src/core/services/kv/index.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { bodyOf, chunks, failure, invocation, jsonOf, multipartBody, openCoreKv, type CoreKv, type Driver } from './support.js';

const alice = generateEd25519Key();
const bob = generateEd25519Key();
const aliceDid = didKeyFromEd25519(alice.publicKey);
const space = `tinycloud:${aliceDid.slice('did:'.length)}:default`;
const kvRes = (key: string) => `${space}/kv/${key}`;

let s3: S3TestServer;
beforeAll(async () => {
  s3 = await startS3Server('tinycloud-kv-core');
}, 30_000);
afterAll(() => s3?.stop());

describe.each<Driver>(['Local', 'S3'])('KV service on %s blocks', (driver) => {
  let core: CoreKv;
  beforeAll(async () => {
    core = await openCoreKv(driver, { s3 });
  });
  afterAll(() => core?.close());

  const put = async (key: string, value: string | Buffer, headers: Record<string, string> = {}) =>
    core.kv.invoke(await invocation(alice, { [kvRes(key)]: 'tinycloud.kv/put' }), {
      headers: { 'content-type': 'text/plain', ...headers },
      body: chunks(Buffer.from(value)),
    });
  const get = async (key: string, headers: Record<string, string> = {}, facts?: Record<string, unknown>[]) =>
    core.kv.invoke(await invocation(alice, { [kvRes(key)]: 'tinycloud.kv/get' }, facts), { headers });
  const del = async (key: string, headers: Record<string, string> = {}) =>
    core.kv.invoke(await invocation(alice, { [kvRes(key)]: 'tinycloud.kv/del' }), { headers });
  const list = async (prefix: string, headers: Record<string, string> = {}, who = alice) =>
    core.kv.invoke(await invocation(who, { [kvRes(prefix)]: 'tinycloud.kv/list' }), { headers });

  it('puts and gets a value with its stored headers, ETag and version', async () => {
    const value = randomBytes(300_000);
    const written = await put('docs/a.bin', value, {
      'content-type': 'application/x-test',
      'content-encoding': 'identity',
      'content-language': 'en',
      'content-disposition': 'attachment; filename="a.bin"',
      'x-tinycloud-meta-owner': 'alice',
      'x-ignored': 'nope',
    });
    const etag = etagOf(await blake3(value));
    expect(written.status).toBe(200);
    expect(written.headers.etag).toBe(etag);
    expect(written.headers[VERSION_HEADER]).toMatch(/^bafkr4i/);

    const read = await get('docs/a.bin');
    expect(read.status).toBe(200);
    expect(read.headers).toMatchObject({
      etag,
      'cache-control': 'private, no-cache',
      'content-length': String(value.length),
      'content-type': 'application/x-test',
      'content-encoding': 'identity',
      'content-language': 'en',
      'content-disposition': 'attachment; filename="a.bin"',
      'x-tinycloud-meta-owner': 'alice',
      [VERSION_HEADER]: written.headers[VERSION_HEADER],
    });
    expect(read.headers['x-ignored']).toBeUndefined();
    expect(read.headers['last-modified']).toBeDefined();
    expect((await bodyOf(read)).equals(value)).toBe(true);
  });

  it('answers 304 to a matching If-None-Match and 413 past x-tinycloud-max-response-bytes', async () => {
    const written = await put('cache/x', 'hello');
    const etag = written.headers.etag!;
    expect((await get('cache/x', { 'if-none-match': etag })).status).toBe(304);
    expect((await get('cache/x', { 'if-none-match': `W/${etag}, "other"` })).status).toBe(304);
    expect((await get('cache/x', { 'if-none-match': '*' })).status).toBe(304);
    expect((await get('cache/x', { 'if-none-match': '"blake3-00"' })).status).toBe(200);
    expect((await failure(get('cache/x', { 'x-tinycloud-max-response-bytes': '4' }))).status).toBe(413);
    expect((await get('cache/x', { 'x-tinycloud-max-response-bytes': '5' })).status).toBe(200);
    expect((await failure(get('cache/x', { 'if-none-match': 'unquoted' }))).status).toBe(400);
  });

  it('metadata returns headers without a body; missing keys are 404', async () => {
    await put('meta/k', 'abc', { 'x-tinycloud-meta-color': 'blue' });
    const response = await core.kv.invoke(await invocation(alice, { [kvRes('meta/k')]: 'tinycloud.kv/metadata' }), { headers: {} });
    expect(response.status).toBe(200);
    expect(response.body).toBeUndefined();
    expect(response.headers).toMatchObject({ 'x-tinycloud-meta-color': 'blue' });
    expect(response.headers['content-length']).toBeUndefined();
    expect(response.headers[SIZE_HEADER]).toBe('3');
    const missing = await failure(get('meta/nope'));
    expect([missing.status, missing.message]).toEqual([404, 'No Such Key: meta/nope']);
  });

  it('enforces If-Match and If-None-Match: * on single puts and deletes (412), and refuses them elsewhere (400)', async () => {
    const first = await put('pre/k', 'v1', { 'if-none-match': '*' });
    expect(first.status).toBe(200);
    expect((await failure(put('pre/k', 'v2', { 'if-none-match': '*' }))).status).toBe(412);
    expect((await failure(put('pre/k', 'v2', { 'if-match': '"blake3-' + '0'.repeat(64) + '"' }))).status).toBe(412);
    const second = await put('pre/k', 'v2', { 'if-match': first.headers.etag! });
    expect(second.status).toBe(200);
    expect((await put('pre/k', 'v3', { 'if-match': '*' })).status).toBe(200);
    expect((await failure(put('pre/missing', 'v', { 'if-match': '*' }))).status).toBe(412);
    expect((await failure(put('pre/k', 'v', { 'if-match': '*', 'if-none-match': '*' }))).status).toBe(400);
    expect((await failure(put('pre/k', 'v', { 'if-none-match': first.headers.etag! }))).status).toBe(400);
    expect((await failure(put('pre/k', 'v', { 'if-match': 'garbage' }))).status).toBe(400);
    expect((await failure(put('pre/k', 'v', { 'x-tinycloud-expected-version': '3' }))).status).toBe(400);
    expect((await failure(get('pre/k', { 'if-match': '*' }))).status).toBe(400);
    expect((await failure(del('pre/k', { 'if-none-match': '*' }))).status).toBe(400);
    expect((await failure(list('pre/', { 'if-match': '*' }))).status).toBe(400);
    expect((await failure(del('pre/k', { 'if-match': first.headers.etag! }))).status).toBe(412);
    const current = await get('pre/k');
    expect((await bodyOf(current)).toString()).toBe('v3');
  });

  it('deletes: 404 for a key never written, 200 + ETag of the removed value, then 200 without ETag', async () => {
    const never = await failure(del('gone/never'));
    expect([never.status, never.message]).toEqual([404, 'No Such Key: gone/never']);
    const written = await put('gone/k', 'bye');
    const removed = await del('gone/k', { 'if-match': written.headers.etag! });
    expect(removed.status).toBe(200);
    expect(removed.headers.etag).toBe(written.headers.etag);
    expect((await failure(get('gone/k'))).status).toBe(404);
    const again = await del('gone/k');
    expect(again.status).toBe(200);
    expect(again.headers.etag).toBeUndefined();
    expect((await failure(del('gone/k', { 'if-match': '*' }))).status).toBe(412);
  });

  it('lists by plain string prefix with % and _ taken literally, sorted, paged by an HMAC cursor', async () => {
    // `%` can only appear as an escape in a resource path, so `%25` is how a key holds a literal percent.
    for (const key of ['l/a_b', 'l/axb', 'l/a%25b', 'l/ax25b', 'l/a%25%25', 'l/A', 'l/b', 'l/a*', 'l/ab', 'l2/x']) await put(key, key);
    await del('l/b');
    expect(await jsonOf(await list('l/a_'))).toEqual(['l/a_b']);
    expect(await jsonOf(await list('l/a%25'))).toEqual(['l/a%25%25', 'l/a%25b']);
    expect(await jsonOf(await list('l/a*'))).toEqual(['l/a*']);
    expect(await jsonOf(await list('l/a'))).toEqual(['l/a%25%25', 'l/a%25b', 'l/a*', 'l/a_b', 'l/ab', 'l/ax25b', 'l/axb']);
    expect(await jsonOf(await list('l/A'))).toEqual(['l/A']);
    const all = await list('l');
    expect(all.headers['x-tinycloud-truncated']).toBe('false');
    expect(await jsonOf(all)).toEqual(['l/A', 'l/a%25%25', 'l/a%25b', 'l/a*', 'l/a_b', 'l/ab', 'l/ax25b', 'l/axb', 'l2/x']);

    const pages: string[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await list('l/', { 'x-tinycloud-limit': '3', ...(cursor && { 'x-tinycloud-cursor': cursor }) });
      pages.push(await jsonOf(page));
      cursor = page.headers['x-tinycloud-next-cursor'];
      if (page.headers['x-tinycloud-truncated'] === 'false') break;
      expect(cursor).toBeDefined();
    }
    expect(pages).toEqual([['l/A', 'l/a%25%25', 'l/a%25b'], ['l/a*', 'l/a_b', 'l/ab'], ['l/ax25b', 'l/axb']]);

    const first = await list('l/', { 'x-tinycloud-limit': '2' });
    const next = first.headers['x-tinycloud-next-cursor']!;
    expect((await failure(list('l/', { 'x-tinycloud-limit': '3', 'x-tinycloud-cursor': next }))).status).toBe(400);
    expect((await failure(list('l/a', { 'x-tinycloud-limit': '2', 'x-tinycloud-cursor': next }))).status).toBe(400);
    expect((await failure(list('l/', { 'x-tinycloud-limit': '2', 'x-tinycloud-cursor': next }, bob))).status).toBe(400);
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(next, 'base64url').toString()), payload: { last: 'l/z' } })).toString('base64url');
    expect((await failure(list('l/', { 'x-tinycloud-limit': '2', 'x-tinycloud-cursor': forged }))).status).toBe(400);
    for (const bad of ['0', '1001', '-1', 'ten']) expect((await failure(list('l/', { 'x-tinycloud-limit': bad }))).status).toBe(400);
  });

  it('batch get and batch metadata return JSON results; mixed kinds are 501', async () => {
    await put('batch/a', 'AAA', { 'content-type': 'text/x-a' });
    await put('batch/b', Buffer.from([0, 1, 2, 255]));
    const inv = await invocation(alice, { [kvRes('batch/a')]: 'tinycloud.kv/get', [kvRes('batch/b')]: 'tinycloud.kv/get', [kvRes('batch/none')]: 'tinycloud.kv/get' });
    const response = await core.kv.invoke(inv, { headers: {} });
    const { results } = await jsonOf<{ results: Record<string, any>[] }>(response);
    expect(results).toHaveLength(3);
    const byKey = Object.fromEntries(results.map((r) => [r.key, r]));
    expect(byKey['batch/a']).toMatchObject({ ok: true, dataBase64: Buffer.from('AAA').toString('base64'), headers: { 'content-type': 'text/x-a', 'content-length': '3' } });
    expect(Buffer.from(byKey['batch/b'].dataBase64, 'base64')).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(byKey['batch/none']).toEqual({ key: 'batch/none', ok: false, error: { code: 'KV_NOT_FOUND', message: 'No Such Key: batch/none' } });

    const meta = await core.kv.invoke(
      await invocation(alice, { [kvRes('batch/a')]: 'tinycloud.kv/metadata', [kvRes('batch/b')]: 'tinycloud.kv/metadata' }),
      { headers: {} },
    );
    const metaResults = (await jsonOf<{ results: Record<string, any>[] }>(meta)).results;
    expect(metaResults.every((r) => r.ok && r.dataBase64 === undefined && r.headers.etag)).toBe(true);

    const mixed = await invocation(alice, { [kvRes('batch/a')]: ['tinycloud.kv/get', 'tinycloud.kv/put'] });
    expect((await failure(core.kv.invoke(mixed, { headers: {} }))).status).toBe(501);
  });

  it('multipart batch put writes every part in one event; unknown, duplicate and missing parts are 400 and write nothing', async () => {
    // The resource grammar forbids a raw space, so the key is written `two%20words`; its part name is that
    // key percent-encoded once more, as the SDK's FormData sends it.
    const spaced = { [kvRes('mp/one')]: 'tinycloud.kv/put', [kvRes('mp/two%20words')]: 'tinycloud.kv/put' };
    const good = multipartBody([
      ['mp/one', 'first', { 'content-type': 'text/one', 'x-tinycloud-meta-n': '1' }],
      [encodeURIComponent('mp/two%20words'), randomBytes(200_000)],
    ]);
    const response = await core.kv.invoke(await invocation(alice, spaced), { headers: { 'content-type': good.contentType }, body: chunks(good.body, 7000) });
    expect(response.status).toBe(200);
    expect(await jsonOf(response)).toEqual({ written: ['mp/one', 'mp/two%20words'], count: 2 });
    const one = await get('mp/one');
    expect(one.headers).toMatchObject({ 'content-type': 'text/one', 'x-tinycloud-meta-n': '1' });
    expect((await bodyOf(one)).toString()).toBe('first');
    expect(one.headers[VERSION_HEADER]).toBe((await get('mp/two%20words')).headers[VERSION_HEADER]);

    const two = { [kvRes('mp/x')]: 'tinycloud.kv/put', [kvRes('mp/y')]: 'tinycloud.kv/put' };
    const attempts = [
      multipartBody([['mp/x', 'x'], ['mp/y', 'y'], ['mp/z', 'z']]),
      multipartBody([['mp/x', 'x'], ['mp/x', 'x2'], ['mp/y', 'y']]),
      multipartBody([['mp/x', 'x']]),
    ];
    for (const attempt of attempts) {
      const error = await failure(core.kv.invoke(await invocation(alice, two), { headers: { 'content-type': attempt.contentType }, body: chunks(attempt.body) }));
      expect(error.status).toBe(400);
    }
    expect((await failure(get('mp/x'))).status).toBe(404);
    const truncated = multipartBody([['mp/x', 'x'], ['mp/y', 'y']]);
    const cut = truncated.body.subarray(0, truncated.body.length - 20);
    expect((await failure(core.kv.invoke(await invocation(alice, two), { headers: { 'content-type': truncated.contentType }, body: chunks(cut) }))).status).toBe(400);
    const withPrecondition = multipartBody([['mp/x', 'x'], ['mp/y', 'y']]);
    expect((await failure(core.kv.invoke(await invocation(alice, two), { headers: { 'content-type': withPrecondition.contentType, 'if-none-match': '*' }, body: chunks(withPrecondition.body) }))).status).toBe(400);
    expect((await failure(core.kv.invoke(await invocation(alice, two), { headers: { 'content-type': 'text/plain' }, body: chunks(Buffer.from('x')) }))).status).toBe(400);
    expect((await failure(get('mp/y'))).status).toBe(404);
  });

  it('keeps every version: lists them in epoch order and reads an earlier one by the kvVersion fact', async () => {
    const v1 = await put('ver/k', 'one');
    const v2 = await put('ver/k', 'two', { 'content-type': 'text/two' });
    await del('ver/k');
    const v4 = await put('ver/k', 'four');
    const response = await core.kv.invoke(await invocation(alice, { [kvRes('ver/k')]: 'tinycloud.kv/versions' }), { headers: {} });
    const versions = await jsonOf<VersionDescription[]>(response);
    expect(versions.map((v) => [v.deleted, v.size, v.etag])).toEqual([
      [false, 3, v1.headers.etag],
      [false, 3, v2.headers.etag],
      [true, 0, null],
      [false, 4, v4.headers.etag],
    ]);
    expect(versions[0]!.version).toBe(v1.headers[VERSION_HEADER]);
    expect(versions.every((v) => v.writer === aliceDid && v.epoch.startsWith('bafyr4i'))).toBe(true);
    const positions = versions.map((v) => [v.seq, v.epochSeq]);
    expect(positions).toEqual([...positions].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!));
    expect(new Set(versions.map((v) => v.seq)).size).toBe(4);

    const old = await get('ver/k', {}, [{ kvVersion: v2.headers[VERSION_HEADER] }]);
    expect((await bodyOf(old)).toString()).toBe('two');
    expect(old.headers).toMatchObject({ 'content-type': 'text/two', etag: v2.headers.etag, [VERSION_HEADER]: v2.headers[VERSION_HEADER] });
    expect((await bodyOf(await get('ver/k'))).toString()).toBe('four');
    expect((await failure(get('ver/k', {}, [{ kvVersion: versions[2]!.version }]))).status).toBe(404);
    expect((await failure(get('ver/k', {}, [{ kvVersion: 'not-a-cid' }]))).status).toBe(400);
    expect((await failure(get('ver/other', {}, [{ kvVersion: v2.headers[VERSION_HEADER] }]))).status).toBe(404);

    const paged = await core.kv.invoke(await invocation(alice, { [kvRes('ver/k')]: 'tinycloud.kv/versions' }), { headers: { 'x-tinycloud-limit': '3' } });
    expect(paged.headers['x-tinycloud-truncated']).toBe('true');
    const rest = await core.kv.invoke(await invocation(alice, { [kvRes('ver/k')]: 'tinycloud.kv/versions' }), {
      headers: { 'x-tinycloud-limit': '3', 'x-tinycloud-cursor': paged.headers['x-tinycloud-next-cursor']! },
    });
    expect((await jsonOf<VersionDescription[]>(rest)).map((v) => v.version)).toEqual([versions[3]!.version]);
    expect((await failure(core.kv.invoke(await invocation(alice, { [kvRes('ver/never')]: 'tinycloud.kv/versions' }), { headers: {} }))).status).toBe(404);
  });

  it('resolves concurrent writers to one key by epoch order, the same winner the version list names last', async () => {
    const writers = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => ({ i, inv: await invocation(i % 2 ? bob : alice, { [kvRes('lww/k')]: 'tinycloud.kv/put' }) })),
    );
    const results = await Promise.all(
      writers.map(({ i, inv }) => core.kv.invoke(inv, { headers: {}, body: chunks(Buffer.from(`writer-${i}`)) })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const versions = await jsonOf<VersionDescription[]>(
      await core.kv.invoke(await invocation(alice, { [kvRes('lww/k')]: 'tinycloud.kv/versions' }), { headers: {} }),
    );
    expect(versions).toHaveLength(8);
    const last = versions[versions.length - 1]!;
    const current = await get('lww/k');
    expect(current.headers[VERSION_HEADER]).toBe(last.version);
    expect(current.headers.etag).toBe(last.etag);
  });

  it('a conditional put among concurrent puts is alone in its epoch; every put gets its own place in epoch order', async () => {
    const signed = await Promise.all(['a', 'b', 'c'].map((k) => invocation(alice, { [kvRes(`together/${k}`)]: 'tinycloud.kv/put' })));
    const send = (i: number, headers: Record<string, string> = {}) => core.kv.invoke(signed[i]!, { headers, body: chunks(Buffer.from('abc'[i]!)) });
    const results = await Promise.all([send(0), send(1, { 'if-none-match': '*' }), send(2)]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const versionOf = async (key: string) =>
      (await jsonOf<VersionDescription[]>(await core.kv.invoke(await invocation(alice, { [kvRes(key)]: 'tinycloud.kv/versions' }), { headers: {} })))[0]!;
    const [va, vb, vc] = [await versionOf('together/a'), await versionOf('together/b'), await versionOf('together/c')];
    expect(vb.epochSeq).toBe(0);
    expect([va.epoch, vc.epoch]).not.toContain(vb.epoch);
    expect(new Set([va, vb, vc].map((v) => `${v.seq}.${v.epochSeq}`)).size).toBe(3);
    if (va.epoch === vc.epoch) expect([va.epochSeq, vc.epochSeq].sort()).toEqual([0, 1]);
  });

  it('treats hostile keys as opaque names that never leave the space storage, and refuses unstorable ones', async () => {
    const hostile = ['..%2F..%2Fescape', '/abs/path', '%00nul', '%2e%2ex', 'a/%2E%2E%2F/b', '~root', "..;", '.../x'];
    for (const key of hostile) {
      const value = `value of ${key}`;
      await put(key, value);
      expect((await bodyOf(await get(key))).toString()).toBe(value);
    }
    expect(await jsonOf(await list(''))).toEqual(expect.arrayContaining(hostile));
    if (driver === 'Local') {
      const { filesUnder } = await import('./support.js');
      const files = await filesUnder(core.dir);
      // Nothing but the DB, content-addressed blocks and (empty) staging/temp dirs.
      for (const file of files) expect(file).toMatch(/^(caps\.db(-wal|-shm)?|blocks\/key:[^/]+\/default\/[A-Za-z0-9_-]{2}\/[A-Za-z0-9_-]{43}=)$/);
    }
    const base = await invocation(alice, { [kvRes('placeholder')]: 'tinycloud.kv/get' });
    for (const [path, status] of [['x'.repeat(4096), 400], ['nul\0byte', 400], ['', 400], ['new\nline', 400]] as const) {
      const capability = { ...base.info.capabilities[0]!, target: { ...(base.info.capabilities[0]!.target as any), path } };
      const inv = { ...base, info: { ...base.info, capabilities: [capability] } };
      expect((await failure(core.kv.invoke(inv, { headers: {} }))).status).toBe(status);
    }
    expect((await put('k'.repeat(512), 'max')).status).toBe(200);
  });
});
