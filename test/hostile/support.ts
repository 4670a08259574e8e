import { readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'vitest';
import type { Attenuations } from '../../src/core/auth/index.js';
import type { CID } from '../../src/core/ids/cid.js';
import { alice, bob, cidOfHeader, post, signIn, TestClock, ucan, vmOf, type Principal } from '../auth-engine/support.js';
import { ADMIN_SECRET, KvClient, sessionAtt } from '../kv/http-support.js';
import { startTestNode, type TestNode } from '../support/test-node.js';

export { alice, bob, mallory, TestClock, ucan, post, type Principal } from '../auth-engine/support.js';
export { ADMIN_SECRET, KvClient } from '../kv/http-support.js';

/** Alice's session: the SDK's abilities (every KV ability, capabilities read, space info), SQL, delegation control. */
function aliceSession(space: string): Attenuations {
  return {
    ...sessionAtt(space),
    [`${space}/sql`]: { 'tinycloud.sql/*': [{}] },
    [`${space}/delegation`]: { 'tinycloud.delegation/revoke': [{}], 'tinycloud.delegation/status': [{}] },
  };
}

/** What alice stored before the attack, checked again after it. */
export const SEED_KV: Record<string, string> = {
  'docs/readme.txt': 'hello from alice',
  'docs/caf%C3%A9': 'unicode value ✓',
  'photos/cat.jpg': 'meow'.repeat(1000),
};
export const SEED_ROWS = [
  [1, 'groceries', 'milk'],
  [2, 'todo', 'taxes'],
];

export interface Hostile {
  node: TestNode;
  clock: TestClock;
  /** Alice, signed in to her `default` space with KV and SQL. */
  alice: KvClient;
  /** `<space>/sql/notes`. */
  notes: string;
  /** The UCAN delegation alice gave bob (kv/get on `docs/`). */
  bobGrant: CID;
  /** A fresh token for SQL as alice. */
  sqlToken(ability: string, extra?: Attenuations, facts?: Record<string, unknown>[]): string;
  destroy(): Promise<void>;
}

/**
 * A real node (admin secret set, FileSystem staging so partial bodies would show up as files) with alice's
 * seeded data: a few KV values, a SQL table, a delegation to bob.
 */
export async function startHostileNode(env: Record<string, string> = {}): Promise<Hostile> {
  const clock = new TestClock();
  const node = await startTestNode({
    clock: clock.read,
    env: { TINYCLOUD_ADMIN_SECRET: ADMIN_SECRET, TINYCLOUD_STORAGE_STAGING: 'FileSystem', ...env },
  });
  const space = alice.space('default');
  const session = await signIn(node, alice, 'default', aliceSession(space));
  const kv = new KvClient(node, alice, session.space, session.sessionCid, clock);
  for (const [key, value] of Object.entries(SEED_KV)) {
    const put = await kv.put(key, value, { 'content-type': 'text/plain' });
    if (put.status !== 200) throw new Error(`seed ${key}: ${put.status} ${await put.text()}`);
  }
  const notes = `${space}/sql/notes`;
  const sqlToken = (ability: string, extra: Attenuations = {}, facts?: Record<string, unknown>[]) =>
    ucan(alice.session, { att: { [notes]: { [ability]: [{}] }, ...extra }, prf: [session.sessionCid], ...(facts && { facts }) }, clock.now);
  const setup = await post(
    node,
    '/invoke',
    sqlToken('tinycloud.sql/write'),
    JSON.stringify({
      action: 'batch',
      statements: [
        { sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)' },
        ...SEED_ROWS.map(([id, title, body]) => ({ sql: 'INSERT INTO notes VALUES (?, ?, ?)', params: [id, title, body] })),
      ],
    }),
    { 'content-type': 'application/json' },
  );
  if (setup.status !== 200) throw new Error(`seed sql: ${setup.status} ${setup.text}`);
  const grant = ucan(
    alice.session,
    { att: { [`${space}/kv/docs/`]: { 'tinycloud.kv/get': [{}] } }, prf: [session.sessionCid], audience: vmOf(bob.session).split('#')[0], exp: clock.now + 3000 },
    clock.now,
  );
  const delegated = await post(node, '/delegate', grant);
  if (delegated.status !== 200) throw new Error(`bob grant: ${delegated.status} ${delegated.text}`);
  return { node, clock, alice: kv, notes, bobGrant: await cidOfHeader(grant), sqlToken, destroy: () => node.destroy() };
}

/** Alice's KV values, SQL rows and bob's delegation are exactly as seeded, and `/healthz` answers 200. */
export async function expectAliceIntact(h: Hostile, extraKv: Record<string, string> = {}): Promise<void> {
  expect((await fetch(`${h.node.url}/healthz`)).status).toBe(200);
  for (const [key, value] of Object.entries({ ...SEED_KV, ...extraKv })) {
    const got = await h.alice.get(key);
    expect(got.status, key).toBe(200);
    expect(await got.text(), key).toBe(value);
  }
  const rows = await post(h.node, '/invoke', h.sqlToken('tinycloud.sql/read'), JSON.stringify({ action: 'query', sql: 'SELECT id, title, body FROM notes ORDER BY id' }), {
    'content-type': 'application/json',
  });
  expect(rows.status, rows.text).toBe(200);
  expect(rows.json<{ rows: unknown[] }>().rows).toEqual(SEED_ROWS);
  // Bob's grant still works: he reads under docs/.
  const asBob = ucan(bob.session, { att: { [h.alice.resource('docs/readme.txt')]: { 'tinycloud.kv/get': [{}] } }, prf: [h.bobGrant] }, h.clock.now);
  const read = await fetch(`${h.node.url}/invoke`, { method: 'POST', headers: { authorization: asBob } });
  expect(read.status).toBe(200);
  expect(await read.text()).toBe(SEED_KV['docs/readme.txt']);
}

/** Files under the data dir's temp/staging directories (names ending `.stage`/`.part`, or anything in `tmp`). */
export function tempFiles(h: Hostile): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(stage|part|tmp)$/.test(name) || /(^|\/)\.?tmp\//.test(path.relative(h.node.dataDir, full))) found.push(full);
    }
  };
  walk(h.node.dataDir);
  return found;
}

export interface RawAnswer {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: string;
  /** The raw bytes the server sent. */
  raw: Buffer;
}

/**
 * Send exact bytes over TCP and read until the server closes, or until a complete response (by Content-Length
 * or chunked end) has arrived, or until `timeoutMs`. `keepOpen` leaves our side of the socket writable.
 */
export function rawRequest(url: string, bytes: string | Buffer | (string | Buffer)[], timeoutMs = 5000): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const first = (Array.isArray(bytes) ? bytes[0] : bytes) ?? '';
  const head = /^(HEAD|CONNECT) /.test(typeof first === 'string' ? first : first.toString('latin1', 0, 10));
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const received: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(received);
      const parsed = parseResponse(all);
      if (!parsed) reject(new Error(`no HTTP response (got ${JSON.stringify(all.toString('latin1').slice(0, 200))})`));
      else resolve(parsed);
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk) => {
      received.push(chunk);
      const parsed = parseResponse(Buffer.concat(received), head);
      if (parsed && parsed.complete) finish();
    });
    socket.on('error', () => finish());
    socket.on('close', finish);
    socket.on('connect', () => {
      for (const part of Array.isArray(bytes) ? bytes : [bytes]) socket.write(part);
    });
  });
}

function parseResponse(all: Buffer, bodiless = false): (RawAnswer & { complete: boolean }) | undefined {
  const end = all.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = all.subarray(0, end).toString('latin1');
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  if (!status) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = all.subarray(end + 4);
  let complete = false;
  if (bodiless) complete = true;
  else if (headers['content-length'] !== undefined) {
    complete = body.length >= Number(headers['content-length']);
    body = body.subarray(0, Number(headers['content-length']));
  } else if (headers['transfer-encoding'] === 'chunked') {
    complete = body.includes('0\r\n\r\n');
    body = dechunk(body);
  }
  return { status, head, headers, body: body.toString('utf8'), raw: all, complete };
}

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) break;
    out.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** A request head (HTTP/1.1, Host set, Connection: close) with the given extra header lines. */
export function head(method: string, target: string, lines: string[] = []): string {
  return `${method} ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
}

/** A plain-text error: the status, a text/plain type and a message that says something. */
export function expectPlainError(answer: { status: number; headers: Record<string, string> | Headers; body?: string }, status: number | number[], pattern?: RegExp): void {
  const statuses = Array.isArray(status) ? status : [status];
  expect(statuses, `${answer.status} ${answer.body ?? ''}`).toContain(answer.status);
  const type = answer.headers instanceof Headers ? answer.headers.get('content-type') : answer.headers['content-type'];
  expect(type ?? '').toMatch(/^text\/plain/);
  if (answer.body !== undefined) {
    expect(answer.body.length).toBeGreaterThan(0);
    expect(answer.body).not.toMatch(/at .*\.ts:\d+|node_modules|SQLITE_|Error: /);
    if (pattern) expect(answer.body).toMatch(pattern);
  }
}
