import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, serverEngines } from '../support/server-databases.js';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { alice, base32, bob, cidOfHeader, post, signIn, TestClock, ucan, type SignedIn } from './support.js';

describe.each(serverEngines)('the authorization engine on %s', (name, kind, serverUrl) => {
  const clock = new TestClock();
  let node: TestNode | undefined;
  let a: SignedIn;

  beforeAll(async () => {
    if (!serverUrl) return;
    const database = await freshDatabase(kind, serverUrl, 'tc_auth_');
    node = await startTestNode({ clock: clock.read, env: { TINYCLOUD_STORAGE_DATABASE: database } });
    a = await signIn(node, alice);
  });
  afterAll(async () => node?.destroy());

  it.runIf(serverUrl !== undefined)('delegates, invokes once, walks the chain, revokes', async () => {
    const n = node as TestNode;
    const probe = { [`${a.space}/space`]: { 'tinycloud.space/info': [{}] } };
    const token = ucan(alice.session, { att: probe, prf: [a.sessionCid] }, clock.now);
    expect((await post(n, '/invoke', token)).status).toBe(200);
    expect((await post(n, '/invoke', token)).status).toBe(409);

    const grant = ucan(alice.session, { att: probe, audience: bob.sessionDid, prf: [a.sessionCid], exp: clock.now + 900 }, clock.now);
    const delegated = await post(n, '/delegate', grant);
    expect(delegated.status).toBe(200);
    expect(delegated.json()).toMatchObject({ activated: [a.space], skipped: [] });
    const grantCid = await cidOfHeader(grant);
    expect((await post(n, '/invoke', ucan(bob.session, { att: probe, prf: [grantCid] }, clock.now))).status).toBe(200);

    const read = await post(n, '/invoke', ucan(alice.session, { att: { [`${a.space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] } }, prf: [a.sessionCid] }, clock.now));
    expect(read.status).toBe(200);
    expect(Object.keys(read.json<object>())).toEqual(expect.arrayContaining([base32(a.sessionCid), base32(grantCid)]));

    const revoked = await post(n, '/revoke', ucan(alice.session, { att: { [`urn:cid:${base32(grantCid)}`]: { 'tinycloud.delegation/revoke': [{}] } }, prf: [a.sessionCid] }, clock.now));
    expect(revoked.status).toBe(200);
    const denied = await post(n, '/invoke', ucan(bob.session, { att: probe, prf: [grantCid] }, clock.now));
    expect(denied.status).toBe(401);
    expect(denied.text).toMatch(/^delegation-revoked/);
  });

  it.runIf(serverUrl === undefined && !process.env.CI)(`is not run: ${name} is not installed here`, () => {
    expect(serverUrl).toBeUndefined();
  });
});
