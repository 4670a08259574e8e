import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { signUcan } from '../core/auth/ucan.js';
import { loadConfig } from '../core/config/load.js';
import { initDataDir } from '../core/datadir.js';
import { startDaemon } from '../daemon/lifecycle.js';
import { delegateSession } from './fixture.js';
import type { BenchRow, BenchSuite } from './run.js';

export interface SqlBenchOptions {
  /** Concurrent keep-alive connections. */
  readonly concurrency?: number;
  /** Invocations per measurement. */
  readonly requests?: number;
}

interface Call {
  readonly authorization: string;
  readonly body: string;
}

/** POSTs the calls over `concurrency` keep-alive connections; returns completed requests per second. */
async function drive(port: number, calls: readonly Call[], concurrency: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  const failures: string[] = [];
  const one = (call: Call) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/invoke',
          method: 'POST',
          agent,
          headers: { authorization: call.authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(call.body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200) failures.push(`${res.statusCode} ${Buffer.concat(chunks).toString()}`);
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(call.body);
    });
  const worker = async () => {
    while (next < calls.length) await one(calls[next++] as Call);
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  if (failures.length > 0) throw new Error(`bench: ${failures.length} SQL invocations failed, first: ${failures[0]}`);
  return calls.length / seconds;
}

/** The same work in-process on better-sqlite3 with the node's settings (WAL, synchronous FULL): the ceiling. */
function inProcess(count: number): { inserts: number; selects: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tinycloud-bench-sql-'));
  try {
    const db = new Database(path.join(dir, 'bench.sqlite3'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)');
    const insert = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
    const select = db.prepare('SELECT v FROM kv WHERE k = ?');
    let started = process.hrtime.bigint();
    for (let i = 0; i < count; i += 1) insert.run(i, `value ${i}`);
    const inserts = count / (Number(process.hrtime.bigint() - started) / 1e9);
    started = process.hrtime.bigint();
    for (let i = 0; i < count; i += 1) select.get(i);
    const selects = count / (Number(process.hrtime.bigint() - started) / 1e9);
    db.close();
    return { inserts, selects };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A real node (SQLite metadata, temp dir): a wallet hosts a space and gives its session key SQL read and write;
 * the session then sends pre-signed invocations, each authorized, profiled, executed and (for inserts) committed
 * with its event, durably, before the answer.
 */
async function overHttp(count: number, concurrency: number): Promise<{ inserts: number; selects: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tinycloud-bench-'));
  await initDataDir(dir);
  const config = loadConfig({ env: { TINYCLOUD_LOG_LEVEL: 'silent' }, flags: { 'storage.datadir': dir, port: 0, address: '127.0.0.1' } });
  const daemon = await startDaemon(config, { logger: false });
  try {
    const port = Number(new URL(daemon.url).port);
    const sqlResource = (space: string) => `${space}/sql/bench`;
    const { space, session, sessionDid, sessionCid } = await delegateSession(
      daemon.url,
      (space) => daemon.node.keys.hostKey(space).did,
      (space) => ({ [sqlResource(space)]: { 'tinycloud.sql/read': [{}], 'tinycloud.sql/write': [{}] } }),
    );
    const resource = sqlResource(space);
    const now = Date.now() / 1000;
    const call = (ability: string, body: unknown): Call => ({
      authorization: signUcan({
        issuerKey: session,
        audience: sessionDid,
        att: { [resource]: { [ability]: [{}] } },
        prf: [sessionCid],
        exp: now + 290,
        nonce: `urn:uuid:${randomUUID()}`,
      }),
      body: JSON.stringify(body),
    });

    await drive(port, [call('tinycloud.sql/write', { action: 'execute', sql: 'CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)' })], 1);
    const warm = Math.min(count, 500);
    const insert = (i: number) => call('tinycloud.sql/write', { action: 'execute', sql: 'INSERT INTO kv (k, v) VALUES (?, ?)', params: [i, `value ${i}`] });
    const select = (i: number) => call('tinycloud.sql/read', { action: 'query', sql: 'SELECT v FROM kv WHERE k = ?', params: [i] });
    await drive(port, Array.from({ length: warm }, (_, i) => insert(count + i)), concurrency);
    const inserts = await drive(port, Array.from({ length: count }, (_, i) => insert(i)), concurrency);
    await drive(port, Array.from({ length: warm }, (_, i) => select(i)), concurrency);
    const selects = await drive(port, Array.from({ length: count }, (_, i) => select(i)), concurrency);
    return { inserts, selects };
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Single-row insert and point-select invocations per second over HTTP, beside better-sqlite3 in-process. */
export async function benchSql(options: SqlBenchOptions = {}): Promise<BenchRow[]> {
  const concurrency = options.concurrency ?? 16;
  const requests = options.requests ?? 3000;
  const local = inProcess(requests);
  const http = await overHttp(requests, concurrency);
  return [
    { name: 'better-sqlite3 in-process single-row INSERT (WAL, synchronous FULL)', value: local.inserts, unit: 'op/s' },
    { name: 'better-sqlite3 in-process point SELECT', value: local.selects, unit: 'op/s' },
    {
      name: 'SQL insert invocation over HTTP (authorized, evented, durable)',
      value: http.inserts,
      unit: 'req/s',
      ratio: http.inserts / local.inserts,
      baseline: 'in-process INSERT',
    },
    {
      name: 'SQL point-select invocation over HTTP (authorized)',
      value: http.selects,
      unit: 'req/s',
      ratio: http.selects / local.selects,
      baseline: 'in-process SELECT',
    },
  ];
}

const suite: BenchSuite = () => benchSql();
export default suite;
