import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SECRET, expectAliceIntact, expectPlainError, head, post, rawRequest, startHostileNode, type Hostile } from './support.js';

const JSON_TYPE = { 'content-type': 'application/json' };

/** Garbage bodies on every POST route that reads one: a 4xx naming the problem, never a 500. */
describe('hostile bodies', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostileNode();
  });
  afterAll(async () => h?.destroy());

  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  const garbage: [string, string][] = [
    ['empty', ''],
    ['not JSON', 'hello'],
    ['truncated JSON', '{"action":"query","sql":"SELECT 1"'],
    ['a JSON string', '"query"'],
    ['a JSON number', '42'],
    ['null', 'null'],
    ['an array', '[1,2,3]'],
    ['deeply nested arrays', deep(200_000)],
    ['deeply nested objects', deepObject(100_000)],
    ['invalid UTF-8', '\xff\xfe{"action":"query"}'],
    ['a BOM', '\ufeff{"action":"query","sql":"SELECT 1"}'],
    ['__proto__', '{"__proto__":{"action":"query","sql":"SELECT 1"},"constructor":{"prototype":{"x":1}}}'],
  ];

  it('SQL: every malformed body is a 400 or 413 with a message', async () => {
    const shapes: unknown[] = [
      { action: 5 },
      { action: 'query' },
      { action: 'query', sql: 5 },
      { action: 'query', sql: ['SELECT 1'] },
      { action: 'query', sql: 'SELECT 1', params: 'x' },
      { action: 'query', sql: 'SELECT ?', params: [{ a: 1 }] },
      { action: 'query', sql: 'SELECT ?', params: [[1, 2, 300]] },
      { action: 'query', sql: 'SELECT ?', params: [[-1]] },
      { action: 'query', sql: 'SELECT ?', params: [[1.5]] },
      '{"action":"query","sql":"SELECT ?","params":[1e400]}',
      { action: 'query', sql: 'SELECT ?', params: [2 ** 63] },
      { action: 'query', sql: 'SELECT ?, ?', params: [1] },
      { action: 'query', sql: 'SELECT ?', params: [1, 2, 3] },
      { action: 'query', sql: 'SELECT :a', params: { a: 1 } },
      { action: 'query', sql: 'SELECT :a', params: { b: 1 } },
      { action: 'query', sql: 'SELECT 1', maxRows: -1 },
      { action: 'query', sql: 'SELECT 1', maxRows: 1.5 },
      { action: 'query', sql: 'SELECT 1', maxRows: '10' },
      { action: 'query', sql: 'SELECT 1', maxBytes: 1e308 },
      { action: 'execute', sql: 'SELECT 1', schema: 'CREATE TABLE x (a)' },
      { action: 'execute', sql: 'SELECT 1', schema: [5] },
      { action: 'batch' },
      { action: 'batch', statements: 'x' },
      { action: 'batch', statements: [null] },
      { action: 'batch', statements: [{ sql: 1 }] },
      { action: 'executeStatement' },
      { action: 'executeStatement', name: 'nope' },
      { action: 'bogus' },
      { action: 'constructor' },
      { action: '__proto__' },
    ];
    const bodies = [...garbage.map(([, b]) => b), ...shapes.map((s) => (typeof s === 'string' ? s : JSON.stringify(s)))];
    for (const body of bodies) {
      const answer = await post(h.node, '/invoke', h.sqlToken('tinycloud.sql/write'), body, JSON_TYPE);
      expect(answer.status, `${body.slice(0, 80)} → ${answer.text}`).toBeGreaterThanOrEqual(400);
      expectPlainError({ status: answer.status, headers: answer.headers, body: answer.text }, [400, 403, 404, 413]);
    }
    // Wrong content type, or none: the body is still what it is (JSON), or refused with a message.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
      const answer = await post(h.node, '/invoke', h.sqlToken('tinycloud.sql/read'), '{"action":"query","sql":"SELECT 1"}', type ? { 'content-type': type } : {});
      expect(answer.status, `${type}: ${answer.text}`).toBeLessThan(500);
    }
  });

  it('SQL: a body over 1 MiB is a 413, streamed or declared', async () => {
    const big = JSON.stringify({ action: 'query', sql: `SELECT '${'x'.repeat(2 * 1024 * 1024)}'` });
    const answer = await post(h.node, '/invoke', h.sqlToken('tinycloud.sql/read'), big, JSON_TYPE);
    expectPlainError({ status: answer.status, headers: answer.headers, body: answer.text }, 413);
    // A declared length far beyond the cap is refused without waiting for the body.
    const declared = await rawRequest(
      h.node.url,
      head('POST', '/invoke', [`Authorization: ${h.sqlToken('tinycloud.sql/read')}`, 'Content-Type: application/json', 'Content-Length: 1000000000']) + '{"action":',
      3000,
    );
    expectPlainError(declared, 413);
  });

  it('/delegation/status, /signed/kv and admin PUT: malformed bodies', async () => {
    const statusToken = () => h.alice.token({ [`urn:cid:${'b'.repeat(10)}`]: { 'tinycloud.delegation/status': [{}] } });
    const signToken = () => h.alice.token({ [h.alice.resource('docs/')]: { 'tinycloud.kv/get': [{}] } });
    const shapes = [...garbage.map(([, b]) => b), '{"cid":5}', '{"cid":null}', '{"space":1,"path":2}', '{"space":"x","path":"y","ttlSeconds":-5}', '{"space":"x","path":"y","maxUses":3}', '{"limit_bytes":"5"}', '{"limit_bytes":-1}', '{"limit_bytes":1e400}', '{"limit_bytes":1.5}'];
    for (const body of shapes) {
      const status = await post(h.node, '/delegation/status', statusToken(), body, JSON_TYPE);
      expect(status.status, `status ${body.slice(0, 40)}: ${status.text}`).toBeGreaterThanOrEqual(400);
      expect(status.status, `status ${body.slice(0, 40)}: ${status.text}`).toBeLessThan(500);
      const signed = await post(h.node, '/signed/kv', signToken(), body, JSON_TYPE);
      expectPlainError({ status: signed.status, headers: signed.headers, body: signed.text }, [400, 401, 403, 404, 412, 413]);
      const put = await fetch(`${h.node.url}/admin/quota/${encodeURIComponent(h.alice.space)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_SECRET}`, ...JSON_TYPE },
        body,
      });
      expectPlainError({ status: put.status, headers: put.headers, body: await put.text() }, [400, 413]);
    }
    const usage = await fetch(`${h.node.url}/admin/quota/${encodeURIComponent(h.alice.space)}`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` } });
    expect(await usage.json()).toMatchObject({ override: false });
  });

  it('KV put: wrong content types and odd encodings are stored as bytes or refused, never a 500', async () => {
    for (const type of ['application/json', 'multipart/form-data', 'multipart/form-data; boundary=', `multipart/form-data; boundary=${'x'.repeat(100)}`, 'multipart/form-data; boundary="a"; boundary="b"', '\x7f', ';;;']) {
      const answer = await h.alice.put('odd/type', 'value', { 'content-type': type }).catch((e: Error) => e);
      if (answer instanceof Error) continue; // fetch refused to send the header at all
      expect(answer.status, `${type}: ${await answer.clone().text()}`).toBeLessThan(500);
      if (answer.status >= 400) expect(await answer.text()).not.toBe('');
    }
    const gzip = await h.alice.put('odd/gzip', 'not gzip at all', { 'content-encoding': 'gzip' });
    expect(gzip.status).toBeLessThan(500);
  });

  it('multipart batch put: malformed bodies are 400 and write nothing', async () => {
    const keys = ['mp/a', 'mp/b'];
    const att = Object.fromEntries(keys.map((k) => [h.alice.resource(k), { 'tinycloud.kv/put': [{}] }]));
    const part = (name: string, value: string, extra = '') => `--B\r\nContent-Disposition: form-data; name="${name}"\r\n${extra}\r\n${value}\r\n`;
    const bodies = [
      '',
      'garbage',
      '--B\r\n',
      part('mp/a', 'x'),
      `${part('mp/a', 'x')}--B`,
      `${part('mp/a', 'x')}${part('mp/a', 'y')}--B--\r\n`,
      `${part('mp/a', 'x')}${part('mp/zzz', 'y')}--B--\r\n`,
      `${part('mp/a', 'x')}--B--\r\n`,
      `--B\r\nContent-Disposition: attachment\r\n\r\nx\r\n--B--\r\n`,
      `--B\r\n\r\nx\r\n--B--\r\n`,
      `--B\r\nContent-Disposition: form-data; name="mp/a"\r\n${'X-Big: y\r\n'.repeat(5000)}\r\nx\r\n--B--\r\n`,
      `--Bgarbage${'z'.repeat(1000)}\r\n`,
      `${part('mp%2', 'x')}${part('mp/b', 'y')}--B--\r\n`,
      `${part('%E0%A4%A', 'x')}--B--\r\n`,
      Array.from({ length: 200 }, (_, i) => part(`mp/${i}`, 'x')).join('') + '--B--\r\n',
    ];
    for (const body of bodies) {
      const answer = await h.alice.invoke(att, { body, headers: { 'content-type': 'multipart/form-data; boundary=B' } });
      const text = await answer.text();
      expectPlainError({ status: answer.status, headers: answer.headers, body: text }, 400);
    }
    for (const key of keys) expect((await h.alice.get(key)).status).toBe(404);
  });

  it('/delegate and /revoke ignore bodies of any kind', async () => {
    for (const route of ['/delegate', '/revoke']) {
      const answer = await post(h.node, route, 'A'.repeat(64), deep(100_000), JSON_TYPE);
      expectPlainError({ status: answer.status, headers: answer.headers, body: answer.text }, 401);
    }
  });

  it("alice's data is intact afterwards", async () => {
    await expectAliceIntact(h);
  });
});
