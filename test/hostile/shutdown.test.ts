import { rmSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startTestNode } from '../support/test-node.js';
import { ADMIN_SECRET, alice, expectAliceIntact, head, KvClient, startHostileNode, tempFiles } from './support.js';

/** A client that stalls mid-upload cannot hold the node's shutdown, and a restart finds everything in place. */
describe('hostile shutdown', () => {
  it('stop() cuts a stalled upload after the drain window; the restarted node has alice\'s data and no partial value', async () => {
    const h = await startHostileNode();
    const { port } = new URL(h.node.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(head('POST', '/invoke', [`Authorization: ${h.alice.token({ [h.alice.resource('stalled')]: { 'tinycloud.kv/put': [{}] } })}`, 'Content-Length: 100000']) + 'x'.repeat(5000));
    await new Promise((resolve) => setTimeout(resolve, 200));

    const started = Date.now();
    await h.node.stop();
    expect(Date.now() - started).toBeLessThan(8000);
    socket.destroy();
    expect(tempFiles(h)).toEqual([]);

    const node = await startTestNode({ dataDir: h.node.dataDir, clock: h.clock.read, env: { TINYCLOUD_ADMIN_SECRET: ADMIN_SECRET, TINYCLOUD_STORAGE_STAGING: 'FileSystem' } });
    try {
      const again = { ...h, node, alice: new KvClient(node, alice, h.alice.space, h.alice.sessionCid, h.clock) };
      await expectAliceIntact(again);
      expect((await again.alice.get('stalled')).status).toBe(404);
    } finally {
      await node.stop();
      rmSync(h.node.dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
