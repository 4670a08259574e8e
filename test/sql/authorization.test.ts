import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, ALL, NOTES_SCHEMA, openCoreSql, READ, SCHEMA, SELECT, WRITE, type CoreSql } from './support.js';

/**
 * Each ability runs exactly its part, and nothing a read holder sends can write: decided from the program SQLite
 * compiled, with the read-only connection as a second wall.
 */
describe('SQL authorization by statement effect', () => {
  let db: CoreSql;
  beforeAll(async () => {
    db = await openCoreSql();
    const setup = await db.call(ALL, {
      action: 'batch',
      statements: [
        ...NOTES_SCHEMA.map((sql) => ({ sql })),
        { sql: "INSERT INTO notes(title, body) VALUES ('t1', 'secret one'), ('t2', 'secret two')" },
        { sql: 'CREATE INDEX notes_body ON notes(body)' },
      ],
    });
    expect(setup.status).toBe(200);
  });
  afterAll(async () => db?.close());

  const count = async () => {
    const answer = await db.call(READ, { action: 'query', sql: 'SELECT count(*) FROM notes' });
    return (answer as { json: { rows: number[][] } }).json.rows[0]![0];
  };

  it('read and select holders read', async () => {
    for (const ability of [READ, SELECT]) {
      const answer = await db.call(ability, { action: 'query', sql: 'SELECT title FROM notes ORDER BY id' });
      expect(answer).toMatchObject({ status: 200, json: { columns: ['title'], rows: [['t1'], ['t2']], rowCount: 2 } });
    }
  });

  it.each([
    ['plain INSERT', "INSERT INTO notes(title) VALUES ('x')"],
    ['UPDATE', "UPDATE notes SET title = 'x'"],
    ['DELETE', 'DELETE FROM notes'],
    ['DELETE with WHERE', 'DELETE FROM notes WHERE id = 1'],
    ['REPLACE', "REPLACE INTO notes(id, title) VALUES (1, 'x')"],
    ['INSERT OR REPLACE', "INSERT OR REPLACE INTO notes(id, title) VALUES (1, 'x')"],
    ['UPSERT', "INSERT INTO notes(id, title) VALUES (1, 'x') ON CONFLICT(id) DO UPDATE SET title = excluded.title"],
    ['RETURNING', "INSERT INTO notes(title) VALUES ('x') RETURNING id"],
    ['DELETE RETURNING', 'DELETE FROM notes RETURNING *'],
    ['CTE with INSERT', "WITH t(x) AS (SELECT 'x') INSERT INTO notes(title) SELECT x FROM t"],
    ['CTE with UPDATE', "WITH t(x) AS (SELECT 1) UPDATE notes SET title = 'x' WHERE id IN (SELECT x FROM t)"],
    ['CREATE TRIGGER', "CREATE TRIGGER t AFTER INSERT ON notes BEGIN DELETE FROM notes; END"],
    ['CREATE TABLE', 'CREATE TABLE x (y)'],
    ['CREATE TABLE AS', 'CREATE TABLE x AS SELECT * FROM notes'],
    ['DROP TABLE', 'DROP TABLE notes'],
    ['CREATE TEMP TABLE', 'CREATE TEMP TABLE x (y)'],
    ['ALTER TABLE', 'ALTER TABLE notes ADD COLUMN z'],
    ['ANALYZE', 'ANALYZE'],
    ['VACUUM', 'VACUUM'],
    ['REINDEX', 'REINDEX notes_body'],
  ])('read holders cannot write through %s', async (_, sql) => {
    const before = await count();
    for (const ability of [READ, SELECT]) {
      for (const action of ['query', 'execute'] as const) {
        const answer = await db.call(ability, { action, sql });
        expect(answer.status, `${ability} ${action}`).toBe(403);
      }
      const batch = await db.call(ability, { action: 'batch', statements: [{ sql: 'SELECT 1' }, { sql }] });
      expect(batch.status).toBe(403);
    }
    expect(await count()).toBe(before);
  });

  it.each([
    ['ATTACH', "ATTACH DATABASE '/tmp/tinycloud-attach.db' AS other"],
    ['DETACH', 'DETACH DATABASE main'],
    ['load_extension', "SELECT load_extension('/tmp/nothing')"],
    ['VACUUM INTO', "VACUUM INTO '/tmp/tinycloud-vacuum.db'"],
    ['BEGIN', 'BEGIN'],
    ['COMMIT', 'COMMIT'],
    ['SAVEPOINT', 'SAVEPOINT s'],
    ['a write to sqlite_schema', "UPDATE sqlite_schema SET sql = 'x'"],
    ['a write to sqlite_master', "DELETE FROM sqlite_master"],
    ['PRAGMA writable_schema', 'PRAGMA writable_schema = ON'],
    ['PRAGMA query_only', 'PRAGMA query_only = ON'],
    ['PRAGMA after a semicolon', ';PRAGMA query_only = 1'],
    ['PRAGMA after comments', '/* x */ -- y\n PRAGMA foreign_keys = OFF'],
    ['PRAGMA database_list', 'PRAGMA database_list'],
    ['PRAGMA on temp', 'PRAGMA temp.table_info(notes)'],
    ['EXPLAIN', 'EXPLAIN SELECT 1'],
    ['EXPLAIN PRAGMA', 'EXPLAIN PRAGMA query_only = 1'],
    ['a pragma table-valued function', "SELECT * FROM pragma_database_list"],
  ])('nobody runs %s', async (_, sql) => {
    for (const ability of [ALL, ADMIN, WRITE]) {
      const answer = await db.call(ability, { action: 'execute', sql });
      expect([400, 403], `${ability}: ${JSON.stringify(answer)}`).toContain(answer.status);
    }
    // And the connection settings are as they were.
    const fk = await db.call(ADMIN, { action: 'query', sql: 'PRAGMA foreign_keys' });
    expect(fk).toMatchObject({ status: 200, json: { rows: [[1]] } });
  });

  it('more than one statement per string is refused before anything runs', async () => {
    const before = await count();
    for (const sql of ["SELECT 1; DELETE FROM notes", "INSERT INTO notes(title) VALUES ('x'); SELECT 1"]) {
      expect((await db.call(WRITE, { action: 'execute', sql })).status).toBe(400);
    }
    expect(await count()).toBe(before);
    // Trailing semicolons and comments are one statement.
    expect((await db.call(READ, { action: 'query', sql: 'SELECT 1; -- done\n;' })).status).toBe(200);
  });

  it('schema holders run DDL and nothing else', async () => {
    expect((await db.call(SCHEMA, { action: 'execute', sql: 'CREATE TABLE schema_made (x)' })).status).toBe(200);
    expect((await db.call(SCHEMA, { action: 'execute', sql: 'CREATE INDEX schema_idx ON schema_made(x)' })).status).toBe(200);
    expect((await db.call(SCHEMA, { action: 'execute', sql: 'CREATE VIEW schema_view AS SELECT x FROM schema_made' })).status).toBe(200);
    expect((await db.call(SCHEMA, { action: 'execute', sql: 'INSERT INTO schema_made VALUES (1)' })).status).toBe(403);
    expect((await db.call(SCHEMA, { action: 'query', sql: 'SELECT * FROM notes' })).status).toBe(403);
    expect((await db.call(SCHEMA, { action: 'execute', sql: 'PRAGMA table_info(notes)' })).status).toBe(403);
    expect((await db.call(SCHEMA, { action: 'execute', sql: 'DROP VIEW schema_view' })).status).toBe(200);
  });

  it('write holders read, write and change the schema, but no PRAGMA or maintenance', async () => {
    expect((await db.call(WRITE, { action: 'execute', sql: "INSERT INTO audit(note, copied) VALUES (1, 'w')" })).status).toBe(200);
    expect((await db.call(WRITE, { action: 'query', sql: 'SELECT count(*) FROM audit' })).status).toBe(200);
    expect((await db.call(WRITE, { action: 'execute', sql: 'CREATE TABLE write_made (x)' })).status).toBe(200);
    expect((await db.call(WRITE, { action: 'execute', sql: 'PRAGMA user_version = 3' })).status).toBe(403);
    expect((await db.call(WRITE, { action: 'execute', sql: 'VACUUM' })).status).toBe(403);
  });

  it('admin holders run DDL, maintenance and the allowed PRAGMAs, not DML or reads', async () => {
    expect((await db.call(ADMIN, { action: 'query', sql: 'PRAGMA table_info(notes)' })).status).toBe(200);
    expect((await db.call(ADMIN, { action: 'query', sql: 'PRAGMA integrity_check' })).status).toBe(200);
    expect((await db.call(ADMIN, { action: 'execute', sql: 'PRAGMA user_version = 5' })).status).toBe(200);
    expect((await db.call(ADMIN, { action: 'execute', sql: 'ANALYZE' })).status).toBe(200);
    expect((await db.call(ADMIN, { action: 'execute', sql: 'REINDEX notes_body' })).status).toBe(200);
    expect((await db.call(ADMIN, { action: 'execute', sql: 'CREATE TABLE admin_made (x)' })).status).toBe(200);
    expect((await db.call(ADMIN, { action: 'execute', sql: 'VACUUM' })).status).toBe(200);
    expect((await db.call(ADMIN, { action: 'execute', sql: "INSERT INTO audit(note) VALUES (2)" })).status).toBe(403);
    expect((await db.call(ADMIN, { action: 'query', sql: 'SELECT * FROM notes' })).status).toBe(403);
    expect((await db.call(ADMIN, { action: 'execute', sql: 'PRAGMA journal_mode = DELETE' })).status).toBe(403);
    expect(await db.call(ALL, { action: 'query', sql: 'PRAGMA user_version' })).toMatchObject({ status: 200, json: { rows: [[5]] } });
  });
});

/** A holder limited to `notes(title)` cannot reach `notes.body` through any statement form. */
describe('table and column caveats', () => {
  let db: CoreSql;
  const titleOnly = [{ tables: ['notes'], columns: ['title'] }];
  beforeAll(async () => {
    db = await openCoreSql();
    await db.call(ALL, {
      action: 'batch',
      statements: [
        ...NOTES_SCHEMA.map((sql) => ({ sql })),
        { sql: "INSERT INTO notes(title, body) VALUES ('t1', 'secret one'), ('t2', 'secret two')" },
        { sql: "CREATE TRIGGER leak AFTER UPDATE OF title ON notes BEGIN INSERT INTO audit(note, copied) VALUES (new.id, new.body); END" },
        { sql: 'CREATE TABLE other (x)' },
      ],
    });
  });
  afterAll(async () => db?.close());

  it('reads the column it holds', async () => {
    const answer = await db.call(READ, { action: 'query', sql: 'SELECT title FROM notes ORDER BY title' }, titleOnly);
    expect(answer).toMatchObject({ status: 200, json: { rows: [['t1'], ['t2']] } });
    expect((await db.call(READ, { action: 'query', sql: 'SELECT count(*) FROM notes' }, titleOnly)).status).toBe(200);
    expect((await db.call(READ, { action: 'query', sql: "SELECT upper(title) FROM notes WHERE title LIKE 't%'" }, titleOnly)).status).toBe(200);
  });

  it.each([
    ['SELECT *', 'SELECT * FROM notes'],
    ['the column by name', 'SELECT body FROM notes'],
    ['an expression', "SELECT title || body FROM notes"],
    ['a WHERE clause (an oracle)', "SELECT title FROM notes WHERE body LIKE 'secret%'"],
    ['ORDER BY', 'SELECT title FROM notes ORDER BY body'],
    ['a view', 'SELECT * FROM note_bodies'],
    ['a view column', 'SELECT body FROM note_bodies'],
    ['a subquery', 'SELECT (SELECT body FROM notes LIMIT 1)'],
    ['a FROM subquery', 'SELECT b FROM (SELECT body AS b FROM notes)'],
    ['a CTE', 'WITH c AS (SELECT body FROM notes) SELECT * FROM c'],
    ['a CTE with renamed columns', 'WITH c(a, b, z) AS (SELECT * FROM notes) SELECT upper(z) FROM c'],
    ['a join', 'SELECT n2.body FROM notes n1 JOIN notes n2 ON n1.id = n2.id'],
    ['json_each', 'SELECT j.value FROM notes, json_each(json_array(notes.body)) AS j'],
    ['json_each over the column', 'SELECT j.key FROM notes, json_each(notes.body) AS j'],
    ['an aggregate', 'SELECT group_concat(body) FROM notes'],
    ['length()', 'SELECT length(body) FROM notes'],
    ['typeof()', 'SELECT typeof(body) FROM notes'],
    ['EXISTS', "SELECT EXISTS (SELECT 1 FROM notes WHERE body = 'secret one')"],
    ['a compound SELECT', 'SELECT title FROM notes UNION SELECT body FROM notes'],
    ['the rowid alias', 'SELECT id FROM notes'],
    ['another table', 'SELECT * FROM other'],
    ['sqlite_schema', 'SELECT sql FROM sqlite_schema'],
  ])('cannot read notes.body through %s', async (_, sql) => {
    const answer = await db.call(READ, { action: 'query', sql }, titleOnly);
    expect(answer.status, JSON.stringify(answer)).toBe(403);
  });

  it('cannot read notes.body through a trigger an UPDATE fires', async () => {
    const writer = [{ tables: ['notes', 'audit'], columns: ['id', 'title', 'note', 'copied'] }];
    const answer = await db.call(WRITE, { action: 'execute', sql: "UPDATE notes SET title = 'changed' WHERE id = 1" }, writer);
    expect(answer.status, JSON.stringify(answer)).toBe(403);
    const audit = await db.call(ALL, { action: 'query', sql: 'SELECT count(*) FROM audit' });
    expect(audit).toMatchObject({ json: { rows: [[0]] } });
  });

  it('updates the columns it holds, not others, and not by copying a hidden one', async () => {
    const writer = [{ tables: ['other'], columns: ['x'] }];
    expect((await db.call(WRITE, { action: 'execute', sql: 'INSERT INTO other VALUES (1)' }, writer)).status).toBe(200);
    expect((await db.call(WRITE, { action: 'execute', sql: 'UPDATE other SET x = x + 1' }, writer)).status).toBe(200);
    const notesWriter = [{ tables: ['notes'], columns: ['id', 'title'] }];
    await db.call(ALL, { action: 'execute', sql: 'DROP TRIGGER leak' });
    expect((await db.call(WRITE, { action: 'execute', sql: "UPDATE notes SET title = 'new' WHERE id = 2" }, notesWriter)).status).toBe(200);
    expect((await db.call(WRITE, { action: 'execute', sql: "UPDATE notes SET body = 'overwritten' WHERE id = 2" }, notesWriter)).status).toBe(403);
    expect((await db.call(WRITE, { action: 'execute', sql: 'UPDATE notes SET title = body WHERE id = 2' }, notesWriter)).status).toBe(403);
    expect((await db.call(WRITE, { action: 'execute', sql: "UPDATE notes SET title = 'x' RETURNING body" }, notesWriter)).status).toBe(403);
    expect((await db.call(WRITE, { action: 'execute', sql: "INSERT INTO audit(copied) SELECT body FROM notes" }, notesWriter)).status).toBe(403);
    const row = await db.call(ALL, { action: 'query', sql: 'SELECT title, body FROM notes WHERE id = 2' });
    expect(row).toMatchObject({ json: { rows: [['new', 'secret two']] } });
  });

  it('cannot read notes.body through a virtual table whose module reads it', async () => {
    const made = await db.call(ALL, {
      action: 'batch',
      statements: [
        { sql: "CREATE VIRTUAL TABLE search USING fts5(body, content='notes', content_rowid='id')" },
        { sql: "INSERT INTO search(search) VALUES ('rebuild')" },
      ],
    });
    expect(made.status, JSON.stringify(made)).toBe(200);
    const sql = "SELECT body FROM search WHERE search MATCH 'secret'";
    expect((await db.call(READ, { action: 'query', sql })).status).toBe(200);
    for (const caveat of [{ tables: ['search'] }, { columns: ['body'] }, { tables: ['search', 'notes'], columns: ['title'] }]) {
      expect((await db.call(READ, { action: 'query', sql }, [caveat])).status, JSON.stringify(caveat)).toBe(403);
    }
  });

  it('WITHOUT ROWID tables: writes are writes, and column limits cover the whole row', async () => {
    await db.call(ALL, { action: 'execute', schema: ['CREATE TABLE tags (name TEXT PRIMARY KEY, secret TEXT) WITHOUT ROWID'], sql: "INSERT INTO tags VALUES ('a', 's')" });
    expect((await db.call(READ, { action: 'execute', sql: "UPDATE tags SET secret = 'x'" })).status).toBe(403);
    expect((await db.call(READ, { action: 'query', sql: 'SELECT name FROM tags' }, [{ columns: ['name'] }])).status).toBe(200);
    expect((await db.call(READ, { action: 'query', sql: 'SELECT secret FROM tags' }, [{ columns: ['name'] }])).status).toBe(403);
    expect((await db.call(WRITE, { action: 'execute', sql: "UPDATE tags SET secret = 'x' WHERE name = 'a'" }, [{ columns: ['name'] }])).status).toBe(403);
    expect(await db.call(ALL, { action: 'query', sql: 'SELECT secret FROM tags' })).toMatchObject({ json: { rows: [['s']] } });
  });

  it('qualified column names count per table', async () => {
    const qualified = [{ tables: ['notes'], columns: ['notes.title'] }];
    expect((await db.call(READ, { action: 'query', sql: 'SELECT title FROM notes' }, qualified)).status).toBe(200);
    expect((await db.call(READ, { action: 'query', sql: 'SELECT body FROM notes' }, qualified)).status).toBe(403);
  });

  it('a tables caveat refuses schema changes and other tables', async () => {
    const notesOnly = [{ tables: ['notes'] }];
    expect((await db.call(ALL, { action: 'query', sql: 'SELECT * FROM notes' }, notesOnly)).status).toBe(200);
    expect((await db.call(ALL, { action: 'query', sql: 'SELECT * FROM audit' }, notesOnly)).status).toBe(403);
    expect((await db.call(ALL, { action: 'execute', sql: 'DROP TABLE audit' }, notesOnly)).status).toBe(403);
    expect((await db.call(ALL, { action: 'execute', sql: 'PRAGMA table_info(audit)' }, notesOnly)).status).toBe(403);
  });

  it('readOnly caveats turn any ability into a reader', async () => {
    const readOnly = [{ readOnly: true }];
    expect((await db.call(ALL, { action: 'query', sql: 'SELECT * FROM notes' }, readOnly)).status).toBe(200);
    const write = await db.call(ALL, { action: 'execute', sql: "INSERT INTO other VALUES (9)" }, readOnly);
    expect(write).toMatchObject({ status: 403, message: expect.stringMatching(/Read-only violation/) });
  });

  it('an unknown caveat key fails closed', async () => {
    await expect(db.call(ALL, { action: 'query', sql: 'SELECT 1' }, [{ rowFilter: 'x' }])).rejects.toThrow(/unsupported key/);
  });
});
