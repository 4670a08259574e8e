import { rmSync } from 'node:fs';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initDataDir } from '../../src/core/datadir.js';
import { startTestNode, tempDir, type TestNode } from '../support/test-node.js';
import { alice, bob, cidOfHeader, post, signIn, TestClock, ucan, type SignedIn } from './support.js';

/** Counts every statement sent through the node's Kysely instance (raw SQL included). */
class StatementCounter implements KyselyPlugin {
  readonly kinds: string[] = [];
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.kinds.push(args.node.kind);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

describe('invocation budget and single use across restarts', () => {
  const clock = new TestClock();
  const dataDir = tempDir();
  let node: TestNode;
  let a: SignedIn;
  let used: string;

  /**
   * Runs `fn` with every statement counted. The counting Kysely instance is made once, so the engine's
   * per-database caches warm up across calls exactly as they do on the real instance.
   */
  let counted: { original: unknown; db: unknown; counter?: StatementCounter } | undefined;
  const counting = async <T>(fn: () => Promise<T>): Promise<{ result: T; kinds: string[] }> => {
    const metadata = node.node.metadata;
    if (counted?.original !== metadata.db) {
      const counter = new StatementCounter();
      counted = { original: metadata.db, db: metadata.db.withPlugin(counter), counter };
    }
    const original = metadata.db;
    const counter = counted.counter!;
    counter.kinds.length = 0;
    metadata.db = counted.db as typeof original;
    try {
      return { result: await fn(), kinds: [...counter.kinds] };
    } finally {
      metadata.db = original;
    }
  };

  beforeAll(async () => {
    await initDataDir(dataDir);
    node = await startTestNode({ dataDir, clock: clock.read });
    a = await signIn(node, alice);
    used = ucan(alice.session, { att: { [`${a.space}/space`]: { 'tinycloud.space/info': [{}] } }, prf: [a.sessionCid], exp: clock.now + 240 }, clock.now);
    expect((await post(node, '/invoke', used)).status).toBe(200);
    await node.stop();
    node = await startTestNode({ dataDir, clock: clock.read });
  });
  afterAll(async () => {
    await node?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('depth 1 (session → invocation): at most 5 statements; 4 on a cold start, 2 once the chain and space are known', async () => {
    const token = () => ucan(alice.session, { att: { [`${a.space}/space`]: { 'tinycloud.space/info': [{}] } }, prf: [a.sessionCid] }, clock.now);
    const cold = await counting(() => post(node, '/invoke', token()));
    expect(cold.result.status).toBe(200);
    // lineage + revocations (recursive CTE), abilities, space, replay insert
    expect(cold.kinds).toEqual(['RawNode', 'SelectQueryNode', 'SelectQueryNode', 'InsertQueryNode']);
    const warm = await counting(() => post(node, '/invoke', token()));
    expect(warm.result.status).toBe(200);
    // revocations of the cached ancestry, replay insert: revocation is still read on every request
    expect(warm.kinds).toEqual(['SelectQueryNode', 'InsertQueryNode']);
  });

  it('a used invocation stays used after a restart: 409', async () => {
    const again = await post(node, '/invoke', used);
    expect(again.status).toBe(409);
    expect(again.text).toBe('duplicate invocation');
  });

  it('depth 2 (session → bob → invocation) costs the same: the whole chain is one statement', async () => {
    const grant = ucan(alice.session, { att: { [`${a.space}/space`]: { 'tinycloud.space/info': [{}] } }, audience: bob.sessionDid, prf: [a.sessionCid], exp: clock.now + 900 }, clock.now);
    expect((await post(node, '/delegate', grant)).status).toBe(200);
    const invocation = ucan(bob.session, { att: { [`${a.space}/space`]: { 'tinycloud.space/info': [{}] } }, prf: [await cidOfHeader(grant)] }, clock.now);
    const counted = await counting(() => post(node, '/invoke', invocation));
    expect(counted.result.status).toBe(200);
    expect(counted.kinds.length).toBeLessThanOrEqual(4);
  });

  it('a rejected invocation writes nothing', async () => {
    const bad = ucan(bob.session, { att: { [`${a.space}/kv/x`]: { 'tinycloud.kv/put': [{}] } }, prf: [a.sessionCid] }, clock.now);
    const counted = await counting(() => post(node, '/invoke', bad));
    expect(counted.result.status).toBe(401);
    expect(counted.kinds).not.toContain('InsertQueryNode');
  });

  it('expired replay rows are swept; unexpired ones are kept', async () => {
    const db = node.node.metadata.db;
    const rows = async () => Number((await db.selectFrom('invocation_replay').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await rows();
    expect(before).toBeGreaterThan(0);
    expect(await node.node.auth.sweepReplays()).toBe(0);
    clock.advance(300 + 60 + 1);
    expect(await node.node.auth.sweepReplays()).toBe(before);
    expect(await rows()).toBe(0);
    clock.advance(-(300 + 60 + 1));
  });
});
