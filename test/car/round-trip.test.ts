import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarBlockIterator } from '@ipld/car/iterator';
import { alice, bob, TestClock } from '../auth-engine/support.js';
import { decodeUcanEnvelope } from '../../src/core/auth/envelope.js';
import { unwrap } from '../../src/core/result.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { KvClient, delegateTo, expectOk, exportToFile, importFile, spaceState, startCarNode } from './support.js';

describe('CAR round trip', () => {
  const clock = new TestClock();
  const dir = tempDir('tinycloud-car-');
  let source: TestNode;
  let target: TestNode;
  let a: KvClient;

  beforeAll(async () => {
    source = await startCarNode(clock);
    target = await startCarNode(clock);
    a = await KvClient.signIn(source, alice, clock);
    await expectOk(a.put('notes/a.txt', 'first', { 'content-type': 'text/plain', 'x-tinycloud-meta-colour': 'red' }));
    clock.advance(1);
    await expectOk(a.put('notes/a.txt', 'second version', { 'content-type': 'text/plain' }));
    clock.advance(1);
    await expectOk(a.put('notes/a.txt', 'third', { 'content-language': 'fr', 'x-tinycloud-meta-b': '2', 'x-tinycloud-meta-a': '1' }));
    await expectOk(a.put('photos/cat.bin', randomBytes(3 * 1024 * 1024), { 'content-type': 'image/x-cat' }));
    await expectOk(a.put('same/one', 'dup'));
    await expectOk(a.put('same/two', 'dup'));
    await expectOk(a.put('gone/soon', 'bye'));
    await expectOk(a.kv('tinycloud.kv/del', 'gone/soon'));
    await expectOk(a.kv('tinycloud.kv/del', 'gone/soon'));
    await expectOk(a.put('gone/soon', 'back'));
    await expectOk(a.put('empty', ''));
    // Writers that reach the node in one turn share a group commit, and so an epoch with several events. Over
    // HTTP that depends on timing; authorized first and handed to the KV service together, it does not.
    const together = [];
    for (let i = 0; i < 4; i++) {
      const token = a.token({ [a.resource(`together/${i}`)]: { 'tinycloud.kv/put': [{}] } });
      together.push(unwrap(await source.node.auth.authorizeInvocation(unwrap(await decodeUcanEnvelope(token)))));
    }
    const written = await Promise.all(
      together.map((invocation, i) =>
        source.node.kv.invoke(invocation.envelope, { headers: {}, body: (async function* () { yield Buffer.from(`value ${i}`); })() }),
      ),
    );
    expect(written.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const form = new FormData();
    form.append('batch/x', new Blob(['ex'], { type: 'text/x' }));
    form.append('batch/y', new Blob([randomBytes(100_000)]));
    await expectOk(a.invoke({ [a.resource('batch/x')]: { 'tinycloud.kv/put': [{}] }, [a.resource('batch/y')]: { 'tinycloud.kv/put': [{}] } }, { body: form }));
    const child = await delegateTo(source, a, bob, { [a.resource('shared/')]: { 'tinycloud.kv/put': [{}], 'tinycloud.kv/get': [{}] } }, clock);
    await expectOk(a.invoke({ [a.resource('shared/from-bob')]: { 'tinycloud.kv/put': [{}] } }, { as: bob, prf: [child], body: 'hello from bob' }));
  }, 120_000);
  afterAll(async () => {
    await source?.destroy();
    await target?.destroy();
  });

  it('imports into a fresh data dir with every key, version, ETag, byte, delegation and epoch identical; re-export is byte-identical', async () => {
    const file = path.join(dir, 'full.car');
    const summary = await exportToFile(source.node, a.space, file);
    expect(summary.counts).toMatchObject({ delegations: 3, revocations: 0 });
    const shared = await source.node.metadata.db
      .selectFrom('event_order')
      .select((eb) => eb.fn.countAll<number>().as('events'))
      .where('space', '=', a.space)
      .groupBy('epoch')
      .having((eb) => eb.fn.countAll(), '>', 1)
      .execute();
    expect(shared.length).toBeGreaterThan(0);
    const events = summary.counts.delegations + summary.counts.invocations;
    expect(summary.counts.epochs).toBe(events - shared.reduce((n, row) => n + Number(row.events) - 1, 0));

    // Any CAR reader sees a valid CARv1 whose root is the manifest.
    const iterator = await CarBlockIterator.fromIterable((async function* () { yield readFileSync(file); })());
    expect((await iterator.getRoots()).map(String)).toEqual([summary.root]);
    let blocks = 0;
    for await (const _ of iterator) blocks++;
    expect(blocks).toBe(summary.blocks);

    const report = await importFile(target.node, file);
    expect(report.createdSpace).toBe(true);
    expect(report.added.epochs).toBe(summary.counts.epochs);
    expect(report.heads).toEqual(summary.heads);

    const b = new KvClient(target, alice, a.space, a.sessionCid, clock);
    expect(await spaceState(target, b)).toEqual(await spaceState(source, a));

    const again = path.join(dir, 'again.car');
    await exportToFile(target.node, a.space, again);
    expect(readFileSync(again).equals(readFileSync(file))).toBe(true);
    const twice = path.join(dir, 'twice.car');
    await exportToFile(source.node, a.space, twice);
    expect(readFileSync(twice).equals(readFileSync(file))).toBe(true);
  });
});
