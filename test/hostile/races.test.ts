import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacaoHeader, siweFields } from '../auth-engine/support.js';
import { alice, bob, expectAliceIntact, startHostileNode, ucan, type Hostile } from './support.js';

const JSON_TYPE = { 'content-type': 'application/json' };

/** Concurrency on one key, one space, one token: last writer wins, epochs stay a chain, a token works once. */
describe('hostile races', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostileNode();
  });
  afterAll(async () => h?.destroy());

  const send = (authorization: string, body?: string, headers: Record<string, string> = {}) =>
    fetch(`${h.node.url}/invoke`, { method: 'POST', headers: { authorization, ...headers }, ...(body !== undefined && { body }) }).then(async (r) => ({
      status: r.status,
      text: await r.text(),
    }));

  /** Epoch sequence numbers of alice's space: unique, and 0..n-1 with no gap. */
  async function expectEpochChain(): Promise<void> {
    const rows = await h.node.node.metadata.db.selectFrom('epoch').select('seq').where('space', '=', h.alice.space).orderBy('seq').execute();
    const seqs = rows.map((r) => Number(r.seq));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
  }

  it('one invocation fired 20 times at once is served exactly once (KV get, KV put, SQL write, space info)', async () => {
    const tokens = [
      [h.alice.token({ [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': [{}] } }), undefined, {}],
      [h.alice.token({ [h.alice.resource('race/replayed')]: { 'tinycloud.kv/put': [{}] } }), 'once', {}],
      [h.sqlToken('tinycloud.sql/write'), JSON.stringify({ action: 'execute', sql: "INSERT INTO races (v) VALUES ('once')" }), JSON_TYPE],
      [h.alice.token({ [`${h.alice.space}/space`]: { 'tinycloud.space/info': [{}] } }), undefined, {}],
    ] as const;
    const setup = await send(h.sqlToken('tinycloud.sql/write'), JSON.stringify({ action: 'execute', sql: 'CREATE TABLE races (v TEXT)' }), JSON_TYPE);
    expect(setup.status).toBe(200);
    for (const [token, body, headers] of tokens) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => send(token, body, headers)));
      const ok = answers.filter((a) => a.status < 300);
      expect(ok, JSON.stringify(answers.map((a) => a.status))).toHaveLength(1);
      for (const a of answers.filter((x) => x.status >= 300)) expect([a.status, a.text]).toEqual([409, 'duplicate invocation']);
    }
    const count = await send(h.sqlToken('tinycloud.sql/read'), JSON.stringify({ action: 'query', sql: 'SELECT count(*) FROM races' }), JSON_TYPE);
    expect(JSON.parse(count.text)).toMatchObject({ rows: [[1]] });
    expect((await h.alice.kv('tinycloud.kv/versions', 'race/replayed')).status).toBe(200);
    await expectEpochChain();
  });

  it('one token raced across routes (/invoke and /signed/kv) is still used once', async () => {
    const token = h.alice.token({ [h.alice.resource('docs/')]: { 'tinycloud.kv/get': [{}] } });
    const body = JSON.stringify({ space: h.alice.space, path: 'docs/readme.txt' });
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        i % 2 === 0
          ? fetch(`${h.node.url}/signed/kv`, { method: 'POST', headers: { authorization: token, ...JSON_TYPE }, body }).then((r) => r.status)
          : fetch(`${h.node.url}/invoke`, { method: 'POST', headers: { authorization: token } }).then((r) => r.status),
      ),
    );
    // The one use is served (200 for a mint, 404 for the prefix read as a key); every other is a replay.
    expect(answers.filter((s) => s === 409), JSON.stringify(answers)).toHaveLength(9);
    expect(answers.filter((s) => s !== 409)[0]).toBeLessThan(500);
  });

  it('30 concurrent writers on one key: all answered, one version each, the live value is the last in epoch order', async () => {
    const values = Array.from({ length: 30 }, (_, i) => `writer ${i}`);
    const answers = await Promise.all(values.map((v) => h.alice.put('race/key', v)));
    expect(answers.map((a) => a.status)).toEqual(values.map(() => 200));
    const versions = (await (await h.alice.kv('tinycloud.kv/versions', 'race/key')).json()) as { version: string; size: number }[];
    expect(versions).toHaveLength(30);
    const live = await h.alice.get('race/key');
    expect(live.headers.get('x-tinycloud-version')).toBe(versions[versions.length - 1]!.version);
    expect(values).toContain(await live.text());
    await expectEpochChain();
  });

  it('writers, deleters and SQL writers on one space at once: epochs stay one gapless chain', async () => {
    const work = [
      ...Array.from({ length: 15 }, (_, i) => h.alice.put(`race/many/${i}`, `v${i}`)),
      ...Array.from({ length: 5 }, () => h.alice.kv('tinycloud.kv/del', 'race/key')),
      ...Array.from({ length: 10 }, (_, i) =>
        fetch(`${h.node.url}/invoke`, {
          method: 'POST',
          headers: { authorization: h.sqlToken('tinycloud.sql/write'), ...JSON_TYPE },
          body: JSON.stringify({ action: 'execute', sql: 'INSERT INTO races (v) VALUES (?)', params: [`sql ${i}`] }),
        }),
      ),
    ];
    const statuses = (await Promise.all(work)).map((r) => r.status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    await expectEpochChain();
    expect((await h.alice.get('race/key')).status).toBe(404);
  });

  it('the same delegation posted 20 times at once: one epoch, all 200', async () => {
    const before = await h.node.node.metadata.db.selectFrom('epoch').select((e) => e.fn.countAll().as('n')).where('space', '=', h.alice.space).executeTakeFirstOrThrow();
    const grant = ucan(
      alice.session,
      { att: { [h.alice.resource('race/')]: { 'tinycloud.kv/get': [{}] } }, prf: [h.alice.sessionCid], audience: bob.sessionDid, exp: h.clock.now + 600 },
      h.clock.now,
    );
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => fetch(`${h.node.url}/delegate`, { method: 'POST', headers: { authorization: grant } }).then((r) => r.status)),
    );
    expect(answers).toEqual(answers.map(() => 200));
    const after = await h.node.node.metadata.db.selectFrom('epoch').select((e) => e.fn.countAll().as('n')).where('space', '=', h.alice.space).executeTakeFirstOrThrow();
    expect(Number(after.n) - Number(before.n)).toBe(1);
    await expectEpochChain();
  });

  it('a new space hosted 10 times at once by the same owner exists once', async () => {
    const space = alice.space('racy');
    const peer = await (await fetch(`${h.node.url}/peer/generate/${encodeURIComponent(space)}`)).text();
    const hosts = Array.from({ length: 10 }, () =>
      cacaoHeader(siweFields(alice, { att: { [`${space}/space`]: { 'tinycloud.space/host': [{}] } }, audience: peer, expirationTime: null }), alice),
    );
    const answers = await Promise.all(hosts.map((header) => fetch(`${h.node.url}/delegate`, { method: 'POST', headers: { authorization: header } }).then((r) => r.status)));
    expect(answers).toEqual(answers.map(() => 200));
    const rows = await h.node.node.metadata.db.selectFrom('epoch').select('seq').where('space', '=', space).orderBy('seq').execute();
    expect(rows.map((r) => Number(r.seq))).toEqual(rows.map((_, i) => i));
  });

  it("alice's data is intact afterwards", async () => {
    await expectAliceIntact(h);
  });
});
