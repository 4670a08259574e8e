import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alice, bob, TestClock } from '../auth-engine/support.js';
import { freshDatabase, serverEngines } from '../support/server-databases.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { KvClient, delegateTo, expectOk, exportToFile, importFile, spaceState, startCarNode } from './support.js';

describe.each(serverEngines)('CAR export and import on %s', (_name, kind, serverUrl) => {
  const clock = new TestClock();
  const dir = tempDir('tinycloud-car-engines-');
  let sqlite: TestNode;
  let server: TestNode | undefined;
  let again: TestNode | undefined;
  let a: KvClient;

  beforeAll(async () => {
    if (!serverUrl) return;
    sqlite = await startCarNode(clock);
    server = await startCarNode(clock, { TINYCLOUD_STORAGE_DATABASE: await freshDatabase(kind, serverUrl, 'tc_car_') });
    again = await startCarNode(clock, { TINYCLOUD_STORAGE_DATABASE: await freshDatabase(kind, serverUrl, 'tc_car_') });
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
