import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importSpace, type ImportTarget } from '../../src/core/car/index.js';
import { decodeSqlSection, type SqlDatabaseEntry } from '../../src/core/car/sql-section.js';
import { TinyCloudError } from '../../src/core/errors.js';
import { Quotas } from '../../src/core/services/kv/quota.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { alice, invokeSql, sqlSession, TestClock, type SqlSession } from '../sql/http-support.js';
import { readCar, rawBlock, writeCar, type Block } from './forge.js';
import { KvClient, expectOk, exportToFile, importFile, startCarNode } from './support.js';

const W = 'tinycloud.sql/write';
const R = 'tinycloud.sql/read';
const BIG_ROWS = 6;
const BIG_ROW_BYTES = 300_000;

describe('CAR sql section: SQL databases travel with the space', () => {
  const clock = new TestClock();
  const dir = tempDir('tinycloud-car-sql-');
  const nodes: TestNode[] = [];
  const node = async () => {
    const n = await startCarNode(clock);
    nodes.push(n);
    return n;
  };
  const file = (name: string) => path.join(dir, name);
  let source: TestNode;
  let session: SqlSession;
  let space: string;

  const sql = (target: TestNode, database: string, ability: string, body: unknown) =>
    invokeSql(target, alice, database === 'default' ? `${space}/sql` : `${space}/sql/${database}`, ability, body, { prf: [session.sessionCid], now: clock.now });
  const ok = async (answer: Promise<{ status: number; text: string; json<T = unknown>(): T }>) => {
    const a = await answer;
    if (a.status !== 200) throw new Error(`HTTP ${a.status}: ${a.text}`);
    return a.json<{ rows: unknown[][] }>();
  };
  const write = (target: TestNode, database: string, statement: string, params: unknown[] = []) =>
    ok(sql(target, database, W, { action: 'execute', sql: statement, params }));
  const query = (target: TestNode, database: string, statement: string) => ok(sql(target, database, R, { action: 'query', sql: statement }));
  /** What a holder sees of both databases, over HTTP. */
  const contents = async (target: TestNode) => ({
    notes: (await query(target, 'notes', 'SELECT id, title, n, r, b FROM notes ORDER BY id')).rows,
    tags: (await query(target, 'notes', 'SELECT note, tag FROM tags ORDER BY note, tag')).rows,
    big: (await query(target, 'default', 'SELECT id, length(data), hex(substr(data, 1, 16)) FROM big ORDER BY id')).rows,
  });
  const sqlEntries = async (car: string): Promise<SqlDatabaseEntry[]> => {
    const { manifest } = await readCar(readFileSync(car));
    const section = manifest.sections.sql;
    return section ? decodeSqlSection(section, manifest.heads[0]!) : [];
  };
  const refused = async (target: TestNode, car: string): Promise<TinyCloudError> => {
    const error = await importFile(target.node, car).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TinyCloudError);
    return error as TinyCloudError;
  };
  /** The SQL files a node holds, with their bytes' hashes (the work dir of exports and imports included). */
  const sqlFiles = (target: TestNode): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (at: string) => {
      if (!existsSync(at)) return;
      for (const entry of readdirSync(at, { withFileTypes: true })) {
        const full = path.join(at, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (!entry.name.endsWith('-shm')) out[path.relative(target.node.sql.pool.dir, full)] = createHash('sha256').update(readFileSync(full)).digest('hex');
      }
    };
    walk(target.node.sql.pool.dir);
    return out;
  };

  beforeAll(async () => {
    source = await node();
    session = await sqlSession(source, alice, clock.now);
    space = session.space;
    await ok(
      sql(source, 'notes', W, {
        action: 'batch',
        statements: [
          { sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, n INTEGER, r REAL, b BLOB)' },
          { sql: 'CREATE TABLE tags (note INTEGER REFERENCES notes(id), tag TEXT, UNIQUE (note, tag))' },
          { sql: 'CREATE INDEX notes_title ON notes (title)' },
        ],
      }),
    );
    await write(source, 'notes', 'INSERT INTO notes (title, n, r, b) VALUES (?, ?, ?, ?)', ['groceries', '9007199254740993', 2.5, [1, 2, 3]]);
    await write(source, 'notes', 'INSERT INTO notes (title, n, r, b) VALUES (?, ?, ?, ?)', ['todo — ünïcode', -7, 0.1, null]);
    await write(source, 'notes', "INSERT INTO tags VALUES (1, 'home'), (1, 'food'), (2, 'work')");
    // Rows deleted again leave free pages in the live file; the snapshot has none.
    await write(source, 'notes', "INSERT INTO notes (title) SELECT 'scratch ' || value FROM json_each('[1,2,3,4,5,6,7,8,9,10]')");
    await write(source, 'notes', "DELETE FROM notes WHERE title LIKE 'scratch %'");
    // More than one chunk (1 MiB) of snapshot.
    await write(source, 'default', 'CREATE TABLE big (id INTEGER PRIMARY KEY, data BLOB)');
    for (let i = 0; i < BIG_ROWS; i++) await write(source, 'default', 'INSERT INTO big (data) VALUES (randomblob(?))', [BIG_ROW_BYTES]);
    const kv = await KvClient.signIn(source, alice, clock);
    await expectOk(kv.put('plain/key', 'a KV value beside the SQL databases'));
  }, 120_000);
  afterAll(async () => {
    for (const n of nodes) await n.destroy();
  });

  it('exports each database as chunks; a fresh node answers the same rows over HTTP; re-export is byte-identical; quota counts the files', async () => {
    const car = file('full.car');
    const summary = await exportToFile(source.node, space, car);
    const entries = await sqlEntries(car);
    expect(entries.map((e) => e.name)).toEqual(['default', 'notes']);
    expect(summary.sql.map((d) => d.name)).toEqual(['default', 'notes']);
    const big = entries[0]!;
    expect(big.chunks.length).toBe(Math.ceil(big.size / (1024 * 1024)));
    expect(big.chunks.length).toBeGreaterThan(1);
    const { manifest } = await readCar(readFileSync(car));
    expect(manifest.sections.sql).toMatchObject({ version: 1, required: true, blocks: entries.reduce((n, e) => n + e.chunks.length, 0) });
    // The recorded position is the last SQL event on each database: the inserts into big came after the notes.
    expect(big.seq).toBeGreaterThan(entries[1]!.seq);

    const target = await node();
    const report = await importFile(target.node, car);
    expect(report.sql).toEqual(entries.map((e) => ({ name: e.name, size: e.size, seq: e.seq, installed: true })));
    const expected = await contents(source);
    expect(expected.notes).toHaveLength(2);
    expect(expected.big).toHaveLength(BIG_ROWS);
    expect(await contents(target)).toEqual(expected);

    // Quota: the imported files count as the space's SQL databases, at their snapshot size.
    const rows = await target.node.sql.databases(space);
    expect(rows.map((r) => [r.name, r.sizeBytes])).toEqual(entries.map((e) => [e.name, e.size]));
    const quotas = new Quotas(target.node.metadata.db, null);
    const blocks = await target.node.metadata.db.selectFrom('space_usage').select('block_bytes').where('space', '=', space).executeTakeFirst();
    expect(await quotas.usedBytes(space)).toBe(Number(blocks?.block_bytes ?? 0) + big.size + entries[1]!.size);

    // The same bytes again, from the node it was imported into and from the source.
    const again = file('again.car');
    await exportToFile(target.node, space, again);
    expect(readFileSync(again).equals(readFileSync(car))).toBe(true);
    const twice = file('twice.car');
    await exportToFile(source.node, space, twice);
    expect(readFileSync(twice).equals(readFileSync(car))).toBe(true);

    // Importing the same file again changes nothing: no database is replaced, no file touched.
    const before = sqlFiles(target);
    const second = await importFile(target.node, car);
    expect(second.added.epochs).toBe(0);
    expect(second.sql.every((d) => !d.installed)).toBe(true);
    expect(sqlFiles(target)).toEqual(before);
    expect(await contents(target)).toEqual(expected);

    // The imported databases take writes as usual, and the recorded size follows them.
    await write(target, 'notes', 'INSERT INTO notes (title) VALUES (?)', ['written after the import']);
    expect((await query(target, 'notes', 'SELECT count(*) FROM notes')).rows).toEqual([[3]]);
  });

  it('snapshots are deterministic: the same contents written along different paths give the same bytes', async () => {
    const [one, two] = [await node(), await node()];
    const sessions = [await sqlSession(one, alice, clock.now), await sqlSession(two, alice, clock.now)];
    const run = (n: TestNode, s: SqlSession, statement: string) =>
      ok(invokeSql(n, alice, `${s.space}/sql/d`, W, { action: 'execute', sql: statement }, { prf: [s.sessionCid], now: clock.now }));
    for (const [i, n] of [one, two].entries()) {
      await run(n, sessions[i]!, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)');
      await run(n, sessions[i]!, "INSERT INTO t (v) SELECT 'row ' || value FROM json_each('[1,2,3,4,5]')");
    }
    // Node two takes a detour: thousands of rows, then gone again (free pages, a grown index, another schema cookie).
    await run(two, sessions[1]!, "INSERT INTO t (v) SELECT hex(randomblob(64)) FROM json_each('[' || substr(replace(hex(zeroblob(3000)), '00', '0,'), 1, 5999) || ']')");
    await run(two, sessions[1]!, 'DELETE FROM t WHERE id > 5');
    await run(two, sessions[1]!, 'CREATE TABLE gone (x)');
    await run(two, sessions[1]!, 'DROP TABLE gone');
    const [a, b] = [file('det-one.car'), file('det-two.car')];
    await exportToFile(one.node, sessions[0]!.space, a);
    await exportToFile(two.node, sessions[1]!.space, b);
    const [ea, eb] = [await sqlEntries(a), await sqlEntries(b)];
    expect(ea[0]!.chunks.map(String)).toEqual(eb[0]!.chunks.map(String));
    expect(ea[0]!.size).toBe(eb[0]!.size);
  });

  it('a tampered snapshot block is refused, naming the block; the node is left exactly as it was', async () => {
    const car = file('tamper.car');
    await exportToFile(source.node, space, car);
    const bytes = readFileSync(car);
    const { manifest, blocks } = await readCar(bytes);
    const entries = decodeSqlSection(manifest.sections.sql!, manifest.heads[0]!);
    const chunk = entries[1]!.chunks[0]!;
    const at = blocks.findIndex((b) => b.cid.equals(chunk));
    expect(at).toBeGreaterThan(0);
    const flipped = blocks.map((b, i): Block => (i === at ? { cid: b.cid, bytes: Uint8Array.from(b.bytes, (x, j) => (j === 200 ? x ^ 0xff : x)) } : b));
    const tampered = file('tampered.car');
    writeFileSync(tampered, await writeCar(manifest, flipped));

    // Into a fresh node: nothing of the space, no SQL file.
    const fresh = await node();
    const error = await refused(fresh, tampered);
    expect(error.code).toBe('CAR_INVALID');
    expect(error.message).toContain(chunk.toString());
    expect(error.message).toMatch(/chunk 1 of 1 of SQL database "notes".*hash/);
    expect(await fresh.node.metadata.db.selectFrom('space').select('id').where('id', '=', space).executeTakeFirst()).toBeUndefined();
    expect(await fresh.node.metadata.db.selectFrom('sql_database').selectAll().execute()).toEqual([]);
    expect(Object.keys(sqlFiles(fresh))).toEqual([]);

    // Into a node that has the space and its databases: the same files, the same rows.
    const target = await node();
    await importFile(target.node, car);
    // (Rows first: the first query opens the files, which switches them to WAL mode.)
    const state = async () => ({
      contents: await contents(target),
      rows: await target.node.metadata.db.selectFrom('sql_database').selectAll().execute(),
      files: sqlFiles(target),
    });
    const before = await state();
    await refused(target, tampered);
    expect(await state()).toEqual(before);

    // Rehashed consistently (the manifest is not signed), a snapshot that is not a sound database is still refused.
    const garbage = await rawBlock(Buffer.alloc(entries[1]!.size, 0x5a));
    const forged = { ...manifest, sections: { sql: { ...manifest.sections.sql!, databases: entries.map((e, i) => (i === 1 ? { ...e, chunks: [garbage.cid] } : e)) } } };
    const forgedFile = file('forged.car');
    writeFileSync(forgedFile, await writeCar(forged, blocks.map((b, i) => (i === at ? garbage : b))));
    const notSqlite = await refused(fresh, forgedFile);
    expect(notSqlite.message).toMatch(/SQL database "notes": the snapshot is not a SQLite database/);
    expect(Object.keys(sqlFiles(fresh))).toEqual([]);

    // A snapshot claiming to follow an event that is not the database's last SQL event is refused.
    const misdated = { ...manifest, sections: { sql: { ...manifest.sections.sql!, databases: entries.map((e, i) => (i === 1 ? { ...e, seq: e.seq - 1 } : e)) } } };
    const misdatedFile = file('misdated.car');
    writeFileSync(misdatedFile, await writeCar(misdated, blocks));
    expect((await refused(fresh, misdatedFile)).message).toMatch(/snapshot of SQL database "notes" is said to follow/);
  });

  it('merging: a snapshot replaces the database only when no SQL write here is at or after it (last writer wins by epoch position)', async () => {
    const target = await node();
    await importFile(target.node, file('full.car'));
    // The source writes on: its next export wins on the target.
    await write(source, 'notes', 'INSERT INTO notes (title) VALUES (?)', ['later on the source']);
    const newer = file('newer.car');
    await exportToFile(source.node, space, newer);
    const report = await importFile(target.node, newer);
    expect(report.sql.find((d) => d.name === 'notes')?.installed).toBe(true);
    expect(report.sql.find((d) => d.name === 'default')?.installed).toBe(false);
    expect(await contents(target)).toEqual(await contents(source));

    // The target writes after that: the same file again, or an older one, keeps the target's database.
    await write(target, 'notes', 'INSERT INTO notes (title) VALUES (?)', ['only on the target']);
    const mine = (await query(target, 'notes', 'SELECT title FROM notes ORDER BY id')).rows;
    for (const car of [newer, file('full.car')]) {
      const again = await importFile(target.node, car);
      expect(again.sql.every((d) => !d.installed)).toBe(true);
      expect((await query(target, 'notes', 'SELECT title FROM notes ORDER BY id')).rows).toEqual(mine);
    }
  });

  it('when the commit fails after the installs, a replaced database gets its contents back and a created one is gone', async () => {
    /** The node, with its metadata transactions failing from the `failFrom`-th on (after running, so the replay ran). */
    const failing = (target: TestNode, failFrom: number): ImportTarget => {
      const real = target.node.metadata.db;
      let calls = 0;
      const db = new Proxy(real, {
        get(t, key) {
          if (key !== 'transaction') {
            const value = Reflect.get(t, key, t) as unknown;
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
          }
          return () => {
            const builder = t.transaction();
            if (++calls < failFrom) return builder;
            return {
              execute: (fn: (trx: unknown) => Promise<unknown>) =>
                builder.execute(async (trx) => {
                  await fn(trx);
                  throw new Error('the disk filled up (test)');
                }),
            };
          };
        },
      });
      return { metadata: { ...target.node.metadata, db }, config: target.node.config, sql: target.node.sql };
    };
    const run = (target: ImportTarget, car: string): Promise<Error> =>
      importSpace(target, createReadStream(car)).then(
        () => new Error('imported'),
        (e: unknown) => e as Error,
      );

    // Created: nothing is left of the databases, the space or its history.
    const fresh = await node();
    expect((await run(failing(fresh, 2), file('full.car'))).message).toMatch(/disk filled up/);
    expect(Object.keys(sqlFiles(fresh)).filter((f) => !f.startsWith('.car'))).toEqual([]);
    expect(await fresh.node.metadata.db.selectFrom('sql_database').selectAll().execute()).toEqual([]);
    expect(await fresh.node.sql.databases(space)).toEqual([]);

    // Replaced: the node's own rows are back, and its recorded sizes.
    const target = await node();
    await importFile(target.node, file('full.car'));
    await write(target, 'notes', 'INSERT INTO notes (title) VALUES (?)', ['before the failed import']);
    const rows = await target.node.metadata.db.selectFrom('sql_database').selectAll().execute();
    const before = await contents(target);
    await write(source, 'notes', 'INSERT INTO notes (title) VALUES (?)', ['newer on the source']);
    const newer = file('newer-than-target.car');
    await exportToFile(source.node, space, newer);
    expect((await run(failing(target, 2), newer)).message).toMatch(/disk filled up/);
    expect(await contents(target)).toEqual(before);
    expect(await target.node.metadata.db.selectFrom('sql_database').selectAll().execute()).toEqual(rows);
    // And the same file, committing this time, wins.
    expect((await importFile(target.node, newer)).sql.find((d) => d.name === 'notes')?.installed).toBe(true);
    expect(await contents(target)).toEqual(await contents(source));
  });

  it('--since includes the full snapshot of each database written since, and base + increment equals a full export', async () => {
    const baseSummary = await exportToFile(source.node, space, file('inc-base.car'));
    const heads = [...baseSummary.heads];
    await write(source, 'notes', 'INSERT INTO notes (title) VALUES (?)', ['after the base']);
    const increment = await exportToFile(source.node, space, file('inc.car'), { since: heads });
    expect(increment.sql.map((d) => d.name)).toEqual(['notes']);
    const full = file('inc-full.car');
    await exportToFile(source.node, space, full);

    const fresh = await node();
    await importFile(fresh.node, file('inc-base.car'));
    const report = await importFile(fresh.node, file('inc.car'));
    expect(report.sql).toEqual([expect.objectContaining({ name: 'notes', installed: true })]);
    expect(await contents(fresh)).toEqual(await contents(source));
    const again = file('inc-again.car');
    await exportToFile(fresh.node, space, again);
    expect(readFileSync(again).equals(readFileSync(full))).toBe(true);

    // Nothing written since: no section at all.
    const quiet = await exportToFile(source.node, space, file('inc-quiet.car'), { since: [...increment.heads] });
    expect(quiet.sql).toEqual([]);
    expect((await readCar(readFileSync(file('inc-quiet.car')))).manifest.sections).toEqual({});
  });

  it('an export taken while SQL writes keep arriving holds exactly the rows of the writes its history holds', async () => {
    const writer = await node();
    const s = await sqlSession(writer, alice, clock.now, 'busy');
    const run = (statement: string) =>
      ok(invokeSql(writer, alice, `${s.space}/sql/counter`, W, { action: 'execute', sql: statement }, { prf: [s.sessionCid], now: clock.now }));
    await run('CREATE TABLE c (id INTEGER PRIMARY KEY)');
    let stop = false;
    const writers = Array.from({ length: 4 }, async () => {
      while (!stop) await run('INSERT INTO c DEFAULT VALUES');
    });
    const cars: string[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const car = file(`busy-${i}.car`);
        await exportToFile(writer.node, s.space, car);
        cars.push(car);
      }
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    for (const car of cars) {
      const target = await node();
      await importFile(target.node, car);
      const { manifest } = await readCar(readFileSync(car));
      // One invocation created the table, every other SQL invocation inserted one row.
      const sqlEvents = manifest.counts.invocations - 1;
      const count = (await ok(invokeSql(target, alice, `${s.space}/sql/counter`, R, { action: 'query', sql: 'SELECT count(*) FROM c' }, { prf: [s.sessionCid], now: clock.now }))).rows;
      expect(count).toEqual([[sqlEvents]]);
      await target.destroy();
      nodes.splice(nodes.indexOf(target), 1);
    }
  });
});
