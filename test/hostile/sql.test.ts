import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bob, expectAliceIntact, expectPlainError, mallory, post, startHostileNode, ucan, type Hostile } from './support.js';

const JSON_TYPE = { 'content-type': 'application/json' };

/** Statements meant to escape the database, wedge the node or spill its internals. */
describe('hostile SQL', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostileNode();
  });
  afterAll(async () => h?.destroy());

  const run = async (ability: string, body: unknown, resource?: string) => {
    const token = resource ? h.alice.token({ [resource]: { [ability]: [{}] } }) : h.sqlToken(ability);
    const answer = await post(h.node, '/invoke', token, JSON.stringify(body), JSON_TYPE);
    return { status: answer.status, headers: answer.headers, body: answer.text };
  };
  const noInternals = (text: string) => {
    expect(text).not.toContain(h.node.dataDir);
    expect(text).not.toMatch(/\/tmp\/|node_modules|\.ts:\d+|\bat [A-Za-z.]+ \(/);
  };

  it('escapes from the database file are refused for everyone, the owner included', async () => {
    for (const sql of [
      `ATTACH DATABASE '${h.node.dataDir}/caps.db' AS meta`,
      "ATTACH DATABASE ':memory:' AS m",
      "ATTACH DATABASE 'file:/etc/passwd?mode=ro' AS p",
      'DETACH DATABASE main',
      "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so')",
      "VACUUM INTO '/tmp/stolen.db'",
      'PRAGMA writable_schema = 1',
      'PRAGMA database_list',
      'PRAGMA journal_mode = OFF',
      'PRAGMA query_only = 1',
      "SELECT * FROM pragma_database_list",
      "SELECT fts3_tokenizer('simple')",
      'BEGIN',
      'COMMIT',
      'ROLLBACK',
      'SAVEPOINT s',
      'CREATE TEMP TABLE t (x)',
      'CREATE TEMP TRIGGER tr AFTER INSERT ON notes BEGIN DELETE FROM notes; END',
      "SELECT 1; DROP TABLE notes",
      "SELECT 1 -- \n; DELETE FROM notes",
      'EXPLAIN DELETE FROM notes',
      "SELECT writefile('/tmp/x', 'y')",
      "SELECT readfile('/etc/passwd')",
    ]) {
      for (const ability of ['tinycloud.sql/*', 'tinycloud.sql/admin']) {
        const answer = await run(ability, { action: 'execute', sql });
        expect([400, 403], `${ability} ${sql}: ${answer.status} ${answer.body}`).toContain(answer.status);
        expectPlainError(answer, [400, 403]);
        noInternals(answer.body);
      }
    }
  });

  it('parser bombs and giant values: a 4xx, and the node keeps answering', async () => {
    const bodies = [
      { action: 'query', sql: `SELECT ${'('.repeat(50_000)}1${')'.repeat(50_000)}` },
      { action: 'query', sql: `SELECT ${Array.from({ length: 40_000 }, () => '1').join('+')}` },
      { action: 'query', sql: `SELECT 1 WHERE 1 IN (${Array.from({ length: 20_000 }, (_, i) => i).join(',')})` },
      { action: 'query', sql: 'SELECT ?', params: Array.from({ length: 40_000 }, () => 1) },
      { action: 'query', sql: `SELECT ${Array.from({ length: 40_000 }, (_, i) => `${i} AS c${i}`).join(',')}` },
      { action: 'query', sql: 'SELECT zeroblob(1000000000)' },
      { action: 'query', sql: "SELECT randomblob(20000000)" },
      { action: 'query', sql: "SELECT printf('%.*c', 100000000, 'x')" },
      { action: 'query', sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c', maxBytes: 200_000 },
      { action: 'query', sql: 'SELECT x FROM (SELECT 1 AS x)', maxRows: 1, maxBytes: 1 },
      { action: 'query', sql: 'SELECT char(0), char(55296), x\'ff\'' },
      { action: 'query', sql: "SELECT 9223372036854775807, -9223372036854775808, 1e308 * 10, 0.0 / 0" },
    ];
    for (const body of bodies) {
      const started = Date.now();
      const answer = await run('tinycloud.sql/read', body);
      expect(answer.status, `${JSON.stringify(body).slice(0, 80)}: ${answer.body.slice(0, 200)}`).toBeLessThan(500);
      if (answer.status >= 400) expectPlainError(answer, answer.status);
      noInternals(answer.body);
      expect(Date.now() - started, JSON.stringify(body).slice(0, 80)).toBeLessThan(10_000);
    }
    expect((await fetch(`${h.node.url}/healthz`)).status).toBe(200);
  });

  it('a blob past the response cap is a 413 before it is encoded (not a V8 string-length error seconds later)', async () => {
    const started = Date.now();
    const answer = await run('tinycloud.sql/read', { action: 'query', sql: 'SELECT zeroblob(300000000)' });
    expectPlainError(answer, 413, /Response too large/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('database names from the resource path cannot reach other files', async () => {
    for (const db of ['..', '../../caps', '..%2F..%2Fcaps', '%2e%2e', 'a/../../b', `${'d'.repeat(2000)}`, '%00', 'caps.db', 'notes/../notes', '.notes']) {
      const resource = `${h.alice.space}/sql/${db}`;
      const write = await run('tinycloud.sql/write', { action: 'execute', sql: 'CREATE TABLE IF NOT EXISTS evil (x)' }, resource);
      expect(write.status, `${db}: ${write.body}`).toBeLessThan(500);
      noInternals(write.body);
      const exported = await run('tinycloud.sql/read', { action: 'export' }, resource);
      expect(exported.status, `${db}: export`).toBeLessThan(500);
    }
    // The notes database itself has no table called evil (only `notes/../notes` could have meant it).
    const tables = await run('tinycloud.sql/read', { action: 'query', sql: "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name" });
    expect(JSON.parse(tables.body).rows).toEqual([['notes']]);
  });

  it('strangers and KV-only delegates cannot touch the database', async () => {
    const asMallory = ucan(mallory.session, { att: { [h.notes]: { 'tinycloud.sql/*': [{}] } }, prf: [] }, h.clock.now);
    const m = await post(h.node, '/invoke', asMallory, JSON.stringify({ action: 'execute', sql: 'DROP TABLE notes' }), JSON_TYPE);
    expectPlainError({ status: m.status, headers: m.headers, body: m.text }, 401);
    const forged = ucan(mallory.session, { att: { [h.notes]: { 'tinycloud.sql/*': [{}] } }, prf: [h.alice.sessionCid] }, h.clock.now);
    const f = await post(h.node, '/invoke', forged, JSON.stringify({ action: 'execute', sql: 'DROP TABLE notes' }), JSON_TYPE);
    expectPlainError({ status: f.status, headers: f.headers, body: f.text }, 401);
    const asBob = ucan(bob.session, { att: { [h.notes]: { 'tinycloud.sql/read': [{}] } }, prf: [h.bobGrant] }, h.clock.now);
    const b = await post(h.node, '/invoke', asBob, JSON.stringify({ action: 'query', sql: 'SELECT * FROM notes' }), JSON_TYPE);
    expectPlainError({ status: b.status, headers: b.headers, body: b.text }, 401);
  });

  it('a failed batch leaves nothing behind', async () => {
    const answer = await run('tinycloud.sql/write', {
      action: 'batch',
      statements: [{ sql: "INSERT INTO notes (title) VALUES ('partial')" }, { sql: 'DELETE FROM notes' }, { sql: 'SELECT * FROM nowhere' }],
    });
    expectPlainError(answer, 400);
    noInternals(answer.body);
  });

  it("alice's data is intact afterwards", async () => {
    await expectAliceIntact(h);
  });
});
