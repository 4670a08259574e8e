import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SECRET, expectAliceIntact, expectPlainError, head, rawRequest, startHostileNode, type Hostile } from './support.js';

/** Requests no client should send (headers, paths, queries, methods): each gets a clear 4xx, and the node keeps serving. */
describe('hostile HTTP', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostileNode();
  });
  afterAll(async () => h?.destroy());

  const post = (target: string, lines: string[], body = '') =>
    rawRequest(h.node.url, head('POST', target, [...lines, `Content-Length: ${Buffer.byteLength(body)}`]) + body);

  it('a huge Authorization header: 431 from Node, or a 401 that says why', async () => {
    for (const size of [20_000, 200_000]) {
      const answer = await post('/invoke', [`Authorization: ${'a.'.repeat(size / 2)}`]);
      expectPlainError(answer, [401, 431]);
    }
    // Just under the limit Node enforces: the node decodes nothing it cannot.
    const answer = await post('/delegate', [`Authorization: ${'A'.repeat(15_000)}`]);
    expectPlainError(answer, 401);
  });

  it('repeated Authorization headers are refused, not merged or picked', async () => {
    const token = h.alice.token({ [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': [{}] } });
    for (const route of ['/invoke', '/delegate', '/revoke']) {
      const answer = await post(route, [`Authorization: ${token}`, `Authorization: ${token}`]);
      expectPlainError(answer, [400, 401]);
    }
    // The token was not consumed by the refused request.
    const once = await post('/invoke', [`Authorization: ${token}`]);
    expect(once.status, once.body).toBe(200);
  });

  it('NUL, bare CR/LF and other control bytes in Authorization', async () => {
    for (const value of ['abc\0def.ghi.jkl', 'a.b\rc', 'x.y\x01z', '\0']) {
      const answer = await rawRequest(h.node.url, Buffer.from(head('POST', '/invoke', [`Authorization: ${value}`, 'Content-Length: 0']), 'latin1'));
      expect([400, 401], answer.body).toContain(answer.status);
    }
    // Header injection attempt: the second "header" is just more of a malformed request.
    const injected = await rawRequest(h.node.url, 'POST /invoke HTTP/1.1\r\nHost: x\r\nAuthorization: a.b.c\nX-Evil: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    expect([400, 401]).toContain(injected.status);
  });

  it('non-ASCII and obs-text in Authorization', async () => {
    for (const value of [Buffer.from('Authorization: eyJ.ü.x\r\n', 'utf8'), Buffer.from('Authorization: \xff\xfe.\x80\r\n', 'latin1'), Buffer.from('Authorization: 🙂🙂🙂\r\n', 'utf8')]) {
      const answer = await rawRequest(
        h.node.url,
        Buffer.concat([Buffer.from('POST /invoke HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n'), value, Buffer.from('\r\n')]),
      );
      expectPlainError(answer, [400, 401]);
    }
  });

  it('garbage tokens of every shape: 401 with a message, never 500', async () => {
    const values = [
      'Bearer abc',
      '.',
      '...',
      'a.b',
      'a.b.c.d.e',
      'eyJhbGciOiJFZERTQSJ9.e30.',
      'eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.',
      `${Buffer.from('{"alg":"EdDSA","typ":"JWT"}').toString('base64url')}.${Buffer.from('[]').toString('base64url')}.AAAA`,
      `${Buffer.from('{"alg":"EdDSA","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"iss":1,"aud":[],"att":"x","prf":{}}').toString('base64url')}.AAAA`,
      `${Buffer.from('null').toString('base64url')}.${Buffer.from('null').toString('base64url')}.AAAA`,
      'not base64 !!!',
      'AAAA',
      '====',
      Buffer.from([0xa1, 0x61, 0x68, 0xa0]).toString('base64url'),
      Buffer.from([0xff, 0xff, 0xff]).toString('base64url'),
      Buffer.from(new Uint8Array(2000).fill(0x9f)).toString('base64url'),
    ];
    for (const route of ['/invoke', '/delegate', '/revoke']) {
      for (const value of values) {
        const answer = await post(route, [`Authorization: ${value}`]);
        expectPlainError(answer, [400, 401]);
      }
    }
  });

  it('deeply nested JSON in a UCAN payload or CBOR in a CACAO does not crash the decoder', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const jws = `${Buffer.from('{"alg":"EdDSA","typ":"JWT"}').toString('base64url')}.${Buffer.from(deep).toString('base64url').slice(0, 14_000)}.AAAA`;
    expectPlainError(await post('/invoke', [`Authorization: ${jws}`]), [400, 401]);
    // CBOR: 5000 nested one-element arrays.
    const cbor = Buffer.concat([Buffer.alloc(5000, 0x81), Buffer.from([0x00])]).toString('base64url');
    for (const route of ['/delegate', '/revoke']) expectPlainError(await post(route, [`Authorization: ${cbor}`]), [400, 401]);
    // CBOR claiming a 4 GiB byte string / array with no bytes behind it.
    for (const bytes of [[0x5b, 0, 0, 0, 1, 0, 0, 0, 0], [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0xbb, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]]) {
      expectPlainError(await post('/delegate', [`Authorization: ${Buffer.from(bytes).toString('base64url')}`]), [400, 401]);
    }
  });

  it('a request with no Host, an absurd method, or HTTP/0.9 does not hurt', async () => {
    // HTTP/1.1 requires Host: a 400 that says so (Node's own answer had no body).
    expectPlainError(await rawRequest(h.node.url, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'), 400, /Missing Host header/);
    expect((await rawRequest(h.node.url, 'GET /healthz HTTP/1.0\r\nConnection: close\r\n\r\n')).status).toBe(200);
    expect([400, 404, 405, 501]).toContain((await rawRequest(h.node.url, head('BREW', '/invoke'))).status);
    const garbage = await rawRequest(h.node.url, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n').catch(() => undefined);
    if (garbage) expect(garbage.status).toBe(400);
  });

  it('oversized and duplicated ordinary headers', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`);
    const answer = await rawRequest(h.node.url, head('GET', '/healthz', many));
    expect([200, 431]).toContain(answer.status);
    const types = await post('/invoke', ['Content-Type: application/json', 'Content-Type: text/plain', `Authorization: ${h.sqlToken('tinycloud.sql/read')}`], '{}');
    expect(types.status).toBeLessThan(500);
    const lengths = await rawRequest(h.node.url, `${head('POST', '/invoke', ['Content-Length: 5', 'Content-Length: 6'])}hello!`);
    expectPlainError(lengths, 400);
  });

  it('request smuggling shapes (both lengths, odd transfer codings) are refused before any route runs', async () => {
    const token = h.alice.token({ [h.alice.resource('smuggled')]: { 'tinycloud.kv/put': [{}] } });
    for (const lines of [
      ['Content-Length: 5', 'Transfer-Encoding: chunked'],
      ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity'],
      ['Transfer-Encoding: gzip, chunked'],
      ['Transfer-Encoding: chunked, gzip'],
      ['Transfer-Encoding:  chunked\x0b'],
      ['Content-Length: -5'],
      ['Content-Length: 5, 5'],
      ['Content-Length: 0x5'],
    ]) {
      const smuggled = `${head('POST', '/invoke', [`Authorization: ${token}`, ...lines])}0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`;
      const answer = await rawRequest(h.node.url, smuggled);
      expect([400, 401, 501], `${lines.join(' / ')}: ${answer.status}`).toContain(answer.status);
    }
    expect((await h.alice.get('smuggled')).status).toBe(404);
  });

  /** Path, query and method tricks on every route: answered with a 4xx (or the normal answer), never a 500. */
  describe('paths, queries and methods', () => {
    const send = (method: string, target: string, lines: string[] = []) => rawRequest(h.node.url, head(method, target, [...lines, 'Content-Length: 0']));

    const tricks = [
      '%',
      '%zz',
      '%ff',
      '%c3%28',
      '%ed%a0%80',
      '%f4%90%80%80',
      '%00',
      '..',
      '%2e%2e',
      '..%2f..%2fetc%2fpasswd',
      '%2e%2e%2f%2e%2e%2f',
      'a%2fb',
      'a//b',
      '😀',
      encodeURIComponent('😀'),
      'x'.repeat(9000),
      '%41'.repeat(3000),
      'tinycloud:pkh:eip155:1:0x0000000000000000000000000000000000000000:default',
      encodeURIComponent('tinycloud:pkh:eip155:1:0x0000000000000000000000000000000000000000:../../etc'),
      encodeURIComponent('tinycloud:pkh:eip155:1:0xZZ:default'),
      encodeURIComponent(`tinycloud:pkh:eip155:1:0x${'0'.repeat(40)}:${'d'.repeat(5000)}`),
      encodeURIComponent('tinycloud:key:z6Mk:default'),
    ];

    it('route parameters: peer/generate, signed/kv tickets, admin quota spaces', async () => {
      for (const trick of tricks) {
        for (const [target, lines] of [
          [`/peer/generate/${trick}`, []],
          [`/signed/kv/${trick}`, []],
          [`/admin/quota/${trick}`, [`Authorization: Bearer ${ADMIN_SECRET}`]],
        ] as const) {
          const answer = await send('GET', target, [...lines]);
          expect(answer.status, `${target.slice(0, 80)}: ${answer.body}`).toBeLessThan(500);
          if (answer.status >= 400) expectPlainError(answer, answer.status);
        }
      }
    });

    it('the real routes under other spellings: 404 or the route itself, never a 500', async () => {
      for (const target of [
        '//invoke',
        '/invoke/',
        '/invoke//',
        '/./invoke',
        '/x/../invoke',
        '/%69nvoke',
        '/INVOKE',
        '/invoke%00',
        '/invoke;x',
        '/invoke?x=%ff',
        '/invoke#frag',
        `/${'a/'.repeat(3000)}`,
        '/healthz/..',
        '/%2e%2e/%2e%2e/etc/passwd',
        '/peer/generate/',
        '/peer/generate',
        '/signed/kv/',
        '/admin/quota/',
        '*',
        'http://evil.example/healthz',
        '/\\..\\..\\',
      ]) {
        const answer = await send('POST', target);
        expect(answer.status, `${target.slice(0, 60)}: ${answer.body}`).toBeLessThan(500);
        if (answer.status >= 400 && answer.headers['content-type']) expectPlainError(answer, answer.status);
      }
    });

    it('/attestation?nonce= huge, repeated, array-shaped, invalid percent-encoding', async () => {
      for (const query of [
        `nonce=${'a'.repeat(7000)}`,
        'nonce=a&nonce=b',
        'nonce[]=a&nonce[]=b',
        'nonce[x]=1',
        'nonce=%ff%fe',
        'nonce=%',
        'nonce=%00',
        `nonce=${'%41'.repeat(2000)}`,
        'nonce',
        '__proto__=x&constructor=y',
        `${'a=1&'.repeat(2000)}nonce=1`,
      ]) {
        const answer = await send('GET', `/attestation?${query}`);
        expect(answer.status, `${query.slice(0, 40)}: ${answer.body.slice(0, 200)}`).toBeLessThan(500);
        if (answer.status >= 400) expectPlainError(answer, answer.status);
      }
    });

    it('methods a route does not have: 404 or 405, never a 500', async () => {
      const routes = ['/invoke', '/delegate', '/revoke', '/signed/kv', '/delegation/status', '/healthz', '/info', '/attestation', `/admin/quota/${encodeURIComponent(h.alice.space)}`, '/admin/usage'];
      for (const route of routes) {
        for (const method of ['HEAD', 'PUT', 'DELETE', 'PATCH', 'GET', 'POST', 'TRACE', 'CONNECT', 'PROPFIND', 'SEARCH']) {
          if (method === 'CONNECT') {
            // Node has no CONNECT handler installed: it closes the connection without an answer.
            await send(method, 'localhost:80').catch(() => undefined);
            continue;
          }
          const answer = await send(method, route, [`Authorization: ${method === 'POST' ? 'x' : `Bearer ${ADMIN_SECRET}`}`]);
          expect(answer.status, `${method} ${route}: ${answer.body}`).toBeLessThan(500);
        }
      }
      // The admin DELETE with a wrong method spelling does not remove anything.
      const usage = await fetch(`${h.node.url}/admin/usage`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` } });
      expect(usage.status).toBe(200);
    });

    it('OPTIONS on any path answers a preflight, even a hostile one', async () => {
      for (const target of ['/invoke', '/%ff', `/${'x'.repeat(9000)}`, '/a/../../b']) {
        const answer = await send('OPTIONS', target);
        expect(answer.status, target.slice(0, 40)).toBeLessThan(500);
      }
    });
  });

  it("alice's data is intact afterwards", async () => {
    await expectAliceIntact(h);
  });
});
