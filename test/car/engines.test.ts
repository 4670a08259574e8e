import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alice, bob, TestClock } from '../auth-engine/support.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { KvClient, delegateTo, expectOk, exportToFile, importFile, spaceState, startCarNode } from './support.js';

async function freshDatabase(kind: 'postgres' | 'mysql', serverUrl: string): Promise<string> {
  const name = `tc_car_${randomBytes(6).toString('hex')}`;
  const url = new URL(serverUrl);
  if (kind === 'postgres') {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
  } else {
    const connection = await createConnection({ uri: serverUrl });
    await connection.query(`CREATE DATABASE ${name}`);
    await connection.end();
  }
  url.pathname = `/${name}`;
  return url.toString();
}

const engines: ['PostgreSQL' | 'MariaDB', 'postgres' | 'mysql', string | undefined][] = [
  ['PostgreSQL', 'postgres', process.env.TINYCLOUD_TEST_POSTGRES_URL],
  ['MariaDB', 'mysql', process.env.TINYCLOUD_TEST_MYSQL_URL],
];

describe.each(engines)('CAR export and import on %s', (_name, kind, serverUrl) => {
  const clock = new TestClock();
  const dir = tempDir('tinycloud-car-engines-');
  let sqlite: TestNode;
  let server: TestNode | undefined;
  let again: TestNode | undefined;
  let a: KvClient;

  beforeAll(async () => {
    if (!serverUrl) return;
    sqlite = await startCarNode(clock);
    server = await startCarNode(clock, { TINYCLOUD_STORAGE_DATABASE: await freshDatabase(kind, serverUrl) });
    again = await startCarNode(clock, { TINYCLOUD_STORAGE_DATABASE: await freshDatabase(kind, serverUrl) });
    a = await KvClient.signIn(sqlite, alice, clock);
    await expectOk(a.put('k', 'v1', { 'x-tinycloud-meta-x': 'y' }));
    await expectOk(a.put('k', 'v2'));
    await expectOk(a.put('blob', randomBytes(300_000)));
    await expectOk(a.kv('tinycloud.kv/del', 'k'));
    const grant = await delegateTo(sqlite, a, bob, { [a.resource('shared/')]: { 'tinycloud.kv/put': [{}] } }, clock);
    await expectOk(a.invoke({ [a.resource('shared/b')]: { 'tinycloud.kv/put': [{}] } }, { as: bob, prf: [grant], body: 'from bob' }));
  }, 120_000);
  afterAll(async () => {
    await sqlite?.destroy();
    await server?.destroy();
    await again?.destroy();
  });

  it.runIf(serverUrl !== undefined)('SQLite → server → server round trip: same state, same bytes', async () => {
    const first = path.join(dir, 'sqlite.car');
    await exportToFile(sqlite.node, a.space, first);
    await importFile(server!.node, first);
    const b = new KvClient(server!, alice, a.space, a.sessionCid, clock);
    const mine = await spaceState(sqlite, a);
    const theirs = await spaceState(server!, b);
    expect(theirs.objects).toEqual(mine.objects);
    expect(theirs.epochs).toEqual(mine.epochs);
    expect(theirs.eventOrder).toEqual(mine.eventOrder);
    const second = path.join(dir, 'server.car');
    await exportToFile(server!.node, a.space, second);
    expect(readFileSync(second).equals(readFileSync(first))).toBe(true);
    await importFile(again!.node, second);
    const third = path.join(dir, 'again.car');
    await exportToFile(again!.node, a.space, third);
    expect(readFileSync(third).equals(readFileSync(first))).toBe(true);
    expect((await importFile(again!.node, second)).added.epochs).toBe(0);
  });
});
