import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { alice, base32, cacaoHeader, cidOfHeader, get, host, post, sessionAtt, siweFields, TestClock, ucan, type Principal } from './support.js';

/** WIRE §2.11 driven step by step, as the SDK does it, with alice's ethers wallet and an Ed25519 session key. */
describe('SDK sign-in flow', () => {
  const clock = new TestClock();
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ clock: clock.read });
  });
  afterAll(async () => node?.destroy());

  const invoke = (p: Principal, att: Parameters<typeof ucan>[1]) => post(node, '/invoke', ucan(p.session, att, clock.now));

  it('/info → session (skipped) → /peer/generate → host → session again → invoke', async () => {
    const info = await get(node, '/info');
    expect(info.status).toBe(200);
    expect(info.json<{ protocol: number; features: string[] }>()).toMatchObject({ protocol: 1 });
    expect(info.json<{ features: string[] }>().features).toEqual(expect.arrayContaining(['delegation', 'sharing']));

    const space = alice.space('default');
    const session = cacaoHeader(siweFields(alice, { att: sessionAtt(space) }), alice);
    const sessionCid = await cidOfHeader(session);

    const first = await post(node, '/delegate', session);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    expect(first.json()).toEqual({ cid: base32(sessionCid), activated: [], skipped: [space] });

    // Before hosting, an otherwise valid invocation names a space that does not exist.
    const early = await invoke(alice, { att: { [`${space}/space`]: { 'tinycloud.space/info': [{}] } }, prf: [sessionCid] });
    expect(early.status).toBe(404);
    expect(early.text).toBe('Space not found');

    const peer = await get(node, `/peer/generate/${encodeURIComponent(space)}`);
    expect(peer.status).toBe(200);
    expect(peer.text).toMatch(/^did:key:z6Mk/);
    await host(node, alice, space);

    const again = await post(node, '/delegate', session);
    expect(again.status).toBe(200);
    // The re-post stores nothing new but puts the session into the new space's history.
    expect(again.json()).toEqual({ cid: base32(sessionCid), activated: [space], skipped: [] });
    const third = await post(node, '/delegate', session);
    expect(third.json()).toEqual({ cid: base32(sessionCid), activated: [], skipped: [] });

    const probe = await invoke(alice, { att: { [`${space}/space`]: { 'tinycloud.space/info': [{}] } }, prf: [sessionCid] });
    expect(probe.status).toBe(200);
    expect(probe.text).toBe('');

    const read = await invoke(alice, { att: { [`${space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] } }, prf: [sessionCid] });
    expect(read.status).toBe(200);
    const listed = read.json<Record<string, { delegator: string; delegate: string; raw: string }>>();
    expect(Object.keys(listed)).toContain(base32(sessionCid));
    expect(listed[base32(sessionCid)]).toMatchObject({ delegator: alice.pkh, delegate: alice.sessionDid, raw: session });
  });

  it('the host delegation is the only way in: mallory cannot host alice\'s space', async () => {
    const space = alice.space('photos');
    const peer = await get(node, `/peer/generate/${encodeURIComponent(space)}`);
    const att = { [`${space}/space`]: { 'tinycloud.space/host': [{}] } };
    const forged = cacaoHeader(siweFields(alice, { att, audience: peer.text, expirationTime: null }), (await import('./support.js')).mallory);
    const answer = await post(node, '/delegate', forged);
    expect(answer.status).toBe(401);
    expect(answer.text).toBe('Failed to verify signature');
  });
});
