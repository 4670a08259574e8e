import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bindingReportDataHex } from '../../src/core/attest/binding.js';
import { tinycloud } from '../support/cli.js';
import { startTestNode, tempDir, type TestNode } from '../support/test-node.js';
import { vectorPath } from '../support/vectors.js';
import { startFakeDstack, type FakeDstack } from './fake-dstack.js';
import { listen, pccsServer } from './pccs-server.js';
import { collateral } from './support.js';
import { syntheticPlatform } from './synthetic-dcap.js';

const V = (file: string) => vectorPath('attestation', file);
const attest = (...args: string[]) => tinycloud(['attest', ...args]);
const json = (stdout: unknown) => JSON.parse(String(stdout));
const failing = (out: { checks: { name: string; ok: boolean }[] }) => out.checks.filter((c) => !c.ok).map((c) => c.name);

describe.concurrent('tinycloud attest QUOTE_FILE', () => {
  test('a binary quote with its collateral at its verifyAt time: ✓ every check, exit 0', async () => {
    const r = await attest(V('tdx_v4_quote.bin'), '--collateral', V('tdx_v4_quote.collateral.json'), '--at', '2025-07-01T00:00:00Z');
    expect(r.exitCode).toBe(0);
    const out = String(r.stdout);
    expect(out).toMatch(/✓ quote-signature/);
    expect(out).toMatch(/TCB status: UpToDate/);
    expect(out).toMatch(/mrTd\s+91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7/);
    expect(out).toMatch(/✓ verified$/m);
    expect(out).not.toMatch(/✗/);
  });

  test('--json gives ok, tcbStatus, named checks and measurements', async () => {
    const r = await attest(V('tdx_v4_quote_dstack_near.hex'), '--collateral', V('tdx_v4_quote_dstack_near.collateral.json'), '--at', '2025-09-15T00:00:00Z', '--json');
    expect(r.exitCode).toBe(0);
    const out = json(r.stdout);
    expect(out).toMatchObject({ ok: true, tcbStatus: 'UpToDate', advisoryIds: [], quote: { version: 4, teeType: 'TDX', fmspc: '20a06f000000' } });
    expect(out.measurements.mrConfigId).toBe('0112a20aed7d6c68601e9f6e108a93b4199ae7231684307ffc4833c9cd08d45de7000000000000000000000000000000');
    expect(out.checks.every((c: { name: string; ok: boolean; detail: string }) => c.ok && c.name && c.detail)).toBe(true);
  });

  test('hex with a trailing newline, and no matching TCB level: ✗ tcb-level, exit 1', async () => {
    const r = await attest(V('tdx_v4_quote_from_tappd.hex'), '--collateral', V('tdx_v4_quote.collateral.json'), '--at', '2025-07-01T00:00:00Z');
    expect(r.exitCode).toBe(1);
    expect(String(r.stdout)).toMatch(/✗ tcb-level\s+no matching TCB level/);
    expect(String(r.stdout)).toMatch(/✗ NOT verified: tcb-level failed/);
  });

  test('a dstack GetQuote JSON: event log replayed, identity reported, pins checked', async () => {
    const r = await attest(
      V('dstack_getquote_with_digests.json'),
      '--collateral', V('tdx_v5_td15_quote_no_tcb_level.collateral.json'),
      '--at', '2026-03-01T00:00:00Z',
      '--expect-app-id', '3763bc34552cf3a27ff71ad5f7a90471562a1a2d',
      '--expect-report-data', '1234',
      '--json',
    );
    expect(r.exitCode).toBe(0);
    const out = json(r.stdout);
    expect(failing(out)).toEqual([]);
    expect(out.dstack).toMatchObject({ appId: '3763bc34552cf3a27ff71ad5f7a90471562a1a2d', keyProvider: { name: 'local-sgx' } });
    expect(out.checks.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(['event-log-replay', 'mr-config-id', 'expect-app-id', 'expect-report-data']));
  });

  test('a wrong compose-hash pin fails under its own name', async () => {
    const r = await attest(V('dstack_getquote_tdx_lite.json'), '--collateral', V('tdx_v5_td15_quote_no_tcb_level.collateral.json'), '--at', '2026-03-01T00:00:00Z', '--expect-compose-hash', '00'.repeat(32), '--json');
    expect(r.exitCode).toBe(1);
    expect(failing(json(r.stdout))).toEqual(['certificate-validity', 'expect-compose-hash']);
  });

  test('today, the collateral has expired, and the output says so', async () => {
    const r = await attest(V('tdx_v4_quote.bin'), '--collateral', V('tdx_v4_quote.collateral.json'));
    expect(r.exitCode).toBe(1);
    expect(String(r.stdout)).toMatch(/✗ collateral-time .*collateral expired/);
  });

  test('an SGX quote is rejected as not a TDX quote', async () => {
    const r = await attest(V('sgx_v3_quote.bin'), '--collateral', V('sgx_v3_quote.collateral.json'), '--at', '2025-07-01T00:00:00Z', '--json');
    expect(r.exitCode).toBe(1);
    const out = json(r.stdout);
    expect(failing(out)).toEqual(['tee-type']);
    expect(out.checks.find((c: { name: string }) => c.name === 'tee-type').detail).toMatch(/not a TDX quote/);
  });

  test('collateral fetched from a PCCS and cached', async () => {
    const pccs = pccsServer(collateral('tdx_v4_quote.collateral.json'));
    const url = await listen(pccs.server);
    const cache = tempDir();
    try {
      const args = [V('tdx_v4_quote.bin'), '--pccs', url, '--cache-dir', cache, '--at', '2025-07-01T00:00:00Z', '--json'];
      expect((await attest(...args)).exitCode).toBe(0);
      pccs.server.close();
      const cached = await attest(...args);
      expect(cached.exitCode).toBe(0);
      expect(json(cached.stdout).tcbStatus).toBe('UpToDate');
    } finally {
      pccs.server.close();
    }
  });

  test('usage: a file and --node together, or neither, or a bad --at, exit 2', async () => {
    expect((await attest()).exitCode).toBe(2);
    expect((await attest(V('tdx_v4_quote.bin'), '--node', 'http://127.0.0.1:1')).exitCode).toBe(2);
    const bad = await attest(V('tdx_v4_quote.bin'), '--collateral', V('tdx_v4_quote.collateral.json'), '--at', 'yesterday', '--json');
    expect(bad.exitCode).toBe(2);
    expect(json(bad.stdout).error.message).toMatch(/--at yesterday is not a date/);
  });

  test('a file that is not a quote is refused in one line', async () => {
    const r = await attest(V('README.md'), '--collateral', V('tdx_v4_quote.collateral.json'), '--json');
    expect(r.exitCode).toBe(2);
    expect(json(r.stdout).error.message).toMatch(/neither a binary quote, hex text, nor dstack GetQuote JSON/);
  });

  test('--help explains the inputs and shows examples', async () => {
    const r = await attest('--help');
    expect(r.exitCode).toBe(0);
    for (const text of ['QUOTE_FILE', '--node', '--collateral', '--pccs', '--at', '--expect-compose-hash', 'EXAMPLES']) {
      expect(String(r.stdout)).toContain(text);
    }
  });
});

/** A front that answers /info from one node and /attestation from another, optionally pinning the nonce. */
async function relay(infoFrom: string, attestationFrom: string, fixedNonce?: string): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (fixedNonce) url.searchParams.set('nonce', fixedNonce);
    const target = url.pathname === '/info' ? infoFrom : attestationFrom;
    const upstream = await fetch(`${target}${url.pathname}${url.search}`);
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('tinycloud attest --node', () => {
  const platform = syntheticPlatform();
  const dir = tempDir();
  const collateralFile = path.join(dir, 'collateral.json');
  const rootFile = path.join(dir, 'root.pem');
  writeFileSync(collateralFile, platform.collateralJson);
  writeFileSync(rootFile, platform.rootPem);
  const at = platform.at.toISOString();
  let dstack: FakeDstack;
  let node: TestNode;
  let other: TestNode;

  beforeAll(async () => {
    dstack = await startFakeDstack({ synthetic: platform, composeHash: 'ab'.repeat(32) });
    const env = { TINYCLOUD_TEE_MODE: 'dstack', DSTACK_SIMULATOR_ENDPOINT: dstack.endpoint };
    node = await startTestNode({ env });
    other = await startTestNode({ env });
  });
  afterAll(async () => {
    await node?.destroy();
    await other?.destroy();
    await dstack?.close();
  });

  const attestNode = (url: string, ...extra: string[]) =>
    attest('--node', url, '--collateral', collateralFile, '--root-ca', rootFile, '--at', at, '--json', ...extra);

  test('passes end to end: quote, event log, MRCONFIGID and the binding to the node DID and a fresh nonce', async () => {
    const r = await attestNode(node.url, '--expect-compose-hash', 'ab'.repeat(32));
    expect(r.exitCode).toBe(0);
    const out = json(r.stdout);
    expect(failing(out)).toEqual([]);
    expect(out.node).toMatchObject({ url: node.url, nodeDid: node.node.nodeDid, inTEE: true });
    expect(out.node.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(out.checks.find((c: { name: string }) => c.name === 'report-data-binding').ok).toBe(true);
    expect(dstack.requested.at(-1)).toBe(bindingReportDataHex(node.node.nodeDid, out.node.nonce));
    expect(out.measurements.reportData).toBe(dstack.requested.at(-1));
    expect(out.dstack).toMatchObject({ composeHash: 'ab'.repeat(32), keyProvider: { name: 'kms' } });
  });

  test('every run uses a fresh nonce', async () => {
    const [a, b] = await Promise.all([attestNode(node.url), attestNode(node.url)]);
    expect(json(a.stdout).node.nonce).not.toBe(json(b.stdout).node.nonce);
  });

  test('fails when the quote binds another node’s DID (attestation relayed from a different node)', async () => {
    const front = await relay(node.url, other.url);
    try {
      const r = await attestNode(front.url);
      expect(r.exitCode).toBe(1);
      expect(failing(json(r.stdout))).toEqual(['report-data-binding']);
    } finally {
      front.server.close();
    }
  });

  test('fails when the quote was made for another nonce (a replayed attestation)', async () => {
    const front = await relay(node.url, node.url, 'stale-nonce');
    try {
      const r = await attestNode(front.url);
      expect(r.exitCode).toBe(1);
      expect(failing(json(r.stdout))).toEqual(['report-data-binding']);
    } finally {
      front.server.close();
    }
  });

  test('without the test root, the synthetic quote fails its chains to the Intel root', async () => {
    const r = await attest('--node', node.url, '--collateral', collateralFile, '--at', at, '--json');
    expect(r.exitCode).toBe(1);
    expect(failing(json(r.stdout))).toContain('pck-chain');
  });

  test('a genuine Intel quote served for any report data passes every check but the binding', async () => {
    const canned = await startFakeDstack({ vector: 'dstack_getquote_with_digests.json' });
    const tee = await startTestNode({ env: { TINYCLOUD_TEE_MODE: 'dstack', DSTACK_SIMULATOR_ENDPOINT: canned.endpoint } });
    try {
      const r = await attest('--node', tee.url, '--collateral', V('tdx_v5_td15_quote_no_tcb_level.collateral.json'), '--at', '2026-03-01T00:00:00Z', '--json');
      expect(r.exitCode).toBe(1);
      const out = json(r.stdout);
      expect(failing(out)).toEqual(['report-data-binding']);
      expect(out.tcbStatus).toBe('UpToDate');
      expect(canned.requested).toEqual([bindingReportDataHex(tee.node.nodeDid, out.node.nonce)]);
    } finally {
      await tee.destroy();
      await canned.close();
    }
  });

  test('a node outside a TEE is reported as such, exit non-zero', async () => {
    const plain = await startTestNode({ env: { TINYCLOUD_TEE_MODE: 'off' } });
    try {
      const r = await attest('--node', plain.url, '--collateral', collateralFile, '--json');
      expect(r.exitCode).not.toBe(0);
      expect(json(r.stdout).error.message).toMatch(/is not running in a TEE/);
    } finally {
      await plain.destroy();
    }
  });
});
