import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, tempDir, type TestNode } from '../support/test-node.js';
import { initDataDir } from '../../src/core/datadir.js';
import { copyFileSync } from 'node:fs';
import path from 'node:path';

const SPACE = 'tinycloud:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266:default';
const peerUrl = (node: TestNode, space: string) => `${node.url}/peer/generate/${encodeURIComponent(space)}`;

describe('host keys', () => {
  let alpha: TestNode;
  let twin: TestNode;
  let stranger: TestNode;

  beforeAll(async () => {
    alpha = await startTestNode();
    // A second node sharing alpha's secret must answer with the same identities (WIRE §7).
    const twinDir = tempDir();
    await initDataDir(twinDir);
    copyFileSync(path.join(alpha.dataDir, 'secret'), path.join(twinDir, 'secret'));
    twin = await startTestNode({ dataDir: twinDir });
    stranger = await startTestNode();
  });
  afterAll(async () => {
    await Promise.all([alpha.destroy(), twin.destroy(), stranger.destroy()]);
  });

  it('are deterministic, and equal on two nodes that share a secret', async () => {
    const first = await (await fetch(peerUrl(alpha, SPACE))).text();
    expect(first).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/);
    expect(await (await fetch(peerUrl(alpha, SPACE))).text()).toBe(first);
    expect(await (await fetch(peerUrl(twin, SPACE))).text()).toBe(first);
    expect(await (await fetch(peerUrl(stranger, SPACE))).text()).not.toBe(first);
    const info = async (node: TestNode) => ((await (await fetch(`${node.url}/info`)).json()) as { nodeId: string }).nodeId;
    expect(await info(twin)).toBe(await info(alpha));
    expect(await info(stranger)).not.toBe(await info(alpha));
  });

  it('treat a lower-case address as the same space as its EIP-55 form', async () => {
    const lower = SPACE.replace('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266');
    expect(await (await fetch(peerUrl(alpha, lower))).text()).toBe(await (await fetch(peerUrl(alpha, SPACE))).text());
  });

  it('differ per space', async () => {
    const other = SPACE.replace(':default', ':photos');
    expect(await (await fetch(peerUrl(alpha, other))).text()).not.toBe(await (await fetch(peerUrl(alpha, SPACE))).text());
  });

  it.each(['not-a-space', 'tinycloud:', 'tinycloud:pkh:eip155:1:0xnothex:default', 'tinycloud:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266:'])(
    'answer 400 Invalid space ID for %s',
    async (space) => {
      const response = await fetch(peerUrl(alpha, space));
      expect(response.status).toBe(400);
      expect(await response.text()).toBe('Invalid space ID');
    },
  );
});

describe('node routes', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode();
  });
  afterAll(async () => node.destroy());

  it('answers CORS preflight on any path and sets CORS headers on responses', async () => {
    const preflight = await fetch(`${node.url}/invoke`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('*, Authorization');
    const info = await fetch(`${node.url}/info`);
    expect(info.headers.get('access-control-expose-headers')).toBe('*, Authorization');
  });

  it('answers unknown routes with a plain-text 404', async () => {
    const response = await fetch(`${node.url}/nope`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
  });

  it('reports an unhealthy database on /healthz with 500', async () => {
    const sick = await startTestNode();
    expect((await fetch(`${sick.url}/healthz`)).status).toBe(200);
    await sick.node.metadata.close();
    expect((await fetch(`${sick.url}/healthz`)).status).toBe(500);
    await sick.app.close();
  });
});
