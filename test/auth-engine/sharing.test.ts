import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowlistKey } from '../../src/core/auth/engine/index.js';
import { didKeyFromEd25519, generateEd25519Key, spaceIdFor } from '../../src/core/auth/index.js';
import { unwrap } from '../../src/core/result.js';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { alice, base32, bob, cacaoHeader, cidOfHeader, get, mallory, post, signIn, siweFields, TestClock, ucan, type SignedIn } from './support.js';

describe('sharing: status, capabilities read, caveats, epochs', () => {
  const clock = new TestClock();
  let node: TestNode;
  let a: SignedIn;
  const kv = (path: string) => `${a.space}/kv/${path}`;
  const statusOf = (key: typeof alice.session, cid: string, prf: Parameters<typeof ucan>[1]['prf'] = [], body: unknown = { cid }, contentType = 'application/json') =>
    post(node, '/delegation/status', ucan(key, { att: { [`urn:cid:${cid}`]: { 'tinycloud.delegation/status': [{}] } }, prf }, clock.now), JSON.stringify(body), { 'content-type': contentType });
  const read = (key: typeof alice.session, prf: Parameters<typeof ucan>[1]['prf'], facts?: Record<string, unknown>[]) =>
    post(node, '/invoke', ucan(key, { att: { [`${a.space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] } }, prf, ...(facts && { facts }) }, clock.now));

  let grant: string;
  let grantCid: string;
  beforeAll(async () => {
    node = await startTestNode({ clock: clock.read });
    a = await signIn(node, alice);
    grant = ucan(alice.session, { att: { [kv('shared/')]: { 'tinycloud.kv/get': [{}], 'tinycloud.kv/list': [{}] }, [`${a.space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] } }, audience: bob.sessionDid, prf: [a.sessionCid], exp: clock.now + 1200 }, clock.now);
    expect((await post(node, '/delegate', grant)).status).toBe(200);
    grantCid = base32(await cidOfHeader(grant));
  });
  afterAll(async () => node?.destroy());

  describe('/delegation/status', () => {
    it('alice (through her session\'s control proof) sees it active', async () => {
      const answer = await statusOf(alice.session, grantCid, [a.sessionCid]);
      expect(answer.status).toBe(200);
      expect(answer.json()).toEqual({ cid: grantCid, status: 'active', exists: true, active: true, revoked: false, expired: false });
    });

    it('bob, its delegatee, sees it without a proof', async () => {
      expect((await statusOf(bob.session, grantCid)).json()).toMatchObject({ status: 'active' });
    });

    it('mallory learns nothing: the same 404 as for a missing delegation', async () => {
      const hers = await statusOf(mallory.session, grantCid);
      expect(hers.status).toBe(404);
      expect(hers.json()).toEqual({ cid: grantCid, status: 'not_found', exists: false, active: false, revoked: false, expired: false });
      const missing = base32(await cidOfHeader('x.y.z'));
      const none = await statusOf(alice.session, missing, [a.sessionCid]);
      expect(none.status).toBe(404);
      expect(none.json()).toMatchObject({ status: 'not_found', exists: false });
    });

    it('the body must name the invocation\'s cid; only JSON requests match; tokens are single use', async () => {
      expect((await statusOf(alice.session, grantCid, [a.sessionCid], { cid: base32(a.sessionCid) })).status).toBe(400);
      expect((await statusOf(alice.session, grantCid, [a.sessionCid], { cid: grantCid }, 'text/plain')).status).toBe(404);
      const token = ucan(bob.session, { att: { [`urn:cid:${grantCid}`]: { 'tinycloud.delegation/status': [{}] } } }, clock.now);
      const send = () => post(node, '/delegation/status', token, JSON.stringify({ cid: grantCid }), { 'content-type': 'application/json' });
      expect((await send()).status).toBe(200);
      expect((await send()).status).toBe(409);
    });

    it('expired once its time passes', async () => {
      clock.advance(1300);
      try {
        const fresh = await signIn(node, alice, 'default');
        expect((await statusOf(alice.session, grantCid, [fresh.sessionCid])).json()).toMatchObject({ status: 'expired', expired: true, active: false });
      } finally {
        clock.advance(-1300);
      }
    });
  });

  describe('tinycloud.capabilities/read', () => {
    it('lists live delegations naming the space, with parents and the raw header', async () => {
      const answer = await read(alice.session, [a.sessionCid]);
      expect(answer.status).toBe(200);
      const listed = answer.json<Record<string, { delegator: string; delegate: string; parents: string[]; raw: string; capabilities: { resource: string; ability: string }[] }>>();
      expect(listed[grantCid]).toMatchObject({ delegator: alice.sessionDid, delegate: bob.sessionDid, parents: [base32(a.sessionCid)], raw: grant });
      expect(listed[grantCid]!.capabilities).toContainEqual({ resource: kv('shared/'), ability: 'tinycloud.kv/get', caveats: {} });
    });

    it('filters by direction, path and actions', async () => {
      const incoming = (await read(bob.session, [grantCid], [{ capabilitiesReadParams: { type: 'list', filters: { direction: 'incoming' } } }])).json<object>();
      expect(Object.keys(incoming)).toEqual([grantCid]);
      const byPath = (await read(alice.session, [a.sessionCid], [{ capabilitiesReadParams: { type: 'list', filters: { path: 'kv/shared' } } }])).json<object>();
      expect(Object.keys(byPath), JSON.stringify(byPath)).toEqual([grantCid]);
      const byAction = (await read(alice.session, [a.sessionCid], [{ capabilitiesReadParams: { type: 'list', filters: { actions: ['tinycloud.delegation/revoke'] } } }])).json<object>();
      // alice's sessions hold delegation/revoke; bob's grant does not
      expect(Object.keys(byAction)).toContain(base32(a.sessionCid));
      expect(Object.keys(byAction)).not.toContain(grantCid);
      for (const record of Object.values(byAction) as { delegator: string }[]) expect(record.delegator).toBe(alice.pkh);
    });

    it('returns one chain, leaf first', async () => {
      const chain = (await read(alice.session, [a.sessionCid], [{ capabilitiesReadParams: { type: 'chain', delegation_cid: grantCid } }])).json<{ delegator: string }[]>();
      expect(chain.map((r) => r.delegator)).toEqual([alice.sessionDid, alice.pkh]);
    });

    it('revoked delegations drop out of the list', async () => {
      const extra = ucan(alice.session, { att: { [kv('tmp/')]: { 'tinycloud.kv/get': [{}] } }, audience: bob.sessionDid, prf: [a.sessionCid], exp: clock.now + 600 }, clock.now);
      await post(node, '/delegate', extra);
      const extraCid = base32(await cidOfHeader(extra));
      expect(Object.keys((await read(alice.session, [a.sessionCid])).json<object>())).toContain(extraCid);
      const revoked = await post(node, '/revoke', cacaoHeader(siweFields(alice, { att: {}, audience: `ucan:${extraCid}`, resources: [] }), alice));
      expect(revoked.status).toBe(200);
      expect(Object.keys((await read(alice.session, [a.sessionCid])).json<object>())).not.toContain(extraCid);
      expect((await statusOf(alice.session, extraCid, [a.sessionCid])).json()).toMatchObject({ status: 'revoked', revoked: true });
    });
  });

  describe('caveats', () => {
    it('a caveated grant is only usable with the same caveat, and cannot be widened by re-delegation', async () => {
      const caveat = { 'xyz.example/limit': 3 };
      const g = ucan(alice.session, { att: { [kv('quota/')]: { 'tinycloud.kv/get': [caveat] } }, audience: bob.sessionDid, prf: [a.sessionCid], exp: clock.now + 600 }, clock.now);
      expect((await post(node, '/delegate', g)).status).toBe(200);
      const gCid = await cidOfHeader(g);
      const without = await post(node, '/invoke', ucan(bob.session, { att: { [kv('quota/a')]: { 'tinycloud.kv/get': [{}] } }, prf: [gCid] }, clock.now));
      expect(without.status).toBe(401);
      const withIt = await post(node, '/invoke', ucan(bob.session, { att: { [kv('quota/a')]: { 'tinycloud.kv/get': [caveat] } }, prf: [gCid] }, clock.now));
      expect([200, 404, 501]).toContain(withIt.status);
      const widened = await post(node, '/delegate', ucan(bob.session, { att: { [kv('quota/')]: { 'tinycloud.kv/get': [{ 'xyz.example/limit': 300 }] } }, audience: mallory.sessionDid, prf: [gCid], exp: clock.now + 300 }, clock.now));
      expect(widened.status).toBe(401);
      expect(widened.text).toBe('child-caveats-not-subset-of-parent');
    });
  });

  describe('epochs', () => {
    it('every delegation and revocation touching the hosted space is ordered in it', async () => {
      const db = node.node.metadata.db;
      const events = await db.selectFrom('event_order').select(['kind', 'seq', 'epoch_seq']).where('space', '=', a.space).orderBy('seq').execute();
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
      expect(events.filter((e) => e.kind === 'revocation').length).toBe(1);
      expect(events.filter((e) => e.kind === 'delegation').length).toBeGreaterThanOrEqual(4);
    });
  });
});

describe('spaces owned by a did:key and the hosting allowlist', () => {
  const clock = new TestClock();
  let node: TestNode;
  let allowlist: Server;
  let allowed = new Set<string>();
  let down = false;

  beforeAll(async () => {
    allowlist = createServer((req, res) => {
      const key = (req.url ?? '').replace(/^\/spaces\//, '');
      if (down) return void res.writeHead(500).end();
      const space = [...allowed].find((s) => allowlistKey(s) === key);
      if (space) return void res.writeHead(200, { 'content-type': 'text/plain' }).end(space);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => allowlist.listen(0, '127.0.0.1', r));
    const port = (allowlist.address() as AddressInfo).port;
    node = await startTestNode({ clock: clock.read, env: { TINYCLOUD_SPACES_ALLOWLIST: `http://127.0.0.1:${port}/spaces` } });
  });
  afterAll(async () => {
    await node?.destroy();
    allowlist?.close();
  });

  const hostAs = (owner: typeof alice) => async (name: string) => {
    const space = owner.space(name);
    const peer = await get(node, `/peer/generate/${encodeURIComponent(space)}`);
    const header = cacaoHeader(siweFields(owner, { att: { [`${space}/space`]: { 'tinycloud.space/host': [{}] } }, audience: peer.text, expirationTime: null }), owner);
    return { space, answer: await post(node, '/delegate', header) };
  };

  it('allowed spaces are created; others are refused with 403; an allowlist outage is 503, never open', async () => {
    allowed = new Set([alice.space('listed')]);
    const ok = await hostAs(alice)('listed');
    expect(ok.answer.status).toBe(200);
    expect(ok.answer.json()).toMatchObject({ activated: [ok.space], skipped: [] });
    const refused = await hostAs(alice)('unlisted');
    expect(refused.answer.status).toBe(403);
    expect(refused.answer.text).toBe(`Space not allowed: ${refused.space}`);
    down = true;
    try {
      expect((await hostAs(alice)('later')).answer.status).toBe(503);
    } finally {
      down = false;
    }
    // an existing space does not ask again
    allowed = new Set();
    expect((await hostAs(alice)('listed')).answer.status).toBe(200);
  });

  it('a did:key owns its spaces outright: it hosts and invokes with no proof at all', async () => {
    const key = generateEd25519Key();
    const did = didKeyFromEd25519(key.publicKey);
    const space = unwrap(spaceIdFor(did, 'device')).text;
    allowed = new Set([space]);
    const host = ucan(key, { att: { [`${space}/space`]: { 'tinycloud.space/host': [{}] } }, audience: node.node.keys.hostKey(space).did, exp: clock.now + 60 }, clock.now);
    const hosted = await post(node, '/delegate', host);
    expect(hosted.status).toBe(200);
    expect(hosted.json()).toMatchObject({ activated: [space] });
    expect((await post(node, '/invoke', ucan(key, { att: { [`${space}/space`]: { 'tinycloud.space/info': [{}] } } }, clock.now))).status).toBe(200);
    // …and nobody else does
    expect((await post(node, '/invoke', ucan(mallory.session, { att: { [`${space}/space`]: { 'tinycloud.space/info': [{}] } } }, clock.now))).status).toBe(401);
  });
});
