import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readVectorText } from '../support/vectors.js';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { alice, bob, delegateSql, invokeSql, invokeSqlRaw, mallory, sqlSession, TestClock, type SqlSession } from './http-support.js';

const W = 'tinycloud.sql/write';
const R = 'tinycloud.sql/read';

/** The SQL service over real HTTP: alice owns the space, bob holds what she delegates, mallory holds nothing. */
describe('SQL over /invoke', () => {
  const clock = new TestClock();
  let node: TestNode;
  let session: SqlSession;
  let notes: string;

  const asAlice = (ability: string, body: unknown, database = notes) =>
    invokeSql(node, alice, database, ability, body, { prf: [session.sessionCid], now: clock.now });

  beforeAll(async () => {
    node = await startTestNode({ clock: clock.read });
    session = await sqlSession(node, alice, clock.now);
    notes = `${session.space}/sql/notes`;
    const setup = await asAlice(W, {
      action: 'batch',
      statements: [
        { sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)' },
        { sql: "INSERT INTO notes (title, body) VALUES ('groceries', 'secret: milk'), ('todo', 'secret: taxes')" },
      ],
    });
    expect(setup.status, setup.text).toBe(200);
  });
  afterAll(async () => node?.destroy());

  it('/info lists sql once the service is wired', async () => {
    const info = (await (await fetch(`${node.url}/info`)).json()) as { features: string[] };
    expect(info.features).toContain('sql');
  });

  it('the owner reads and writes; answers are JSON as WIRE §5 says', async () => {
    const insert = await asAlice(W, { action: 'execute', sql: 'INSERT INTO notes (title) VALUES (?)', params: ['new'] });
    expect(insert.status).toBe(200);
    expect(insert.headers.get('content-type')).toMatch(/^application\/json/);
    expect(insert.json()).toEqual({ changes: 1, lastInsertRowId: 3 });
    const query = await asAlice(R, { action: 'query', sql: 'SELECT id, title FROM notes ORDER BY id' });
    expect(query.json()).toEqual({ columns: ['id', 'title'], rows: [[1, 'groceries'], [2, 'todo'], [3, 'new']], rowCount: 3 });
    const deleted = await asAlice(W, { action: 'execute', sql: 'DELETE FROM notes WHERE id = 3' });
    expect(deleted.json()).toEqual({ changes: 1, lastInsertRowId: null });
  });

  it('the default database is <space>/sql with no path', async () => {
    const answer = await asAlice(W, { action: 'execute', sql: 'CREATE TABLE d (x)' }, `${session.space}/sql`);
    expect(answer.status).toBe(200);
    const other = await asAlice(R, { action: 'query', sql: "SELECT name FROM sqlite_schema WHERE name = 'd'" }, `${session.space}/sql/default`);
    expect(other.json()).toMatchObject({ rows: [['d']] });
  });

  it('bob with read reads, and cannot write through any form', async () => {
    const cid = await delegateSql(node, alice, bob, notes, { [R]: [{}] }, session.sessionCid, clock.now);
    const asBob = (ability: string, body: unknown) => invokeSql(node, bob, notes, ability, body, { prf: [cid], now: clock.now });
    expect((await asBob(R, { action: 'query', sql: 'SELECT count(*) FROM notes' })).json()).toMatchObject({ rows: [[2]] });
    for (const sql of [
      "INSERT INTO notes (title) VALUES ('bob')",
      "INSERT INTO notes (title) VALUES ('bob') RETURNING id",
      "WITH x AS (SELECT 1) INSERT INTO notes (title) SELECT 'bob' FROM x",
      "REPLACE INTO notes (id, title) VALUES (1, 'bob')",
      "INSERT INTO notes (id, title) VALUES (1, 'bob') ON CONFLICT(id) DO UPDATE SET title = 'bob'",
      'CREATE TRIGGER t AFTER INSERT ON notes BEGIN DELETE FROM notes; END',
      'DROP TABLE notes',
    ]) {
      const answer = await asBob(R, { action: 'execute', sql });
      expect(answer.status, sql).toBe(403);
    }
    // Asking for write with a read delegation is refused by the chain itself.
    expect((await asBob(W, { action: 'execute', sql: "INSERT INTO notes (title) VALUES ('bob')" })).status).toBe(401);
    expect((await asAlice(R, { action: 'query', sql: 'SELECT count(*) FROM notes' })).json()).toMatchObject({ rows: [[2]] });
  });

  it('bob limited to notes(title) cannot read notes.body', async () => {
    const caveat = { tables: ['notes'], columns: ['title'] };
    const cid = await delegateSql(node, alice, bob, notes, { [R]: [caveat] }, session.sessionCid, clock.now);
    const asBob = (sql: string) => invokeSql(node, bob, notes, R, { action: 'query', sql }, { prf: [cid], caveats: [caveat], now: clock.now });
    expect((await asBob('SELECT title FROM notes ORDER BY id')).json()).toMatchObject({ rows: [['groceries'], ['todo']] });
    for (const sql of [
      'SELECT * FROM notes',
      'SELECT body FROM notes',
      'SELECT (SELECT body FROM notes LIMIT 1)',
      'WITH c AS (SELECT body FROM notes) SELECT * FROM c',
      'SELECT a.body FROM notes a JOIN notes b ON a.id = b.id',
      'SELECT j.value FROM notes, json_each(json_array(notes.body)) j',
      "SELECT title FROM notes WHERE body LIKE 'secret%'",
    ]) {
      const answer = await asBob(sql);
      expect(answer.status, sql).toBe(403);
      expect(answer.text).not.toContain('secret');
    }
    // Dropping the caveat from the invocation does not drop it from the chain.
    const bare = await invokeSql(node, bob, notes, R, { action: 'query', sql: 'SELECT body FROM notes' }, { prf: [cid], now: clock.now });
    expect(bare.status).not.toBe(200);
  });

  it('a chain caveat wins over an invocation fact', async () => {
    const caveat = { tables: ['notes'], columns: ['title'] };
    const cid = await delegateSql(node, alice, bob, notes, { [R]: [caveat] }, session.sessionCid, clock.now);
    const answer = await invokeSql(node, bob, notes, R, { action: 'query', sql: 'SELECT body FROM notes' }, {
      prf: [cid],
      caveats: [caveat],
      facts: [{ sqlCaveats: {} }],
      now: clock.now,
    });
    expect(answer.status).toBe(403);
    // With no chain caveat, the fact restricts.
    const free = await delegateSql(node, alice, bob, notes, { [R]: [{}] }, session.sessionCid, clock.now);
    const limited = await invokeSql(node, bob, notes, R, { action: 'query', sql: 'SELECT body FROM notes' }, {
      prf: [free],
      facts: [{ sqlCaveats: { columns: ['title'] } }],
      now: clock.now,
    });
    expect(limited.status).toBe(403);
  });

  it('bob with constrained statements runs exactly those, with pins, in either spelling', async () => {
    const caveat = JSON.parse(readVectorText('protocol', 'sql-caveat', 'reject.json')).cases[0].auth_capability.caveats;
    await asAlice(W, {
      action: 'batch',
      statements: [
        { sql: 'CREATE TABLE conversation (id TEXT PRIMARY KEY, title TEXT, source TEXT, source_id TEXT, source_url TEXT, started_at TEXT, ended_at TEXT, duration_secs INTEGER, summary TEXT, metadata TEXT, transcript_json TEXT, transcript_text TEXT, created_at TEXT, updated_at TEXT)' },
        { sql: 'CREATE TABLE participant (id TEXT PRIMARY KEY, conversation_id TEXT, name TEXT, email TEXT, speaker_label TEXT)' },
        { sql: "INSERT INTO conversation (id, title) VALUES ('conv_456', 'standup'), ('conv_999', 'private')" },
      ],
    });
    const cid = await delegateSql(node, alice, bob, notes, { [R]: [caveat] }, session.sessionCid, clock.now);
    const asBob = (body: unknown) => invokeSql(node, bob, notes, R, body, { prf: [cid], caveats: [caveat], now: clock.now });
    const get = await asBob({ action: 'executeStatement', name: 'listen.getConversation' });
    expect(get.status, get.text).toBe(200);
    expect(get.json()).toMatchObject({ rows: [['conv_456', 'standup', ...Array(12).fill(null)]] });
    expect((await asBob({ action: 'execute_statement', name: 'listen.listParticipants' })).status).toBe(200);
    const overrides = await asBob({ action: 'executeStatement', name: 'listen.getConversation', params: { 0: 'conv_999' } });
    expect(overrides.status).toBe(403);
    expect(overrides.text).toMatch(/^sql-fixed-param-override/);
    const raw = await asBob({ action: 'query', sql: 'SELECT * FROM conversation' });
    expect(raw.status).toBe(403);
    expect(raw.text).toBe('sql-raw-query-blocked');
    // A narrower re-delegation by bob is contained; one adding a statement is not.
    const narrower = { ...caveat, statements: [caveat.statements[0]] };
    const widened = { ...caveat, statements: [...caveat.statements, { name: 'all', sql: 'SELECT * FROM conversation' }] };
    const carol = mallory; // bob passes the narrower grant on
    const ok = await delegateSql(node, bob, carol, notes, { [R]: [narrower] }, cid, clock.now);
    const asCarol = await invokeSql(node, carol, notes, R, { action: 'executeStatement', name: 'listen.getConversation' }, { prf: [ok], caveats: [narrower], now: clock.now });
    expect(asCarol.status, asCarol.text).toBe(200);
    await expect(delegateSql(node, bob, carol, notes, { [R]: [widened] }, cid, clock.now)).rejects.toThrow(/delegation: 401/);
  });

  it('schema and admin holders do their part only', async () => {
    const schema = await delegateSql(node, alice, bob, notes, { 'tinycloud.sql/schema': [{}] }, session.sessionCid, clock.now);
    const asSchema = (sql: string) => invokeSql(node, bob, notes, 'tinycloud.sql/schema', { action: 'execute', sql }, { prf: [schema], now: clock.now });
    expect((await asSchema('CREATE TABLE bob_made (x)')).status).toBe(200);
    expect((await asSchema('INSERT INTO bob_made VALUES (1)')).status).toBe(403);
    expect((await asSchema('SELECT * FROM notes')).status).toBe(403);
    const admin = await delegateSql(node, alice, bob, notes, { 'tinycloud.sql/admin': [{}] }, session.sessionCid, clock.now);
    const asAdmin = (sql: string) => invokeSql(node, bob, notes, 'tinycloud.sql/admin', { action: 'query', sql }, { prf: [admin], now: clock.now });
    expect((await asAdmin('PRAGMA table_info(notes)')).json()).toMatchObject({ columns: expect.arrayContaining(['name']), rowCount: 3 });
    expect((await asAdmin('PRAGMA writable_schema = 1')).status).toBe(403);
    expect((await asAdmin('SELECT body FROM notes')).status).toBe(403);
  });

  it('mallory, with no grant, gets nothing', async () => {
    const none = await invokeSql(node, mallory, notes, R, { action: 'query', sql: 'SELECT * FROM notes' }, { now: clock.now });
    expect(none.status).toBe(401);
    const stolen = await invokeSql(node, mallory, notes, R, { action: 'query', sql: 'SELECT * FROM notes' }, { prf: [session.sessionCid], now: clock.now });
    expect(stolen.status).toBe(401);
    const forged = await invokeSql(node, mallory, notes, W, { action: 'execute', sql: 'DELETE FROM notes' }, { prf: [session.sessionCid], now: clock.now });
    expect(forged.status).toBe(401);
    expect((await asAlice(R, { action: 'query', sql: 'SELECT count(*) FROM notes' })).json()).toMatchObject({ rows: [[2]] });
  });

  it('two databases in one invocation are ambiguous', async () => {
    const answer = await invokeSql(node, alice, notes, R, { action: 'query', sql: 'SELECT 1' }, {
      prf: [session.sessionCid],
      now: clock.now,
      extra: { [`${session.space}/sql/other`]: { [R]: [{}] } },
    });
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/Ambiguous/);
  });

  it('bad bodies are 400, oversized ones 413, SQL errors 400', async () => {
    expect((await asAlice(R, 'not json')).status).toBe(400);
    expect((await asAlice(R, { action: 'drop' })).status).toBe(400);
    expect((await asAlice(R, { action: 'query', sql: 'SELEC 1' })).status).toBe(400);
    expect((await asAlice(R, { action: 'query', sql: `SELECT '${'x'.repeat(1024 * 1024)}'` })).status).toBe(413);
  });

  it('export streams the database file as application/x-sqlite3', async () => {
    const response = await invokeSqlRaw(node, alice, notes, R, { action: 'export' }, { prf: [session.sessionCid], now: clock.now });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-sqlite3');
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
    const copy = new Database(bytes);
    expect(copy.prepare('SELECT title FROM notes ORDER BY id').pluck().all()).toEqual(['groceries', 'todo']);
    copy.close();
    const missing = await invokeSql(node, alice, `${session.space}/sql/never`, R, { action: 'export' }, { prf: [session.sessionCid], now: clock.now });
    expect(missing.status).toBe(404);
  });

  it('concurrent readers over HTTP never see half a batch', async () => {
    const ledger = `${session.space}/sql/ledger`;
    await asAlice(W, { action: 'execute', schema: ['CREATE TABLE debit (n)', 'CREATE TABLE credit (n)'], sql: 'SELECT 1' }, ledger);
    const seen: number[][] = [];
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i += 1) {
      work.push(asAlice(W, { action: 'batch', statements: [{ sql: 'INSERT INTO debit VALUES (?)', params: [i] }, { sql: 'INSERT INTO credit VALUES (?)', params: [i] }] }, ledger));
      work.push(
        asAlice(R, { action: 'query', sql: 'SELECT (SELECT count(*) FROM debit), (SELECT count(*) FROM credit)' }, ledger).then((a) =>
          seen.push(a.json<{ rows: number[][] }>().rows[0]!),
        ),
      );
    }
    await Promise.all(work);
    expect(seen.filter(([d, c]) => d !== c)).toEqual([]);
    expect((await asAlice(R, { action: 'query', sql: 'SELECT count(*) FROM credit' }, ledger)).json()).toMatchObject({ rows: [[20]] });
  });

  it('each mutating invocation is an event in the space', async () => {
    const count = async () =>
      Number((await node.node.metadata.db.selectFrom('event_order').select((eb) => eb.fn.countAll().as('n')).where('space', '=', session.space).where('kind', '=', 'invocation').executeTakeFirstOrThrow()).n);
    const before = await count();
    await asAlice(R, { action: 'query', sql: 'SELECT * FROM notes' });
    expect(await count()).toBe(before);
    await asAlice(W, { action: 'execute', sql: "UPDATE notes SET title = 'groceries!' WHERE id = 1" });
    expect(await count()).toBe(before + 1);
  });
});
