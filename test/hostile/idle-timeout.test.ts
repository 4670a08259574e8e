import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../support/test-node.js';

/** A client that goes silent must not hold its socket forever; the node closes it after the idle timeout. */
describe('silent clients', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ idleTimeoutMs: 500 });
  });
  afterAll(async () => node.destroy());

  const connect = async () => {
    const { port } = new URL(node.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return socket;
  };
  const closedWithin = (socket: net.Socket, ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });

  it('are disconnected when they stall mid-request, and others are still served', async () => {
    const stalled = await connect();
    stalled.write('POST /delegate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n');
    expect(await closedWithin(stalled, 5000)).toBe(true);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  });

  it('keep their socket while they keep sending', async () => {
    const steady = await connect();
    steady.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    for (let i = 0; i < 6; i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      steady.write(`X-Keep-${i}: alive\r\n`);
    }
    const answered = new Promise<string>((resolve) => steady.once('data', (d) => resolve(String(d))));
    steady.write('\r\n');
    expect(await answered).toMatch(/^HTTP\/1\.1 200/);
    steady.destroy();
  });
});
