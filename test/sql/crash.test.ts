import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, tinycloud } from '../support/cli.js';
import { freePort } from '../support/db-servers.js';
import { tempDir } from '../support/test-node.js';
import { alice, invokeSql, sqlSession } from './http-support.js';

type Serve = ResultPromise<{ reject: false; env: Record<string, string> }>;

async function serve(dir: string, port: number): Promise<{ child: Serve; url: string }> {
  const child = execa('node', [CLI, 'serve', '--dir', dir, '--port', String(port), '--json'], { reject: false, env: { TINYCLOUD_LOG_LEVEL: 'silent' } });
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    void child.then((r) => reject(new Error(`serve exited with ${r.exitCode}: ${buffer}${String(r.stderr)}`)));
  });
  return { child, url };
}

/** `node bin/run.js serve`, killed with SIGKILL right after writes were acknowledged, then started again. */
describe('SQL durability across kill -9', () => {
  let running: Serve | undefined;
  afterEach(() => {
    running?.kill('SIGKILL');
  });

  it('loses no acknowledged write, and keeps its event', async () => {
    const dir = path.join(tempDir(), 'node');
    expect((await tinycloud(['init', '--dir', dir])).exitCode).toBe(0);
    const port = await freePort();
    const first = await serve(dir, port);
    running = first.child;
    const now = () => Date.now() / 1000;
    const session = await sqlSession(first, alice, now());
    const db = `${session.space}/sql/journal`;
    const call = (ability: string, body: unknown, url = first.url) => invokeSql({ url }, alice, db, ability, body, { prf: [session.sessionCid], now: now() });
    expect((await call('tinycloud.sql/write', { action: 'execute', sql: 'CREATE TABLE entries (id INTEGER PRIMARY KEY, text TEXT)' })).status).toBe(200);

    // Writers race the kill: every write answered 200 before the process died must be there afterwards.
    const acknowledged: number[] = [];
    let stop = false;
    const writer = async (lane: number) => {
      for (let i = 0; !stop; i += 1) {
        const id = lane * 100_000 + i;
        try {
          const answer = await call('tinycloud.sql/write', { action: 'execute', sql: 'INSERT INTO entries (id, text) VALUES (?, ?)', params: [id, `entry ${id}`] });
          if (answer.status === 200) acknowledged.push(id);
        } catch {
          return; // connection reset by the kill
        }
      }
    };
    const lanes = Promise.all([1, 2, 3, 4].map(writer));
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGKILL');
    stop = true;
    await lanes;
    await first.child;
    expect(acknowledged.length).toBeGreaterThanOrEqual(40);

    const second = await serve(dir, port);
    running = second.child;
    const answer = await call('tinycloud.sql/read', { action: 'query', sql: 'SELECT id FROM entries' }, second.url);
    expect(answer.status, answer.text).toBe(200);
    const stored = new Set(answer.json<{ rows: number[][] }>().rows.map((r) => r[0]));
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    second.child.kill('SIGINT');
    await second.child;
    running = undefined;

    // Each acknowledged write is an event of the space (the metadata DB is as durable as the SQL file).
    const caps = new Database(path.join(dir, 'caps.db'), { readonly: true });
    const events = caps.prepare("SELECT count(*) FROM event_order WHERE space = ? AND kind = 'invocation'").pluck().get(session.space) as number;
    caps.close();
    expect(events).toBeGreaterThanOrEqual(acknowledged.length + 1);
  });

  it('leaves no executor behind, even one inside a statement that never ends', async () => {
    const dir = path.join(tempDir(), 'node');
    expect((await tinycloud(['init', '--dir', dir])).exitCode).toBe(0);
    const node = await serve(dir, await freePort());
    running = node.child;
    const session = await sqlSession(node, alice, Date.now() / 1000);
    const endless = invokeSql(node, alice, `${session.space}/sql/spin`, 'tinycloud.sql/read', {
      action: 'query',
      sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
    }, { prf: [session.sessionCid], now: Date.now() / 1000 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
    const { stdout } = await execa('ps', ['-o', 'pid=', '--ppid', String(node.child.pid)], { reject: false });
    const executors = stdout.split('\n').map((l) => Number(l.trim())).filter((pid) => pid > 0);
    expect(executors.length).toBeGreaterThan(0);
    expect(executors.some(busy)).toBe(true);

    node.child.kill('SIGKILL');
    await node.child;
    await endless;
    running = undefined;
    const deadline = Date.now() + 5000;
    while (executors.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(executors.filter(alive)).toEqual([]);
  });
});

/** A process that exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A process on a CPU now (state R): an executor inside SQLite. */
function busy(pid: number): boolean {
  try {
    return /^\d+ \(.*\) R/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
