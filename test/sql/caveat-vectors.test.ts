import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQL_CAVEAT_RULE, sqlCaveatContains } from '../../src/core/services/sql/index.js';
import { readVectorText } from '../support/vectors.js';
import { ALL, openCoreSql, type CoreSql } from './support.js';

interface ContainmentVector {
  name: string;
  auth_caveat: Record<string, unknown>;
  req_caveat: Record<string, unknown>;
  contained: boolean;
  rejection_code?: string;
}

interface RejectCase {
  case: string;
  auth_capability: { actions: string[]; caveats: Record<string, unknown> };
  invocation?: { kind: string; name?: string; params?: unknown; sql?: string; statements?: unknown[] };
  rejection_code: string;
}

const containment = JSON.parse(readVectorText('protocol', 'sql-caveat', 'containment.json')) as { vectors: ContainmentVector[] };
const rejects = JSON.parse(readVectorText('protocol', 'sql-caveat', 'reject.json')) as { cases: RejectCase[] };

describe('sql-caveat containment vectors', () => {
  it.each(containment.vectors.map((v) => [v.name, v] as const))('%s', (_, vector) => {
    const result = sqlCaveatContains(vector.auth_caveat, vector.req_caveat);
    expect(result.ok).toBe(vector.contained);
    if (!result.ok) expect(result.code).toBe(vector.rejection_code);
    // The same decision through the rule the auth engine consults for delegation chains.
    expect(SQL_CAVEAT_RULE.applies([vector.auth_caveat])).toBe(true);
    expect(SQL_CAVEAT_RULE.contains([vector.auth_caveat], [vector.req_caveat])).toBe(vector.contained);
  });

  it('a constrained parent is not contained by a child without a caveat', () => {
    const parent = containment.vectors[0]!.auth_caveat;
    expect(SQL_CAVEAT_RULE.contains([parent], [])).toBe(false);
    expect(sqlCaveatContains(parent, {})).toEqual({ ok: false, code: 'containment-sql-statement-added' });
  });
});

function requestOf(invocation: NonNullable<RejectCase['invocation']>): unknown {
  switch (invocation.kind) {
    case 'executeStatement':
      return { action: 'executeStatement', name: invocation.name, params: invocation.params };
    case 'batch':
      return { action: 'batch', statements: invocation.statements };
    case 'export':
      return { action: 'export' };
    default:
      return { action: invocation.kind, sql: invocation.sql };
  }
}

describe('sql-caveat reject vectors, executed against a real database', () => {
  let db: CoreSql;
  beforeAll(async () => {
    db = await openCoreSql();
    const seeded = await db.call(ALL, {
      action: 'batch',
      statements: [
        {
          sql:
            'CREATE TABLE conversation (id TEXT PRIMARY KEY, title TEXT, source TEXT, source_id TEXT, source_url TEXT, started_at TEXT, ' +
            'ended_at TEXT, duration_secs INTEGER, summary TEXT, metadata TEXT, transcript_json TEXT, transcript_text TEXT, created_at TEXT, updated_at TEXT)',
        },
        { sql: 'CREATE TABLE participant (id TEXT PRIMARY KEY, conversation_id TEXT, name TEXT, email TEXT, speaker_label TEXT)' },
        { sql: "INSERT INTO conversation (id, title) VALUES ('conv_456', 'standup'), ('conv_999', 'private')" },
        { sql: "INSERT INTO participant VALUES ('p1', 'conv_456', 'Alice', 'a@example.com', 'S1'), ('p2', 'conv_999', 'Mallory', 'm@example.com', 'S2')" },
      ],
    });
    expect(seeded.status).toBe(200);
  });
  afterAll(async () => db?.close());

  const conversations = async () => (await db.call(ALL, { action: 'query', sql: 'SELECT id FROM conversation ORDER BY id' })) as { json: { rows: string[][] } };

  it.each(rejects.cases.map((c) => [c.case, c] as const))('%s', async (_, vector) => {
    const ability = vector.auth_capability.actions[0]!;
    const caveats = [vector.auth_capability.caveats];
    // A case without an invocation is a caveat that must be refused up front: any use of it fails.
    const statements = (vector.auth_capability.caveats.statements as { name: string }[]) ?? [];
    const requests = vector.invocation ? [requestOf(vector.invocation)] : statements.map((s) => ({ action: 'executeStatement', name: s.name }));
    for (const request of requests) {
      const answer = await db.call(ability, request, caveats);
      expect(answer.status, JSON.stringify(answer)).toBe(403);
      expect((answer as { message: string }).message.split(':')[0]).toBe(vector.rejection_code);
    }
    expect((await conversations()).json.rows).toEqual([['conv_456'], ['conv_999']]);
  });

  it('the pinned statements run, with the pins bound by the node', async () => {
    const caveats = [rejects.cases[0]!.auth_capability.caveats];
    const get = await db.call('tinycloud.sql/read', { action: 'executeStatement', name: 'listen.getConversation' }, caveats);
    expect(get).toMatchObject({ status: 200, json: { rowCount: 1, rows: [['conv_456', 'standup', ...Array(12).fill(null)]] } });
    const sdkSpelling = await db.call('tinycloud.sql/read', { action: 'execute_statement', name: 'listen.listParticipants', params: [null] }, caveats);
    expect(sdkSpelling).toMatchObject({ status: 200, json: { columns: ['id', 'name', 'email', 'speaker_label'], rows: [['p1', 'Alice', 'a@example.com', 'S1']] } });
    const search = rejects.cases.find((c) => c.case === 'escape-attempt-on-non-fixed-param')!;
    const found = await db.call('tinycloud.sql/read', { action: 'executeStatement', name: 'listen.searchConversations', params: { 0: '%stand%' } }, [
      search.auth_capability.caveats,
    ]);
    expect(found).toMatchObject({ status: 200, json: { rows: [['conv_456', 'standup']] } });
  });
});

describe('prepared-statement-only holders', () => {
  let db: CoreSql;
  const caveats = [
    {
      statements: [
        { name: 'add', sql: 'INSERT INTO notes (title) VALUES (?)' },
        { name: 'mine', sql: 'SELECT title FROM notes WHERE owner = ?', fixedParams: [{ index: 0, value: 'bob' }] },
      ],
    },
  ];
  beforeAll(async () => {
    db = await openCoreSql();
    await db.call(ALL, {
      action: 'execute',
      schema: ['CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, owner TEXT DEFAULT \'bob\')'],
      sql: "INSERT INTO notes (title, owner) VALUES ('alice note', 'alice')",
    });
  });
  afterAll(async () => db?.close());

  it('run exactly their named statements, with parameters', async () => {
    const added = await db.call('tinycloud.sql/write', { action: 'executeStatement', name: 'add', params: ['hello'] }, caveats);
    expect(added).toMatchObject({ status: 200, json: { changes: 1, lastInsertRowId: 2 } });
    const mine = await db.call('tinycloud.sql/write', { action: 'executeStatement', name: 'mine' }, caveats);
    expect(mine).toMatchObject({ status: 200, json: { rows: [['hello']] } });
  });

  it('and nothing else', async () => {
    const write = 'tinycloud.sql/write';
    const tries: [unknown, string][] = [
      [{ action: 'query', sql: 'SELECT * FROM notes' }, 'sql-raw-query-blocked'],
      [{ action: 'execute', sql: 'DELETE FROM notes' }, 'sql-raw-execute-blocked'],
      [{ action: 'batch', statements: [{ sql: 'DELETE FROM notes' }] }, 'sql-batch-blocked'],
      [{ action: 'export' }, 'sql-export-blocked'],
      [{ action: 'executeStatement', name: 'drop' }, 'sql-statement-not-allowed'],
      [{ action: 'executeStatement', name: 'mine', params: ['alice'] }, 'sql-fixed-param-override'],
    ];
    for (const [request, code] of tries) {
      const answer = await db.call(write, request, caveats);
      expect(answer.status).toBe(403);
      expect((answer as { message: string }).message.startsWith(code), JSON.stringify(answer)).toBe(true);
    }
    // The named INSERT still needs write: a read holder with the same caveat is refused.
    const reader = await db.call('tinycloud.sql/read', { action: 'executeStatement', name: 'add', params: ['x'] }, caveats);
    expect(reader).toMatchObject({ status: 403, message: expect.stringMatching(/^sql-write-blocked/) });
  });
});
