import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alice, expectAliceIntact, expectPlainError, startHostileNode, ucan, type Hostile } from './support.js';

const text = async (r: Response) => ({ status: r.status, headers: r.headers, body: await r.text() });

/** Well-signed invocations that carry nonsense: odd capability sets, facts, limits, cursors, preconditions. */
describe('hostile invocations', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostileNode();
  });
  afterAll(async () => h?.destroy());

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

  it("alice's data is intact afterwards", async () => {
    await expectAliceIntact(h);
  });
});
