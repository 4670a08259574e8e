import { existsSync, readdirSync } from 'node:fs';
import { buffer } from 'node:stream/consumers';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeTransaction } from '../../src/core/db/write-transaction.js';
import { databaseFile, databaseName, safeName } from '../../src/core/services/sql/index.js';
import { ALL, openCoreSql, READ, SPACE, WRITE, type CoreSql } from './support.js';

describe('SQL values and responses (WIRE §5)', () => {
  let db: CoreSql;
  beforeAll(async () => {
    db = await openCoreSql();
    await db.call(ALL, { action: 'execute', sql: 'CREATE TABLE v (a, b, c, d, e, f)' });
  });
  afterAll(async () => db?.close());

  it('binds null, i64, float, text, bytes and booleans, and answers in kind', async () => {
    const params = [null, 9007199254740991, 1.5, 'text ✓', [0, 1, 255], true];
    const inserted = await db.call(WRITE, { action: 'execute', sql: 'INSERT INTO v VALUES (?, ?, ?, ?, ?, ?)', params });
    expect(inserted).toMatchObject({ status: 200, json: { changes: 1, lastInsertRowId: 1 } });
    const read = await db.call(READ, { action: 'query', sql: 'SELECT a, b, c, d, e, f, typeof(b), typeof(c), typeof(e), 2.0, 9223372036854775807 FROM v' });
    expect(read.status).toBe(200);
    const { response } = read as { response: { type: 'json'; body: string } };
    expect(response.body).toBe(
      '{"columns":["a","b","c","d","e","f","typeof(b)","typeof(c)","typeof(e)","2.0","9223372036854775807"],' +
        '"rows":[[null,9007199254740991,1.5,"text ✓",[0,1,255],1,"integer","real","blob",2.0,9223372036854775807]],"rowCount":1}',
    );
  });

  it('refuses parameters it cannot bind exactly', async () => {
    for (const params of [[2 ** 60], [{ a: 1 }], [[256]], 'x']) {
      const answer = await db.call(WRITE, { action: 'execute', sql: 'SELECT ?', params });
      expect(answer.status, JSON.stringify(params)).toBe(400);
    }
  });

  it('reports lastInsertRowId only for INSERT', async () => {
    const update = await db.call(WRITE, { action: 'execute', sql: "UPDATE v SET a = 'x'" });
    expect(update).toMatchObject({ status: 200, json: { changes: 1, lastInsertRowId: null } });
    const returning = await db.call(WRITE, { action: 'execute', sql: 'INSERT INTO v (a) VALUES (2) RETURNING rowid' });
    expect(returning).toMatchObject({ status: 200, json: { changes: 1, lastInsertRowId: 2 } });
    const select = await db.call(WRITE, { action: 'execute', sql: 'SELECT * FROM v' });
    expect(select).toMatchObject({ status: 200, json: { changes: 0, lastInsertRowId: null } });
  });

  it('maxRows truncates, maxBytes and the 10 MiB default answer 413', async () => {
    const rows = await db.call(READ, { action: 'query', sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50) SELECT x FROM c', maxRows: 3 });
    expect(rows).toMatchObject({ status: 200, json: { rows: [[1], [2], [3]], rowCount: 3 } });
    const small = await db.call(READ, { action: 'query', sql: "SELECT 'more than sixteen bytes'", maxBytes: 16 });
    expect(small).toMatchObject({ status: 413, message: expect.stringMatching(/Response too large/) });
    const big = await db.call(READ, { action: 'query', sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 8) SELECT zeroblob(1000000) FROM c' });
    expect(big.status).toBe(413);
    for (const bad of [{ maxRows: 0 }, { maxRows: 1001 }, { maxBytes: 4 * 1024 * 1024 + 1 }]) {
      expect((await db.call(READ, { action: 'query', sql: 'SELECT 1', ...bad })).status).toBe(400);
    }
  });

  it('rejects malformed requests with 400', async () => {
    for (const body of [{}, { action: 'nope' }, { action: 'query' }, { action: 'batch', statements: 'x' }, { action: 'execute', sql: 'SELECT 1', schema: 'x' }, { action: 'query', sql: '' }]) {
      expect((await db.call(ALL, body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('SQL atomicity, isolation and events', () => {
  let db: CoreSql;
  beforeAll(async () => {
    db = await openCoreSql();
    await db.call(ALL, { action: 'batch', statements: [{ sql: 'CREATE TABLE a (x)' }, { sql: 'CREATE TABLE b (x)' }] });
  });
  afterAll(async () => db?.close());

  const counts = async () => ((await db.call(READ, { action: 'query', sql: 'SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b)' })) as { json: { rows: number[][] } }).json.rows[0];

  it('a batch applies all or nothing', async () => {
    const failed = await db.call(WRITE, { action: 'batch', statements: [{ sql: 'INSERT INTO a VALUES (1)' }, { sql: 'INSERT INTO missing VALUES (1)' }] });
    expect(failed.status).toBe(400);
    expect(await counts()).toEqual([0, 0]);
    const denied = await db.call(WRITE, { action: 'batch', statements: [{ sql: 'INSERT INTO a VALUES (1)' }, { sql: 'PRAGMA user_version = 1' }] });
    expect(denied.status).toBe(403);
    expect(await counts()).toEqual([0, 0]);
  });

  it('execute with schema applies all or nothing', async () => {
    const failed = await db.call(WRITE, { action: 'execute', schema: ['CREATE TABLE c (x)'], sql: 'INSERT INTO c VALUES (1, 2)' });
    expect(failed.status).toBe(400);
    const exists = await db.call(READ, { action: 'query', sql: "SELECT count(*) FROM sqlite_schema WHERE name = 'c'" });
    expect(exists).toMatchObject({ json: { rows: [[0]] } });
  });

  it('a concurrent reader never sees a half-applied batch or execute-with-schema', async () => {
    // Hold the metadata writer so the batch stops between running its statements and committing.
    let release!: () => void;
    const held = writeTransaction(db.metadata, () => new Promise<void>((resolve) => (release = resolve)));
    const batch = db.call(WRITE, { action: 'batch', statements: [{ sql: 'INSERT INTO a VALUES (1)' }, { sql: 'INSERT INTO b VALUES (1)' }] });
    const withSchema = db.call(WRITE, { action: 'execute', schema: ['CREATE TABLE d (x)'], sql: 'INSERT INTO d VALUES (1)' });
    await new Promise((r) => setTimeout(r, 50));
    expect(await counts()).toEqual([0, 0]);
    const d = await db.call(READ, { action: 'query', sql: "SELECT count(*) FROM sqlite_schema WHERE name = 'd'" });
    expect(d).toMatchObject({ json: { rows: [[0]] } });
    release();
    await held;
    expect((await batch).status).toBe(200);
    expect((await withSchema).status).toBe(200);
    expect(await counts()).toEqual([1, 1]);
    expect(await db.call(READ, { action: 'query', sql: 'SELECT x FROM d' })).toMatchObject({ json: { rows: [[1]] } });
  });

  it('many writers and readers: readers only ever see whole batches', async () => {
    const work: Promise<unknown>[] = [];
    const seen: number[][] = [];
    for (let i = 0; i < 40; i += 1) {
      work.push(db.call(WRITE, { action: 'batch', statements: [{ sql: 'INSERT INTO a VALUES (?)', params: [i] }, { sql: 'INSERT INTO b VALUES (?)', params: [i] }] }));
      work.push(counts().then((c) => seen.push(c as number[])));
    }
    await Promise.all(work);
    expect(seen.every(([x, y]) => x === y)).toBe(true);
    expect(await counts()).toEqual([41, 41]);
  });

  it('every mutating invocation is one event in the space, reads are none', async () => {
    const events = async () => (await db.metadata.db.selectFrom('event_order').selectAll().where('space', '=', SPACE).execute()).length;
    const before = await events();
    await db.call(READ, { action: 'query', sql: 'SELECT * FROM a' });
    await db.call(WRITE, { action: 'execute', sql: 'SELECT 1' });
    expect(await events()).toBe(before);
    await db.call(WRITE, { action: 'execute', sql: 'INSERT INTO a VALUES (100)' });
    await db.call(WRITE, { action: 'batch', statements: [{ sql: 'INSERT INTO a VALUES (101)' }, { sql: 'DELETE FROM b' }] });
    expect(await events()).toBe(before + 2);
    const last = await db.metadata.db.selectFrom('event_order').selectAll().where('space', '=', SPACE).orderBy('seq', 'desc').executeTakeFirstOrThrow();
    expect(last.kind).toBe('invocation');
    const invocation = await db.metadata.db.selectFrom('invocation').selectAll().where('id', '=', last.event).executeTakeFirst();
    expect(invocation?.invoker).toBe('did:key:tester');
    const size = await db.metadata.db.selectFrom('sql_database').selectAll().where('space', '=', SPACE).executeTakeFirstOrThrow();
    expect(size.size_bytes).toBeGreaterThan(0);
  });
});

describe('SQL quota (storage.limit)', () => {
  let db: CoreSql;
  beforeAll(async () => {
    db = await openCoreSql({ limit: 64 * 1024 });
    await db.call(ALL, { action: 'execute', sql: 'CREATE TABLE blobs (b)' });
  });
  afterAll(async () => db?.close());

  it('a write that would pass the limit fails with nothing applied', async () => {
    expect((await db.call(WRITE, { action: 'execute', sql: 'INSERT INTO blobs VALUES (zeroblob(20000))' })).status).toBe(200);
    const over = await db.call(WRITE, { action: 'execute', sql: 'INSERT INTO blobs VALUES (zeroblob(100000))' });
    expect(over).toMatchObject({ status: 413, message: expect.stringMatching(/^Write exceeds remaining storage/) });
    expect(await db.call(READ, { action: 'query', sql: 'SELECT count(*) FROM blobs' })).toMatchObject({ json: { rows: [[1]] } });
  });

  it('at the limit, writes that grow answer 402 and shrinking ones still run', async () => {
    await db.metadata.db.insertInto('block').values({ space: SPACE, digest: new Uint8Array(32), size: 64 * 1024, created_at: 0 }).execute();
    // The KV store keeps `space_usage` with every new block row; this test stores its block by hand.
    await db.metadata.db.insertInto('space_usage').values({ space: SPACE, block_bytes: 64 * 1024 }).execute();
    const grow = await db.call(WRITE, { action: 'execute', sql: 'INSERT INTO blobs VALUES (zeroblob(50000))' });
    expect(grow).toMatchObject({ status: 402, message: expect.stringMatching(/^Storage quota exceeded\. Used: \d+ bytes, Limit: 65536 bytes$/) });
    expect((await db.call(WRITE, { action: 'execute', sql: 'DELETE FROM blobs' })).status).toBe(200);
  });
});

describe('SQL files, export and the connection pool', () => {
  let db: CoreSql;
  afterEach(async () => db?.close());

  it('gives any space and database name a safe, distinct file inside storage.sql.path', () => {
    const names = ['default', '..', '.', '../../etc/passwd', 'a/b', 'a%2Fb', 'CON', '', 'x'.repeat(500), 'naïve ☃', '.hidden'];
    const files = names.map((n) => databaseFile('/data/sql', SPACE, n));
    for (const file of files) {
      expect(path.dirname(path.dirname(file))).toBe('/data/sql');
      expect(path.basename(file)).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{32}\.sqlite3$/);
      expect(path.basename(file).length).toBeLessThan(100);
    }
    expect(new Set(files).size).toBe(files.length);
    expect(safeName('a/b')).not.toBe(safeName('a_b'));
    expect(databaseName(undefined)).toBe('default');
    expect(databaseName('')).toBe('default');
    expect(databaseName('apps/notes')).toBe('notes');
  });

  it('exports a consistent snapshot of the file, and 404 for a database that does not exist', async () => {
    db = await openCoreSql();
    expect((await db.call(READ, { action: 'export' })).status).toBe(404);
    await db.call(ALL, { action: 'execute', schema: ['CREATE TABLE t (x)'], sql: "INSERT INTO t VALUES ('exported')" });
    const answer = await db.call(READ, { action: 'export' });
    expect(answer.status).toBe(200);
    const { response } = answer as { response: { type: 'sqlite'; stream: NodeJS.ReadableStream; size: number } };
    const bytes = await buffer(response.stream);
    expect(bytes.length).toBe(response.size);
    expect(bytes.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    const copy = new Database(bytes);
    expect(copy.prepare('SELECT x FROM t').all()).toEqual([{ x: 'exported' }]);
    copy.close();
    expect(readdirSync(path.join(db.pool.dir, '.export'))).toEqual([]);
  });

  it('reads of a database that does not exist create nothing', async () => {
    db = await openCoreSql();
    expect(await db.call(READ, { action: 'query', sql: 'SELECT 1' }, [], 'ghost')).toMatchObject({ status: 200, json: { rows: [[1]] } });
    expect((await db.call(WRITE, { action: 'query', sql: 'SELECT * FROM nothing' }, [], 'ghost')).status).toBe(400);
    expect(existsSync(db.pool.file(SPACE, 'ghost'))).toBe(false);
  });

  it('opens lazily, keeps at most maxOpen databases, and closes idle ones', async () => {
    db = await openCoreSql({ maxOpen: 2, idleMs: 300 });
    for (let i = 0; i < 5; i += 1) {
      expect((await db.call(WRITE, { action: 'execute', sql: 'CREATE TABLE t (x)' }, [], `db${i}`)).status).toBe(200);
      expect(db.pool.openCount).toBeLessThanOrEqual(2);
    }
    expect(await db.call(READ, { action: 'query', sql: "SELECT name FROM sqlite_schema" }, [], 'db0')).toMatchObject({ json: { rows: [['t']] } });
    await new Promise((r) => setTimeout(r, 800));
    expect(db.pool.openCount).toBe(0);
  });
});
