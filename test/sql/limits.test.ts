import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/core/config/load.js';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { alice, bob, invokeSql, sqlSession, TestClock, type SqlSession } from './http-support.js';
import { ALL, openCoreSql, READ, SPACE, WRITE, type Answer, type CoreSql } from './support.js';

const ENDLESS = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
const ENDLESS_INSERT = 'INSERT INTO t (x) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c';

const timed = async (work: Promise<Answer>): Promise<{ answer: Answer; ms: number }> => {
  const started = performance.now();
  const answer = await work;
  return { answer, ms: performance.now() - started };
};

/** Statements that never end are stopped by the time budget; the executor that ran them is replaced. */
describe('SQL time limit (storage.sql.timeout_secs)', () => {
  let db: CoreSql;
  beforeAll(async () => {
    db = await openCoreSql({ timeoutMs: 1500, executors: 3 });
    await db.call(ALL, { action: 'execute', sql: 'CREATE TABLE t (x INTEGER)' });
  });
  afterAll(async () => db?.close());

  it('an endless query answers 408 naming the limit, and the next query is served by a fresh executor', async () => {
    const { answer, ms } = await timed(db.call(READ, { action: 'query', sql: ENDLESS }));
    expect(answer).toMatchObject({ status: 408, message: expect.stringMatching(/time limit of 1\.5 s/) });
    expect(ms).toBeGreaterThanOrEqual(1400);
    expect(ms).toBeLessThan(5000);
    expect(await db.call(READ, { action: 'query', sql: 'SELECT count(*) FROM t' })).toMatchObject({ status: 200, json: { rows: [[0]] } });
    expect(db.pool.executors.processCount).toBeGreaterThanOrEqual(1);
  });

  it('a holder who could write is stopped the same way, on the read path and on the write path', async () => {
    expect((await db.call(WRITE, { action: 'query', sql: ENDLESS })).status).toBe(408);
    expect((await db.call(WRITE, { action: 'batch', statements: [{ sql: 'SELECT 1' }, { sql: ENDLESS }] })).status).toBe(408);
  });

  it('a write transaction killed half way leaves no row, no event, an intact file and a free writer lock', async () => {
    const events = async () => (await db.metadata.db.selectFrom('event_order').selectAll().where('space', '=', SPACE).execute()).length;
    const before = await events();
    const killed = await db.call(WRITE, { action: 'batch', statements: [{ sql: 'INSERT INTO t (x) VALUES (-1)' }, { sql: ENDLESS_INSERT }] });
    expect(killed.status).toBe(408);
    const alone = await db.call(WRITE, { action: 'execute', sql: ENDLESS_INSERT });
    expect(alone.status).toBe(408);
    expect(await db.call(READ, { action: 'query', sql: 'SELECT count(*) FROM t' })).toMatchObject({ json: { rows: [[0]] } });
    expect(await events()).toBe(before);

    // The next writer gets the lock at once and commits; SQLite recovered the WAL the killed process left.
    expect(await db.call(WRITE, { action: 'execute', sql: 'INSERT INTO t (x) VALUES (1)' })).toMatchObject({ status: 200, json: { changes: 1 } });
    expect(await events()).toBe(before + 1);
    const file = new Database(db.pool.file(SPACE, 'default'), { readonly: true });
    expect(file.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(file.prepare('SELECT x FROM t').pluck().all()).toEqual([1]);
    file.close();
  });

  it('a write that would have created the database leaves no file when it is killed', async () => {
    const answer = await db.call(WRITE, { action: 'execute', schema: ['CREATE TABLE t (x)'], sql: ENDLESS_INSERT }, [], 'fresh');
    expect(answer.status).toBe(408);
    expect(existsSync(db.pool.file(SPACE, 'fresh'))).toBe(false);
    expect(await db.call(READ, { action: 'query', sql: 'SELECT count(*) FROM sqlite_schema' }, [], 'fresh')).toMatchObject({ json: { rows: [[0]] } });
    expect((await db.call(WRITE, { action: 'execute', sql: 'CREATE TABLE u (y)' }, [], 'fresh')).status).toBe(200);
    expect(await db.call(READ, { action: 'query', sql: 'SELECT name FROM sqlite_schema' }, [], 'fresh')).toMatchObject({ json: { rows: [['u']] } });
  });

  it('while one statement runs until its limit, other databases and other writers are served at once', async () => {
    // Executors start on demand: have two running before the clock starts.
    await Promise.all([db.call(READ, { action: 'query', sql: 'SELECT 1' }, [], 'a'), db.call(READ, { action: 'query', sql: 'SELECT 1' }, [], 'b')]);
    const endless = timed(db.call(READ, { action: 'query', sql: ENDLESS }));
    await new Promise((r) => setTimeout(r, 200));
    const other = await timed(db.call(WRITE, { action: 'execute', schema: ['CREATE TABLE IF NOT EXISTS o (x)'], sql: 'INSERT INTO o VALUES (1)' }, [], 'other'));
    expect(other.answer.status).toBe(200);
    expect(other.ms).toBeLessThan(1000);
    const read = await timed(db.call(READ, { action: 'query', sql: 'SELECT count(*) FROM t' }));
    expect(read.answer.status).toBe(200);
    expect(read.ms).toBeLessThan(1000);
    expect((await endless).answer.status).toBe(408);
  });
});

/** The whole node: one space's endless statement holds up neither KV nor another space's SQL. */
describe('SQL time limit over HTTP', () => {
  const clock = new TestClock();
  let node: TestNode;
  let mine: SqlSession;
  let theirs: SqlSession;
  const as = (who: typeof alice, session: SqlSession, resource: string, ability: string, body: unknown) =>
    invokeSql(node, who, resource, ability, body, { prf: [session.sessionCid], now: clock.now });

  beforeAll(async () => {
    node = await startTestNode({ clock: clock.read, env: { TINYCLOUD_STORAGE_SQL_TIMEOUT_SECS: '2' } });
    mine = await sqlSession(node, alice, clock.now);
    theirs = await sqlSession(node, bob, clock.now);
    const put = await as(alice, mine, `${mine.space}/kv/greeting`, 'tinycloud.kv/put', 'hello');
    expect(put.status, put.text).toBe(200);
  });
  afterAll(async () => node?.destroy());

  it('answers KV and the other space at once, then 408 naming the limit; the space is served again after', async () => {
    const select = (who: typeof alice, session: SqlSession, sql: string) => as(who, session, `${session.space}/sql/db`, 'tinycloud.sql/read', { action: 'query', sql });
    // Executors start on demand: have two running before the clock starts.
    await Promise.all([select(alice, mine, 'SELECT 1'), select(bob, theirs, 'SELECT 1')]);

    const started = performance.now();
    const endless = select(alice, mine, ENDLESS).then((answer) => ({ answer, ms: performance.now() - started }));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    const [kv, other] = await Promise.all([as(alice, mine, `${mine.space}/kv/greeting`, 'tinycloud.kv/get', ''), select(bob, theirs, 'SELECT 42')]);
    const elapsed = performance.now() - t0;
    expect(kv.status).toBe(200);
    expect(kv.text).toBe('hello');
    expect(other.status, other.text).toBe(200);
    expect(other.json()).toMatchObject({ rows: [[42]] });
    expect(elapsed).toBeLessThan(1000);

    const stopped = await endless;
    expect(stopped.answer.status).toBe(408);
    expect(stopped.answer.text).toMatch(/time limit of 2 s \(storage\.sql\.timeout_secs\)/);
    expect(stopped.ms).toBeGreaterThanOrEqual(1900);
    expect((await select(alice, mine, 'SELECT 7')).json()).toMatchObject({ rows: [[7]] });
  });
});

/** A result is encoded row by row and cut at the cap: an endless or huge one never builds up in memory. */
describe('SQL answer size while streaming', () => {
  let db: CoreSql;
  beforeAll(async () => {
    db = await openCoreSql({ timeoutMs: 20_000 });
  });
  afterAll(async () => db?.close());

  const endlessRows = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x, randomblob(100) FROM c';

  it('maxRows stops an endless result after that many rows', async () => {
    const { answer, ms } = await timed(db.call(READ, { action: 'query', sql: endlessRows, maxRows: 5 }));
    expect(answer).toMatchObject({ status: 200, json: { rowCount: 5 } });
    expect(ms).toBeLessThan(5000);
  });

  it('maxBytes and the 10 MiB default stop an endless result with 413 long before the time limit', async () => {
    const small = await timed(db.call(READ, { action: 'query', sql: endlessRows, maxBytes: 64 * 1024 }));
    expect(small.answer).toMatchObject({ status: 413, message: expect.stringMatching(/Response too large: more than 65536 bytes/) });
    const big = await timed(db.call(READ, { action: 'query', sql: endlessRows }));
    expect(big.answer).toMatchObject({ status: 413, message: expect.stringMatching(/more than 10485760 bytes/) });
    expect(big.ms).toBeLessThan(15_000);
  });

  it('a single value larger than the cap is refused before it is encoded', async () => {
    const blob = await timed(db.call(READ, { action: 'query', sql: 'SELECT zeroblob(50000000)' }));
    expect(blob.answer.status).toBe(413);
    const text = await db.call(READ, { action: 'query', sql: "SELECT printf('%.*c', 20000000, 'x')" });
    expect(text.status).toBe(413);
  });
});

describe('storage.sql.timeout_secs', () => {
  it('defaults to 10 s, takes whole seconds from 1 to 3600, and names the key when wrong', () => {
    const flags = { 'storage.datadir': '/tmp/tinycloud-unused', 'keys.secret': 'A'.repeat(43) };
    expect(loadConfig({ env: {}, flags }).storage.sqlTimeoutSecs).toBe(10);
    expect(loadConfig({ env: { TINYCLOUD_STORAGE_SQL_TIMEOUT_SECS: '3' }, flags }).storage.sqlTimeoutSecs).toBe(3);
    for (const bad of ['0', '1.5', 'soon', '3601']) {
      expect(() => loadConfig({ env: { TINYCLOUD_STORAGE_SQL_TIMEOUT_SECS: bad }, flags })).toThrow(ConfigError);
      expect(() => loadConfig({ env: { TINYCLOUD_STORAGE_SQL_TIMEOUT_SECS: bad }, flags })).toThrow(/storage\.sql\.timeout_secs/);
    }
  });
});
