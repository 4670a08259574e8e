import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alice, bob, cacaoHeader, cidOfHeader, host, post, siweFields, ucan, TestClock } from '../auth-engine/support.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { KvClient, expectOk, exportToFile, startCarNode } from './support.js';

const EXPORT = 'tinycloud.space/export';
const IMPORT = 'tinycloud.space/import';

describe('export and import over /invoke (tinycloud.space/export, tinycloud.space/import)', () => {
  const clock = new TestClock();
  const dir = tempDir('tinycloud-car-online-');
  let source: TestNode;
  let target: TestNode;
  let a: KvClient;
  let ownerToken: (ability: string, node: TestNode) => Promise<string>;

  beforeAll(async () => {
    source = await startCarNode(clock);
    target = await startCarNode(clock);
    a = await KvClient.signIn(source, alice, clock);
    await expectOk(a.put('doc', 'over the wire'));
    // The owner's wallet delegates export/import on <space>/space to her session key, as the CLI does.
    ownerToken = async (ability, node) => {
      const att = { [`${a.space}/space`]: { [EXPORT]: [{}], [IMPORT]: [{}] } };
      const session = cacaoHeader(siweFields(alice, { att }), alice);
      const answer = await post(node, '/delegate', session);
      if (answer.status !== 200) throw new Error(`${answer.status} ${answer.text}`);
      return ucan(alice.session, { att: { [`${a.space}/space`]: { [ability]: [{}] } }, prf: [await cidOfHeader(session)] }, clock.now);
    };
  }, 120_000);
  afterAll(async () => {
    await source?.destroy();
    await target?.destroy();
  });

  const invoke = (node: TestNode, token: string, body?: Uint8Array, headers: Record<string, string> = {}) =>
    fetch(`${node.url}/invoke`, { method: 'POST', headers: { authorization: token, ...headers }, ...(body && { body }) });

  it('the owner streams the same CAR the node exports in-process; others need the capability', async () => {
    const token = await ownerToken(EXPORT, source);
    const response = await invoke(source, token);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.ipld.car');
    const online = Buffer.from(await response.arrayBuffer());
    const file = path.join(dir, 'local.car');
    const summary = await exportToFile(source.node, a.space, file);
    expect(response.headers.get('x-tinycloud-car-root')).toBe(summary.root);
    expect(online.equals(readFileSync(file))).toBe(true);

    const stranger = await invoke(source, ucan(bob.session, { att: { [`${a.space}/space`]: { [EXPORT]: [{}] } } }, clock.now));
    expect(stranger.status).toBe(401);
    const kvOnly = await invoke(source, a.token({ [`${a.space}/space`]: { [EXPORT]: [{}] } }));
    expect(kvOnly.status).toBe(401);
  });

  it('a delegate holding tinycloud.space/export may export; --since travels as x-tinycloud-since', async () => {
    const owner = await ownerToken(EXPORT, source);
    const full = Buffer.from(await (await invoke(source, owner)).arrayBuffer());
    const file = path.join(dir, 'full.car');
    const summary = await exportToFile(source.node, a.space, file);
    expect(full.equals(readFileSync(file))).toBe(true);

    // alice's owner-delegated session (which holds space/export) delegates it on to bob.
    const att = { [`${a.space}/space`]: { [EXPORT]: [{}] } };
    const session = cacaoHeader(siweFields(alice, { att }), alice);
    expect((await post(source, '/delegate', session)).status).toBe(200);
    const toBob = ucan(alice.session, { att, prf: [await cidOfHeader(session)], audience: bob.sessionDid, exp: clock.now + 600 }, clock.now);
    expect((await post(source, '/delegate', toBob)).status).toBe(200);
    await expectOk(a.put('later', 'after'));
    const asBob = ucan(bob.session, { att, prf: [await cidOfHeader(toBob)] }, clock.now);
    const incremental = await invoke(source, asBob, undefined, { 'x-tinycloud-since': summary.heads.join(',') });
    expect(incremental.status).toBe(200);
    const bytes = Buffer.from(await incremental.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.length).toBeLessThan(full.length);

    const unknown = await invoke(source, await ownerToken(EXPORT, source), undefined, { 'x-tinycloud-since': 'bafyreinotacid' });
    expect(unknown.status).toBe(400);
  });

  it('the owner imports into a node that hosts the space; a file of another space is refused', async () => {
    const file = path.join(dir, 'import.car');
    await exportToFile(source.node, a.space, file);
    // The target must host the space first (the owner's host delegation to this node's key).
    const notHosted = await invoke(target, await ownerToken(IMPORT, target), readFileSync(file));
    expect(notHosted.status).toBe(404);
    await host(target, alice, a.space);
    const response = await invoke(target, await ownerToken(IMPORT, target), readFileSync(file), { 'content-type': 'application/vnd.ipld.car' });
    expect(response.status).toBe(200);
    const report = (await response.json()) as { space: string; added: { epochs: number }; createdSpace: boolean };
    expect(report).toMatchObject({ space: a.space, createdSpace: false });
    expect(report.added.epochs).toBeGreaterThan(0);

    const b = await KvClient.signIn(target, alice, clock, 'other');
    const wrongSpace = await invoke(target, await (async () => {
      const att = { [`${b.space}/space`]: { [IMPORT]: [{}] } };
      const session = cacaoHeader(siweFields(alice, { att }), alice);
      await post(target, '/delegate', session);
      return ucan(alice.session, { att, prf: [await cidOfHeader(session)] }, clock.now);
    })(), readFileSync(file));
    expect(wrongSpace.status).toBe(403);
    expect(await wrongSpace.text()).toContain(`holds ${a.space}`);

    const tampered = readFileSync(file);
    tampered[tampered.length - 5] ^= 1;
    const refused = await invoke(target, await ownerToken(IMPORT, target), tampered);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/hash/);
  });
});
