import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacaoHeader, cidOfHeader, siweFields } from '../auth-engine/support.js';
import { alice, expectAliceIntact, expectPlainError, head, post, startHostileNode, tempFiles, ucan, type Hostile } from './support.js';

const EXPORT = 'tinycloud.space/export';
const IMPORT = 'tinycloud.space/import';

/** Space export/import fed garbage: a 4xx, nothing imported, no staging left, the space unchanged. */
describe('hostile CAR import and export', () => {
  let h: Hostile;
  let token: (ability: string) => string;
  beforeAll(async () => {
    h = await startHostileNode();
    const att = { [`${h.alice.space}/space`]: { [EXPORT]: [{}], [IMPORT]: [{}] } };
    const session = cacaoHeader(siweFields(alice, { att }), alice);
    const answer = await post(h.node, '/delegate', session);
    if (answer.status !== 200) throw new Error(`${answer.status} ${answer.text}`);
    const cid = await cidOfHeader(session);
    token = (ability) => ucan(alice.session, { att: { [`${h.alice.space}/space`]: { [ability]: [{}] } }, prf: [cid] }, h.clock.now);
  });
  afterAll(async () => h?.destroy());

  const invoke = (authorization: string, body?: Uint8Array | string, headers: Record<string, string> = {}) =>
    fetch(`${h.node.url}/invoke`, { method: 'POST', headers: { authorization, ...headers }, ...(body !== undefined && { body }) }).then(async (r) => ({
      status: r.status,
      headers: r.headers,
      body: await r.text(),
    }));

  it('garbage, empty, truncated and oversized-varint bodies are refused', async () => {
    const exported = await fetch(`${h.node.url}/invoke`, { method: 'POST', headers: { authorization: token(EXPORT) } });
    expect(exported.status).toBe(200);
    const car = Buffer.from(await exported.arrayBuffer());
    const bodies: Uint8Array[] = [
      Buffer.alloc(0),
      Buffer.from('not a car at all'),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
      Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10]),
      car.subarray(0, 20),
      car.subarray(0, Math.floor(car.length / 2)),
      Buffer.concat([car.subarray(0, car.length - 1)]),
      Buffer.concat([car, Buffer.from('trailing garbage')]),
      Buffer.from(car.map((b, i) => (i === Math.floor(car.length * 0.75) ? b ^ 0xff : b))),
    ];
    for (const body of bodies) {
      const answer = await invoke(token(IMPORT), body);
      expect(answer.status, `${body.length} bytes: ${answer.body.slice(0, 200)}`).toBeLessThan(500);
    }
    // A CAR of this very space re-imported is idempotent, never a 500.
    expect((await invoke(token(IMPORT), car)).status).toBeLessThan(500);
  });

  it('an import cut mid-upload leaves no staging behind', async () => {
    const { port } = new URL(h.node.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(head('POST', '/invoke', [`Authorization: ${token(IMPORT)}`, 'Content-Length: 1000000']) + 'x'.repeat(100));
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    const end = Date.now() + 3000;
    while (tempFiles(h).length > 0 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tempFiles(h)).toEqual([]);
  });

  it('export with hostile x-tinycloud-since values', async () => {
    for (const since of ['garbage', ',,,', 'bafkr4i' + 'a'.repeat(52), 'z'.repeat(5000), `${'bafy,'.repeat(500)}`]) {
      const answer = await invoke(token(EXPORT), undefined, { 'x-tinycloud-since': since });
      expect(answer.status, `${since.slice(0, 30)}: ${answer.body.slice(0, 200)}`).toBeLessThan(500);
      if (answer.status >= 400) expectPlainError(answer, answer.status);
    }
  });

  it("alice's data is intact afterwards", async () => {
    await expectAliceIntact(h);
  });
});
