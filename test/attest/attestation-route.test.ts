import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bindingReportDataHex } from '../../src/core/attest/binding.js';
import { readVector } from '../support/vectors.js';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { startFakeDstack, type FakeDstack } from './fake-dstack.js';

const json = async (res: Response): Promise<any> => res.json();

const vector = JSON.parse(readVector('attestation', 'dstack_getquote_with_digests.json').toString('utf8'));

describe('a node inside dstack (fake guest agent on a unix socket)', () => {
  let dstack: FakeDstack;
  let node: TestNode;

  beforeAll(async () => {
    dstack = await startFakeDstack();
    node = await startTestNode({ env: { TINYCLOUD_TEE_MODE: 'dstack', DSTACK_SIMULATOR_ENDPOINT: dstack.endpoint } });
  });
  afterAll(async () => {
    await node?.destroy();
    await dstack?.close();
  });

  test('/info says inTEE', async () => {
    const info = await json(await fetch(`${node.url}/info`));
    expect(info.inTEE).toBe(true);
  });

  test('/attestation asks dstack for report data binding the node DID and the nonce, and returns quote and event log', async () => {
    const res = await fetch(`${node.url}/attestation?nonce=n0nce-1`);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(dstack.requested.at(-1)).toBe(bindingReportDataHex(node.node.nodeDid, 'n0nce-1'));
    expect(body).toMatchObject({
      mode: 'dstack',
      quote: vector.quote,
      event_log: vector.event_log,
      binding: { tag: 'tinycloud/attestation/v1', node_did: node.node.nodeDid, nonce: 'n0nce-1' },
      enforcer_did: node.node.nodeDid,
      app_id: '3763bc34552cf3a27ff71ad5f7a90471562a1a2d',
      compose_hash: '3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7',
    });
    expect(typeof body.timestamp).toBe('number');
  });

  test('a nonce that is not URL-safe text is refused with 400', async () => {
    const res = await fetch(`${node.url}/attestation?nonce=${encodeURIComponent('a b')}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/nonce/);
  });
});

test('a simulator endpoint given as an http URL works the same', async () => {
  const dstack = await startFakeDstack({ vector: 'dstack_getquote_tdx_lite.json' }, 'tcp');
  const node = await startTestNode({ env: { TINYCLOUD_TEE__ENDPOINT: dstack.endpoint } });
  try {
    const body = await json(await fetch(`${node.url}/attestation?nonce=x`));
    expect(body.mode).toBe('dstack');
    expect(dstack.requested).toEqual([bindingReportDataHex(node.node.nodeDid, 'x')]);
  } finally {
    await node.destroy();
    await dstack.close();
  }
});

test('outside a TEE, /info says so and /attestation answers plainly in classic mode', async () => {
  const node = await startTestNode({ env: { TINYCLOUD_TEE_MODE: 'off' } });
  try {
    expect((await json(await fetch(`${node.url}/info`))).inTEE).toBe(false);
    const res = await fetch(`${node.url}/attestation?nonce=abc`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ mode: 'classic', message: expect.stringMatching(/not running in a TEE/) });
  } finally {
    await node.destroy();
  }
});

test('a dstack guest agent that does not answer gives 503, not a classic answer', async () => {
  const node = await startTestNode({ env: { TINYCLOUD_TEE_MODE: 'Dstack', DSTACK_SIMULATOR_ENDPOINT: '/nonexistent/dstack.sock' } });
  try {
    const res = await fetch(`${node.url}/attestation?nonce=abc`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/dstack guest agent did not produce a quote/);
  } finally {
    await node.destroy();
  }
});
