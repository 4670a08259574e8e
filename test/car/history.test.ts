import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TinyCloudError } from '../../src/core/errors.js';
import { alice, base32, bob, mallory, post, ucan, TestClock } from '../auth-engine/support.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { KvClient, delegateTo, expectOk, exportToFile, importFile, spaceState, startCarNode } from './support.js';

describe('CAR history: idempotence, incremental exports, merges, chains on another node', () => {
  const clock = new TestClock();
  const dir = tempDir('tinycloud-car-history-');
  const nodes: TestNode[] = [];
  const node = async () => {
    const n = await startCarNode(clock);
    nodes.push(n);
    return n;
  };
  let source: TestNode;
  let a: KvClient;
  const file = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    source = await node();
    a = await KvClient.signIn(source, alice, clock);
    await expectOk(a.put('k/one', '1'));
    await expectOk(a.put('k/two', '2', { 'x-tinycloud-meta-n': 'two' }));
    await exportToFile(source.node, a.space, file('base.car'));
  }, 120_000);
  afterAll(async () => {
    for (const n of nodes) await n.destroy();
  });

  it('importing the same file twice changes nothing the second time', async () => {
    const target = await node();
    const first = await importFile(target.node, file('base.car'));
    expect(first.added.epochs).toBeGreaterThan(0);
    const b = new KvClient(target, alice, a.space, a.sessionCid, clock);
    const before = await spaceState(target, b);
    const second = await importFile(target.node, file('base.car'));
    expect(second.added).toEqual({ epochs: 0, delegations: 0, invocations: 0, revocations: 0, ops: 0, proofs: 0, blobs: 0, blobBytes: 0 });
    expect(second.existing.epochs).toBe(first.added.epochs);
    expect(second.createdSpace).toBe(false);
    expect(await spaceState(target, b)).toEqual(before);
  });

  it('an incremental export (--since the base heads) on top of the base equals a full export', async () => {
    const base = JSON.parse(JSON.stringify((await exportToFile(source.node, a.space, file('base2.car'))).heads)) as string[];
    await expectOk(a.put('k/one', 'one, again'));
    await expectOk(a.kv('tinycloud.kv/del', 'k/two'));
    await expectOk(a.put('k/three', '3'));
    const incremental = await exportToFile(source.node, a.space, file('incremental.car'), { since: base });
    expect(incremental.since).toEqual(base);
    expect(incremental.counts.epochs).toBe(3);
    expect(incremental.counts.blobs).toBe(2);
    const full = await exportToFile(source.node, a.space, file('full.car'));

    const fresh = await node();
    const missingBase = await importFile(fresh.node, file('incremental.car')).catch((e: unknown) => e);
    expect((missingBase as TinyCloudError).code).toBe('CAR_INVALID');
    expect((missingBase as Error).message).toMatch(/import the export it continues first/);

    await importFile(fresh.node, file('base.car'));
    const report = await importFile(fresh.node, file('incremental.car'));
    expect(report.added.epochs).toBe(3);
    expect(report.heads).toEqual(full.heads);
    await exportToFile(fresh.node, a.space, file('rebuilt.car'));
    expect(readFileSync(file('rebuilt.car')).equals(readFileSync(file('full.car')))).toBe(true);
  });

  it('two nodes that diverged after a restore merge both ways into the same state (LWW by epoch position)', async () => {
    const restored = await node();
    await importFile(restored.node, file('full.car'));
    // Each side writes on: the same key on both, and keys of its own.
    const there = await KvClient.signIn(restored, alice, clock);
    await expectOk(there.put('k/one', 'written on the restored node'));
    await expectOk(there.put('k/restored-only', 'r'));
    await expectOk(a.put('k/one', 'written on the source'));
    await expectOk(a.put('k/source-only', 's'));

    const fromSource = await exportToFile(source.node, a.space, file('source-now.car'));
    const fromRestored = await exportToFile(restored.node, a.space, file('restored-now.car'));
    const intoRestored = await importFile(restored.node, file('source-now.car'));
    const intoSource = await importFile(source.node, file('restored-now.car'));
    expect(intoRestored.added.epochs).toBe(2);
    expect(intoSource.added.epochs).toBe(3);
    expect(intoRestored.heads).toHaveLength(2);
    expect(intoRestored.heads.sort()).toEqual(intoSource.heads.sort());
    expect([...fromSource.heads, ...fromRestored.heads].sort()).toEqual(intoSource.heads.sort());

    const current = async (n: TestNode) =>
      (await n.node.metadata.db.selectFrom('current_kv').select(['key', 'value', 'deleted', 'seq', 'epoch_seq']).where('space', '=', a.space).orderBy('key').execute()).map((r) => ({
        ...r,
        value: r.value && Buffer.from(r.value).toString('hex'),
      }));
    expect(await current(restored)).toEqual(await current(source));
    const one = await expectOk(there.get('k/one'));
    // The restored node's write sits one epoch later (its session delegation came first), so it wins everywhere.
    expect(await one.text()).toBe('written on the restored node');
    expect(await (await expectOk(a.get('k/one'))).text()).toBe('written on the restored node');
    expect(await (await expectOk(a.get('k/restored-only'))).text()).toBe('r');
    expect(await (await expectOk(there.get('k/source-only'))).text()).toBe('s');
  });

  it('a delegation chain imported on another node authorizes the same invocations there; a revoked one stays revoked', async () => {
    const owner = await node();
    const o = await KvClient.signIn(owner, alice, clock, 'shared');
    const toBob = await delegateTo(owner, o, bob, { [o.resource('team/')]: { 'tinycloud.kv/put': [{}], 'tinycloud.kv/get': [{}] } }, clock);
    const toMallory = await delegateTo(owner, o, mallory, { [o.resource('team/')]: { 'tinycloud.kv/get': [{}] } }, clock);
    await expectOk(o.invoke({ [o.resource('team/plan')]: { 'tinycloud.kv/put': [{}] } }, { as: bob, prf: [toBob], body: 'bob was here' }));
    const revoked = await post(owner, '/revoke', ucan(alice.session, { att: { [`urn:cid:${base32(toMallory)}`]: { 'tinycloud.delegation/revoke': [{}] } } }, clock.now));
    expect(revoked.status).toBe(200);
    const summary = await exportToFile(owner.node, o.space, file('shared.car'));
    expect(summary.counts.revocations).toBe(1);

    const other = await node();
    const report = await importFile(other.node, file('shared.car'));
    expect(report.added.revocations).toBe(1);
    const peer = await (await fetch(`${other.url}/peer/generate/${encodeURIComponent(o.space)}`)).text();
    const sourcePeer = await (await fetch(`${owner.url}/peer/generate/${encodeURIComponent(o.space)}`)).text();
    expect(peer).not.toBe(sourcePeer);

    const there = new KvClient(other, alice, o.space, o.sessionCid, clock);
    const read = await there.invoke({ [o.resource('team/plan')]: { 'tinycloud.kv/get': [{}] } }, { as: bob, prf: [toBob] });
    expect([read.status, await read.text()]).toEqual([200, 'bob was here']);
    await expectOk(there.invoke({ [o.resource('team/next')]: { 'tinycloud.kv/put': [{}] } }, { as: bob, prf: [toBob], body: 'written after the move' }));
    const outside = await there.invoke({ [o.resource('private/x')]: { 'tinycloud.kv/put': [{}] } }, { as: bob, prf: [toBob], body: 'no' });
    expect(outside.status).toBe(401);
    const stillRevoked = await there.invoke({ [o.resource('team/plan')]: { 'tinycloud.kv/get': [{}] } }, { as: mallory, prf: [toMallory] });
    expect(stillRevoked.status).toBe(401);
    // The owner's own session works there too.
    expect(await (await expectOk(there.get('team/next'))).text()).toBe('written after the move');
  });
});
