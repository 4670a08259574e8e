import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cidOfHeader, signIn } from '../auth-engine/support.js';
import { startTestNode } from '../support/test-node.js';
import { ADMIN_SECRET, alice, bob, expectAliceIntact, expectPlainError, head, KvClient, mallory, rawRequest, startHostileNode, ucan, type Hostile } from './support.js';

const JSON_TYPE = { 'content-type': 'application/json' };

const text = async (r: Response) => ({ status: r.status, headers: r.headers, body: await r.text() });

/** The guarded doors: admin secret, signed URL tickets, invocations that reach across spaces or services. */
describe('hostile access', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostileNode();
  });
  afterAll(async () => h?.destroy());

  describe('admin routes', () => {
    const space = () => encodeURIComponent(h.alice.space);
    const admin = (method: string, path: string, authorization?: string, body?: unknown) =>
      fetch(`${h.node.url}${path}`, {
        method,
        headers: { ...(authorization !== undefined && { authorization }), ...(body !== undefined && JSON_TYPE) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      }).then(text);

    it('without the secret, or with anything close to it: 401 and nothing changes', async () => {
      const wrong = [
        undefined,
        '',
        'Bearer',
        'Bearer ',
        `Bearer  ${ADMIN_SECRET}`,
        `bearer ${ADMIN_SECRET}`,
        `Bearer ${ADMIN_SECRET.slice(0, -1)}`,
        `Bearer ${ADMIN_SECRET}x`,
        `Bearer ${ADMIN_SECRET.toUpperCase()}`,
        `Basic ${Buffer.from(`admin:${ADMIN_SECRET}`).toString('base64')}`,
        ADMIN_SECRET,
        `Bearer ${'x'.repeat(10_000)}`,
      ];
      for (const authorization of wrong) {
        for (const [method, path, body] of [
          ['GET', '/admin/usage'],
          ['GET', '/admin/quota'],
          ['GET', `/admin/quota/${space()}`],
          ['PUT', `/admin/quota/${space()}`, { limit_bytes: 1 }],
          ['DELETE', `/admin/quota/${space()}`],
        ] as const) {
          const answer = await admin(method, path, authorization, body);
          expect(answer.status, `${method} ${path} with ${JSON.stringify(authorization)?.slice(0, 40)}`).toBe(401);
          expectPlainError(answer, 401, /Unauthorized/);
          expect(answer.headers.get('www-authenticate')).toBe('Bearer');
        }
      }
      // Two headers, the right one among them: refused, not guessed.
      const twice = await rawRequest(h.node.url, head('GET', '/admin/usage', [`Authorization: Bearer wrong`, `Authorization: Bearer ${ADMIN_SECRET}`]));
      expectPlainError(twice, 400);
      const usage = await admin('GET', `/admin/quota/${space()}`, `Bearer ${ADMIN_SECRET}`);
      expect(JSON.parse(usage.body)).toMatchObject({ override: false });
      expect((await h.alice.put('admin/after', 'still writable')).status).toBe(200);
    });

    it('a node without an admin secret has no admin surface (503), whatever is presented', async () => {
      const bare = await startTestNode();
      try {
        for (const authorization of [undefined, 'Bearer ', 'Bearer undefined', 'Bearer null', `Bearer ${ADMIN_SECRET}`]) {
          const answer = await fetch(`${bare.url}/admin/usage`, { headers: authorization === undefined ? {} : { authorization } }).then(text);
          expectPlainError(answer, 503);
        }
      } finally {
        await bare.destroy();
      }
    });
  });

  describe('signed URL tickets', () => {
    const mint = (body: unknown, att = { [h.alice.resource('docs/')]: { 'tinycloud.kv/get': [{}] } }, signer?: string) =>
      fetch(`${h.node.url}/signed/kv`, { method: 'POST', headers: { authorization: signer ?? h.alice.token(att), ...JSON_TYPE }, body: JSON.stringify(body) });

    it('forged, altered and malformed ticket ids: 401, never the object', async () => {
      const minted = await mint({ space: h.alice.space, path: 'docs/readme.txt' });
      expect(minted.status).toBe(200);
      const { ticketId } = (await minted.json()) as { ticketId: string };
      const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      for (const forged of [
        flip(ticketId, 0),
        flip(ticketId, 42),
        ticketId.slice(0, 42),
        `${ticketId}A`,
        `${ticketId}=`,
        ticketId.toLowerCase() === ticketId ? ticketId.toUpperCase() : ticketId.toLowerCase(),
        encodeURIComponent(`${ticketId.slice(0, 40)}/..`),
        'A'.repeat(43),
        `${ticketId.slice(0, 20)}%00${ticketId.slice(23)}`,
        "' OR 1=1 --",
        'x'.repeat(5000),
      ]) {
        const answer = await fetch(`${h.node.url}/signed/kv/${forged}`).then(text);
        expect([401, 404], `${forged.slice(0, 50)}: ${answer.status}`).toContain(answer.status);
        expect(answer.body).not.toBe('hello from alice');
      }
      expect(await (await fetch(`${h.node.url}/signed/kv/${ticketId}`)).text()).toBe('hello from alice');
    });

    it('ranges out of bounds, inverted, multiple, huge or in another unit', async () => {
      const { ticketId } = (await (await mint({ space: h.alice.space, path: 'docs/readme.txt' })).json()) as { ticketId: string };
      const size = 'hello from alice'.length;
      const cases: [string, number, string?][] = [
        ['bytes=0-0', 206, 'h'],
        [`bytes=${size - 1}-`, 206, 'e'],
        [`bytes=0-${'9'.repeat(30)}`, 206, 'hello from alice'],
        [`bytes=-${'9'.repeat(30)}`, 206, 'hello from alice'],
        [`bytes=${size}-`, 416],
        [`bytes=${size}-${size + 5}`, 416],
        [`bytes=${'9'.repeat(30)}-`, 416],
        ['bytes=-0', 416],
        ['bytes=5-2', 200, 'hello from alice'],
        ['bytes=0-1,3-4', 200, 'hello from alice'],
        ['items=0-1', 200, 'hello from alice'],
        ['bytes=-', 200, 'hello from alice'],
        ['bytes=a-b', 200, 'hello from alice'],
        ['bytes=-1-2', 200, 'hello from alice'],
        [`bytes=${'0-0,'.repeat(2000)}0-0`, 200, 'hello from alice'],
      ];
      for (const [range, status, body] of cases) {
        const answer = await fetch(`${h.node.url}/signed/kv/${ticketId}`, { headers: { range } }).then(text);
        expect(answer.status, range.slice(0, 40)).toBe(status);
        expect(answer.status).toBeLessThan(500);
        if (body !== undefined) expect(answer.body, range.slice(0, 40)).toBe(body);
        if (status === 416) expect(answer.headers.get('content-range')).toBe(`bytes */${size}`);
      }
    });

    it('minting outside the invocation, for another space, or by a stranger is refused', async () => {
      expect((await mint({ space: h.alice.space, path: 'photos/cat.jpg' })).status).toBe(403);
      expect((await mint({ space: h.alice.space, path: 'docs/../photos/cat.jpg' })).status).toBeGreaterThanOrEqual(400);
      expect((await mint({ space: bob.space('default'), path: 'docs/readme.txt' })).status).toBe(403);
      expect((await mint({ space: `${h.alice.space}/kv/docs`, path: 'readme.txt' })).status).toBeGreaterThanOrEqual(400);
      const stranger = ucan(mallory.session, { att: { [h.alice.resource('docs/')]: { 'tinycloud.kv/get': [{}] } }, prf: [] }, h.clock.now);
      expect((await mint({ space: h.alice.space, path: 'docs/readme.txt' }, undefined, stranger)).status).toBe(401);
      // Bob's grant covers docs/ only.
      const asBob = (key: string) => ucan(bob.session, { att: { [h.alice.resource(key)]: { 'tinycloud.kv/get': [{}] } }, prf: [h.bobGrant] }, h.clock.now);
      expect((await mint({ space: h.alice.space, path: 'docs/readme.txt' }, undefined, asBob('docs/readme.txt'))).status).toBe(200);
      expect((await mint({ space: h.alice.space, path: 'photos/cat.jpg' }, undefined, asBob('photos/cat.jpg'))).status).toBe(401);
      expect((await mint({ space: h.alice.space, path: 'photos/cat.jpg' }, undefined, asBob('docs/readme.txt'))).status).toBe(403);
      // A mint token is single use like any other.
      const token = h.alice.token({ [h.alice.resource('docs/')]: { 'tinycloud.kv/get': [{}] } });
      const answers = await Promise.all(Array.from({ length: 10 }, () => mint({ space: h.alice.space, path: 'docs/readme.txt' }, undefined, token).then((r) => r.status)));
      expect(answers.filter((s) => s === 200)).toHaveLength(1);
    });

    it('an expired ticket is refused however it is asked for, and a ticket never outlives 300 s', async () => {
      const short = (await (await mint({ space: h.alice.space, path: 'docs/readme.txt', ttlSeconds: 5 })).json()) as { ticketId: string };
      const long = (await (await mint({ space: h.alice.space, path: 'docs/readme.txt', ttlSeconds: 1e12 })).json()) as { ticketId: string; expiresAt: string };
      expect(Date.parse(long.expiresAt) / 1000 - h.clock.now).toBeLessThanOrEqual(300);
      h.clock.advance(6);
      for (const headers of [{}, { range: 'bytes=0-0' }, { 'if-none-match': '*' }, { 'if-range': 'x', range: 'bytes=0-1' }] as Record<string, string>[]) {
        const answer = await fetch(`${h.node.url}/signed/kv/${short.ticketId}`, { headers }).then(text);
        expectPlainError(answer, 401, /expired/);
      }
      expect((await fetch(`${h.node.url}/signed/kv/${long.ticketId}`)).status).toBe(200);
      h.clock.advance(300);
      expect((await fetch(`${h.node.url}/signed/kv/${long.ticketId}`)).status).toBe(401);
    });
  });

  describe('/invoke across spaces and services', () => {
    let second: KvClient;
    beforeAll(async () => {
      const session = await signIn(h.node, alice, 'second');
      second = new KvClient(h.node, alice, session.space, await cidOfHeader(session.session), h.clock);
      expect((await second.put('docs/readme.txt', 'second space')).status).toBe(200);
    });
    const both = () => [h.alice.sessionCid, second.sessionCid];
    const send = (att: object, body?: string, headers: Record<string, string> = {}, signer = alice) =>
      fetch(`${h.node.url}/invoke`, {
        method: 'POST',
        headers: { authorization: ucan(signer.session, { att: att as never, prf: both() }, h.clock.now), ...headers },
        ...(body !== undefined && { body }),
      }).then(text);

    it('a put in two spaces at once, single or multipart, writes nothing', async () => {
      const att = { [h.alice.resource('cross/x')]: { 'tinycloud.kv/put': [{}] }, [second.resource('cross/x')]: { 'tinycloud.kv/put': [{}] } };
      const single = await send(att, 'both?');
      expectPlainError(single, [400, 501]);
      const form = `--B\r\nContent-Disposition: form-data; name="cross/x"\r\n\r\nboth?\r\n--B--\r\n`;
      const multi = await send(att, form, { 'content-type': 'multipart/form-data; boundary=B' });
      expectPlainError(multi, [400, 501]);
      expect((await h.alice.get('cross/x')).status).toBe(404);
      expect((await second.get('cross/x')).status).toBe(404);
    });

    it("a capability on someone else's space poisons the whole invocation", async () => {
      const att = { [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': [{}] }, [`${bob.space('default')}/kv/secret`]: { 'tinycloud.kv/get': [{}] } };
      expectPlainError(await send(att), 401);
      const put = { [h.alice.resource('cross/y')]: { 'tinycloud.kv/put': [{}] }, [`${mallory.space('default')}/kv/y`]: { 'tinycloud.kv/put': [{}] } };
      expectPlainError(await send(put, 'x'), 401);
      expect((await h.alice.get('cross/y')).status).toBe(404);
    });

    it('SQL on two spaces, or on two databases, is ambiguous (400) and runs nothing', async () => {
      const twoSpaces = { [h.notes]: { 'tinycloud.sql/write': [{}] }, [`${second.space}/sql/notes`]: { 'tinycloud.sql/write': [{}] } };
      const body = JSON.stringify({ action: 'execute', sql: 'DELETE FROM notes' });
      expectPlainError(await send(twoSpaces, body, JSON_TYPE), [400, 401]);
      const twoDbs = { [h.notes]: { 'tinycloud.sql/write': [{}] }, [`${h.alice.space}/sql/other`]: { 'tinycloud.sql/write': [{}] } };
      expectPlainError(await send(twoDbs, body, JSON_TYPE), 400, /Ambiguous/i);
    });

    it('KV and SQL in one invocation is refused (501) and runs neither', async () => {
      const att = { [h.notes]: { 'tinycloud.sql/write': [{}] }, [h.alice.resource('mixed/kv')]: { 'tinycloud.kv/put': [{}] } };
      const answer = await send(att, JSON.stringify({ action: 'execute', sql: "INSERT INTO notes (title) VALUES ('mixed')" }), JSON_TYPE);
      expectPlainError(answer, 501, /cannot combine the kv and sql services/);
      expect((await h.alice.get('mixed/kv')).status).toBe(404);
      const kvAndCaps = { [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': [{}] }, [`${h.alice.space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] } };
      expect((await send(kvAndCaps)).status).toBeLessThan(500);
      const exportAndKv = { [`${h.alice.space}/space`]: { 'tinycloud.space/export': [{}] }, [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': [{}] } };
      expect((await send(exportAndKv)).status).toBeGreaterThanOrEqual(400);
      const importInto = { [`${second.space}/space`]: { 'tinycloud.space/import': [{}] } };
      expect((await send(importInto, 'not a car')).status).toBeGreaterThanOrEqual(400);
    });

    it('capabilities/read of two spaces, or of a stranger\'s, does not leak the stranger', async () => {
      const att = { [`${h.alice.space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] }, [`${bob.space('default')}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] } };
      const answer = await send(att);
      expect(answer.status).toBe(401);
      expect(answer.body).not.toContain(bob.pkh);
    });
  });

  /** Well-signed invocations that carry nonsense: odd capability sets, facts, limits, cursors, preconditions. */
  describe('invocations carrying nonsense', () => {
    const send = (att: object, options: { headers?: Record<string, string>; body?: string; facts?: Record<string, unknown>[]; exp?: number; nbf?: number } = {}) =>
      fetch(`${h.node.url}/invoke`, {
        method: 'POST',
        headers: {
          authorization: ucan(
            alice.session,
            { att: att as never, prf: [h.alice.sessionCid], ...(options.facts && { facts: options.facts }), ...(options.exp !== undefined && { exp: options.exp }), ...(options.nbf !== undefined && { nbf: options.nbf }) },
            h.clock.now,
          ),
          ...options.headers,
        },
        ...(options.body !== undefined && { body: options.body }),
      }).then(text);
    const kv = (ability: string, key: string) => ({ [h.alice.resource(key)]: { [ability]: [{}] } });

    it('capability sets that are empty, unknown or malformed', async () => {
      const cases: object[] = [
        {},
        { [h.alice.resource('docs/readme.txt')]: {} },
        { [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/frobnicate': [{}] } },
        { [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': [] } },
        { [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': [null] } },
        { [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': 'yes' } },
        { [h.alice.resource('docs/readme.txt')]: { '': [{}] } },
        { [`${h.alice.space}/nosuchservice/x`]: { 'tinycloud.nosuch/get': [{}] } },
        { [`${h.alice.space}/kv`]: { 'tinycloud.kv/get': [{}] } },
        { [h.alice.space]: { 'tinycloud.kv/get': [{}] } },
        { 'urn:cid:zzz': { 'tinycloud.kv/get': [{}] } },
        { 'https://evil.example/x': { 'tinycloud.kv/get': [{}] } },
        { '': { 'tinycloud.kv/get': [{}] } },
        Object.fromEntries(Array.from({ length: 120 }, (_, i) => [h.alice.resource(`many/${i}`), { 'tinycloud.kv/get': [{}] }])),
        { [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': [{}], 'tinycloud.kv/put': [{}], 'tinycloud.kv/del': [{}] } },
      ];
      for (const att of cases) {
        const answer = await send(att);
        // 501 is the protocol's answer to one invocation asking for several KV operations (WIRE §4).
        if (answer.status !== 501) expect(answer.status, `${JSON.stringify(att).slice(0, 120)}: ${answer.body}`).toBeLessThan(500);
        if (answer.status >= 400) expectPlainError(answer, answer.status);
      }
    });

    it('time windows: expired, not yet valid, too long, absurd numbers', async () => {
      for (const [exp, nbf, status] of [
        [h.clock.now - 1, undefined, 401],
        [h.clock.now + 100, h.clock.now + 50, 401],
        [h.clock.now + 10_000, undefined, 401],
        [1e300, undefined, 401],
        [-1, undefined, 401],
        [h.clock.now + 60, -1e300, 401],
      ] as const) {
        const answer = await send(kv('tinycloud.kv/get', 'docs/readme.txt'), { exp, ...(nbf !== undefined && { nbf }) });
        expect(answer.status, `exp ${exp} nbf ${nbf}: ${answer.body}`).toBe(status);
        if (status >= 400) expectPlainError(answer, status);
      }
    });

    it('list and versions limits and cursors of every wrong kind', async () => {
      const limits = ['0', '-1', '1001', '1e3', 'abc', '', '1.5', '9'.repeat(40), '10, 20', ' 5 '];
      for (const limit of limits) {
        const answer = await send(kv('tinycloud.kv/list', 'docs/'), { headers: { 'x-tinycloud-limit': limit } });
        expect(answer.status, `limit ${JSON.stringify(limit)}: ${answer.body}`).toBeLessThan(500);
        if (answer.status >= 400) expectPlainError(answer, 400);
      }
      const page = await send(kv('tinycloud.kv/list', ''), { headers: { 'x-tinycloud-limit': '1' } });
      const cursor = page.headers.get('x-tinycloud-next-cursor')!;
      expect(cursor).toBeTruthy();
      const cursors = [
        'garbage',
        '',
        cursor.slice(0, -2),
        `${cursor}x`,
        Buffer.from('{"payload":{},"mac":"00"}').toString('base64url'),
        Buffer.from('null').toString('base64url'),
        Buffer.from('[]').toString('base64url'),
        'A'.repeat(6000),
      ];
      for (const c of cursors) {
        const answer = await send(kv('tinycloud.kv/list', ''), { headers: { 'x-tinycloud-limit': '1', 'x-tinycloud-cursor': c } });
        expect(answer.status, `cursor ${c.slice(0, 30)}: ${answer.body}`).toBeLessThan(500);
        expect(answer.status).toBeGreaterThanOrEqual(400);
      }
      // The cursor of one prefix or limit does not open another.
      for (const [prefix, limit] of [['docs/', '1'], ['', '2']] as const) {
        const answer = await send(kv('tinycloud.kv/list', prefix), { headers: { 'x-tinycloud-limit': limit, 'x-tinycloud-cursor': cursor } });
        expectPlainError(answer, 400);
      }
      for (const c of cursors) {
        const answer = await send(kv('tinycloud.kv/versions', 'docs/readme.txt'), { headers: { 'x-tinycloud-limit': '1', 'x-tinycloud-cursor': c } });
        expect(answer.status, `versions cursor ${c.slice(0, 30)}: ${answer.body}`).toBeLessThan(500);
      }
    });

    it('preconditions, response caps and version facts of every wrong kind', async () => {
      for (const [name, value] of [
        ['if-match', 'garbage'],
        ['if-match', '"unterminated'],
        ['if-match', `${'"x",'.repeat(2000)}"y"`],
        ['if-none-match', 'W/'],
        ['if-none-match', ','],
        ['x-tinycloud-max-response-bytes', 'abc'],
        ['x-tinycloud-max-response-bytes', '-1'],
        ['x-tinycloud-max-response-bytes', '1e400'],
        ['x-tinycloud-max-response-bytes', '9'.repeat(400)],
      ]) {
        const answer = await send(kv('tinycloud.kv/get', 'docs/readme.txt'), { headers: { [name!]: value! } });
        expect(answer.status, `${name}: ${value!.slice(0, 30)} → ${answer.body}`).toBeLessThan(500);
        if (answer.status >= 400) expectPlainError(answer, answer.status);
      }
      for (const facts of [[{ kvVersion: 5 }], [{ kvVersion: 'garbage' }], [{ kvVersion: null }], [{ kvVersion: ['a'] }], [{ kvVersion: 'bafkr4i' + 'a'.repeat(52) }], [null], ['string'], [{ kvVersion: 'x' }, { kvVersion: 'y' }]]) {
        const answer = await send(kv('tinycloud.kv/get', 'docs/readme.txt'), { facts: facts as never });
        expect(answer.status, `${JSON.stringify(facts)} → ${answer.body}`).toBeLessThan(500);
      }
    });

    it('capabilities read with hostile filters', async () => {
      const caps = { [`${h.alice.space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] } };
      for (const params of [
        null,
        'list',
        { type: 'bogus' },
        { type: 'list', filters: 'x' },
        { type: 'list', filters: { direction: 5, path: ['x'], actions: 'y' } },
        { type: 'list', filters: { path: '%ff/../..' } },
        { type: 'chain' },
        { type: 'chain', delegation_cid: 'not-a-cid' },
        { type: 'chain', delegation_cid: 5 },
      ]) {
        const answer = await send(caps, { facts: [{ capabilitiesReadParams: params }] });
        expect(answer.status, `${JSON.stringify(params)} → ${answer.body.slice(0, 200)}`).toBeLessThan(500);
        if (answer.status >= 400) expectPlainError(answer, answer.status);
      }
    });

    it('SQL caveat facts of every wrong shape', async () => {
      const body = JSON.stringify({ action: 'query', sql: 'SELECT title FROM notes' });
      for (const caveats of [null, 'x', 5, [], { tables: 5 }, { tables: [5] }, { columns: 'title' }, { readOnly: 'yes' }, { statements: 'x' }, { statements: [null] }, { statements: [{ name: 5, sql: 6 }] }, { statements: [{ name: 'a', sql: 'DROP TABLE notes' }] }, { nope: 1 }, { __proto__: { tables: ['x'] } }]) {
        const answer = await send({ [h.notes]: { 'tinycloud.sql/read': [{}] } }, { facts: [{ sqlCaveats: caveats }], body, headers: { 'content-type': 'application/json' } });
        expect(answer.status, `${JSON.stringify(caveats)} → ${answer.body.slice(0, 200)}`).toBeLessThan(500);
        if (answer.status >= 400) expectPlainError(answer, answer.status);
      }
      for (const caveat of [null, 'x', 5, { tables: 5 }, { statements: [null] }]) {
        const answer = await send({ [h.notes]: { 'tinycloud.sql/read': [caveat] } }, { body, headers: { 'content-type': 'application/json' } });
        expect(answer.status, `caveat ${JSON.stringify(caveat)} → ${answer.body.slice(0, 200)}`).toBeLessThan(500);
      }
    });

    it('a 500 says nothing of the node: no space id, digest or path', async () => {
      const value = `lost block ${Date.now()}`;
      expect((await h.alice.put('lost/block', value)).status).toBe(200);
      const files: string[] = [];
      const walk = (dir: string): void => {
        for (const name of readdirSync(dir)) {
          const full = path.join(dir, name);
          if (statSync(full).isDirectory()) walk(full);
          else if (statSync(full).size === value.length && readFileSync(full, 'utf8') === value) files.push(full);
        }
      };
      walk(h.node.dataDir);
      expect(files).toHaveLength(1);
      rmSync(files[0]!);
      const answer = await send(kv('tinycloud.kv/get', 'lost/block'));
      expect([answer.status, answer.body]).toEqual([500, 'Internal Server Error']);
      expect((await fetch(`${h.node.url}/healthz`)).status).toBe(200);
    });
  });

  it("alice's data is intact afterwards", async () => {
    await expectAliceIntact(h, { 'admin/after': 'still writable' });
  });
});
