import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SECRET, expectAliceIntact, expectPlainError, head, rawRequest, startHostileNode, type Hostile } from './support.js';

/** Path, query and method tricks on every route: answered with a 4xx (or the normal answer), never a 500. */
describe('hostile paths, queries and methods', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostileNode();
  });
  afterAll(async () => h?.destroy());

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

  it("alice's data is intact afterwards", async () => {
    await expectAliceIntact(h);
  });
});
