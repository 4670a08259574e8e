import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRfc3339 } from '../../src/core/auth/index.js';
import { readVectorText } from '../support/vectors.js';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { TestClock } from './support.js';

/** One captured request of the published `@tinycloudlabs/web-sdk@0.2.1` (WIRE §14). */
interface Captured {
  seq: number;
  t: string;
  method: string;
  url: string;
  rawHeaders: string[];
  body: string | null;
  bodyBase64: string | null;
}

const capturesOf = (file: string): Captured[] =>
  readVectorText('legacy-client', file)
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Captured);

const header = (c: Captured, name: string): string | undefined => {
  const i = c.rawHeaders.findIndex((h, n) => n % 2 === 0 && h.toLowerCase() === name);
  return i < 0 ? undefined : c.rawHeaders[i + 1];
};

const abilityOf = (c: Captured): string | undefined => {
  const auth = header(c, 'authorization');
  if (!auth?.includes('.')) return undefined;
  const payload = JSON.parse(Buffer.from(auth.split('.')[1] as string, 'base64url').toString()) as { att: { can: string }[] };
  return payload.att[0]?.can;
};

/** Re-sends one capture exactly (method, URL, Authorization, content-type, body) with the clock at its moment. */
async function replay(node: TestNode, clock: TestClock, c: Captured): Promise<{ status: number; text: string; type: string | null }> {
  clock.now = parseRfc3339(c.t) as number;
  const headers: Record<string, string> = {};
  for (const name of ['authorization', 'content-type']) {
    const value = header(c, name);
    if (value !== undefined) headers[name] = value;
  }
  const body = c.bodyBase64 ? Buffer.from(c.bodyBase64, 'base64') : c.body ? Buffer.from(c.body) : undefined;
  const response = await fetch(`${node.url}${c.url}`, { method: c.method, headers, ...(body && body.length > 0 && { body }) });
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
}

/** KV is another service's; what the auth layer guarantees is that the call got past authorization. */
const AUTHORIZED = [200, 404, 501];

describe.each(['web-hostflow.jsonl', 'wasm-hostflow.jsonl'])('legacy client host flow %s replays against a real node', (file) => {
  const clock = new TestClock();
  const captures = capturesOf(file);
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ clock: clock.read });
  });
  afterAll(async () => node?.destroy());

  it('sign-in: session → 404, peer/generate, host → 200, session → 200; then every call is authorized once', async () => {
    const [session, peer, hostDelegation, sessionAgain, ...invocations] = captures;

    const first = await replay(node, clock, session!);
    expect(first.status).toBe(404);
    expect(first.text).toBe('Space not found');

    const peerKey = await replay(node, clock, peer!);
    expect(peerKey.status).toBe(200);
    expect(peerKey.text).toMatch(/^did:key:z6Mk/);
    // The orbit form of the space id names the same space as its protocol-1 form.
    const space = decodeURIComponent(peer!.url.slice('/peer/generate/'.length)).replace('://', ':');
    const protocol1 = await fetch(`${node.url}/peer/generate/${encodeURIComponent(space)}`);
    expect(await protocol1.text()).toBe(peerKey.text);

    const hosted = await replay(node, clock, hostDelegation!);
    expect(hosted.status).toBe(200);
    expect(hosted.text).toBe('');
    const spaces = await node.node.metadata.db.selectFrom('space').select('id').execute();
    expect(spaces.map((s) => s.id)).toEqual([space]);

    const again = await replay(node, clock, sessionAgain!);
    expect(again.status).toBe(200);
    expect(again.text).toBe('');

    for (const call of invocations) {
      const answer = await replay(node, clock, call);
      if (abilityOf(call) === 'tinycloud.capabilities/read') {
        expect(answer.status).toBe(200);
        expect(answer.type).toMatch(/^application\/json/);
        // Answered in the old node's shape (the old client's `CapSummary`): `{resource, action}` in orbit form.
        const sessions = JSON.parse(answer.text) as Record<string, { delegator: string; capabilities: { resource: string; action: string }[] }>;
        expect(Object.keys(sessions).length).toBeGreaterThanOrEqual(1);
        const caps = Object.values(sessions).flatMap((s) => s.capabilities);
        const orbit = decodeURIComponent(peer!.url.slice('/peer/generate/'.length));
        expect(caps).toContainEqual({ resource: `${orbit}/kv/default`, action: 'kv/put' });
      } else {
        expect(AUTHORIZED, `${file} #${call.seq} ${abilityOf(call)}: ${answer.status} ${answer.text}`).toContain(answer.status);
      }
      // Every invocation is single-use, the old client's included.
      expect((await replay(node, clock, call)).status).toBe(409);
    }
  });

  it('an invocation replayed a minute after capture has expired: 401', async () => {
    const last = captures[captures.length - 1]!;
    clock.now = (parseRfc3339(last.t) as number) + 120;
    const answer = await fetch(`${node.url}/invoke`, { method: 'POST', headers: { authorization: header(last, 'authorization')! } });
    expect(answer.status).toBe(401);
  });
});

describe('legacy client without host flow (web-plain.jsonl)', () => {
  const clock = new TestClock();
  const captures = capturesOf('web-plain.jsonl');
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ clock: clock.read });
  });
  afterAll(async () => node?.destroy());

  it('on a node without the space: 404 on /delegate and on every call, nothing consumed', async () => {
    const [session, ...invocations] = captures;
    expect((await replay(node, clock, session!)).status).toBe(404);
    for (const call of invocations) {
      const answer = await replay(node, clock, call);
      expect(answer.status).toBe(404);
      expect(answer.text).toBe('Space not found');
    }
  });

  it('once the space is hosted (as it was for the capture): the session activates and every call is authorized', async () => {
    const [session, ...invocations] = captures;
    const space = 'tinycloud:pkh:eip155:1:0x46a660bB9B85f056Ab55DaDFaa3673Fd9D3A27c8:default';
    await node.node.metadata.db.insertInto('space').values({ id: space, created_at: clock.now }).execute();
    const again = await replay(node, clock, session!);
    expect(again.status).toBe(200);
    const epochs = await node.node.metadata.db.selectFrom('event_order').select(['space', 'kind']).execute();
    expect(epochs).toEqual([{ space, kind: 'delegation' }]);
    for (const call of invocations) {
      const answer = await replay(node, clock, call);
      expect(AUTHORIZED, `#${call.seq} ${abilityOf(call)}: ${answer.status} ${answer.text}`).toContain(answer.status);
      if (abilityOf(call) === 'tinycloud.capabilities/read') expect(answer.status).toBe(200);
    }
  });
});
