import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinycloud } from '../support/cli.js';
import { startTestNode, tempDir, type TestNode } from '../support/test-node.js';

// The built CLI end to end: writes through the HTTP API (as alice, with TINYCLOUD_ETH_KEY), exports in-process
// from the data dir of a node that keeps serving, and over --node; imports into fresh data dirs and over --node.

const alice = Wallet.createRandom();
let dir: string;
let node: TestNode;
let other: TestNode;
let space: string;

const env = () => ({ TINYCLOUD_CONFIG_DIR: path.join(dir, 'config'), TINYCLOUD_ETH_KEY: alice.privateKey });
const cli = (args: string[], input?: string | Buffer) => tinycloud(args, { env: env(), ...(input !== undefined && { input }) });
const ok = async (args: string[], input?: string | Buffer) => {
  const r = await cli(args, input);
  if (r.exitCode !== 0) throw new Error(`tinycloud ${args.join(' ')} → ${r.exitCode}\n${String(r.stderr)}\n${String(r.stdout)}`);
  return r;
};
const json = <T>(stdout: unknown): T => JSON.parse(String(stdout)) as T;
const at = (p: string) => path.join(dir, p);

interface Summary {
  space: string;
  root: string;
  heads: string[];
  counts: { epochs: number; invocations: number; blobs: number };
  bytes: number;
  file: string;
}

beforeAll(async () => {
  dir = tempDir('tinycloud-car-cli-');
  node = await startTestNode();
  other = await startTestNode();
  space = json<{ spaceId: string }>((await ok(['delegate', 'host', '--node', node.url, '--json'])).stdout).spaceId;
  writeFileSync(at('big.bin'), randomBytes(5 * 1024 * 1024));
  await ok(['invoke', 'kv', 'put', 'big.bin', at('big.bin'), '--node', node.url]);
  await ok(['invoke', 'kv', 'put', 'notes/a', '-', '--node', node.url, '--content-type', 'text/plain'], 'one');
  await ok(['invoke', 'kv', 'put', 'notes/a', '-', '--node', node.url], 'two');
  await ok(['invoke', 'kv', 'put', 'notes/b', '-', '--node', node.url], 'bee');
  await ok(['invoke', 'kv', 'del', 'notes/b', '--node', node.url]);
}, 180_000);

afterAll(async () => {
  await node?.destroy();
  await other?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe('tinycloud export / import', () => {
  it('exports over --node as the owner, and in-process from the serving data dir to the same bytes', async () => {
    const online = json<Summary>((await ok(['export', space, '--node', node.url, '-o', at('online.car'), '--json'])).stdout);
    expect(online).toMatchObject({ space, file: at('online.car') });
    expect(online.counts.blobs).toBe(4);
    const local = json<Summary>((await ok(['export', space, '--dir', node.dataDir, '-o', at('local.car'), '--json'])).stdout);
    expect(local.root).toBe(online.root);
    expect(readFileSync(at('local.car')).equals(readFileSync(at('online.car')))).toBe(true);
    const piped = await tinycloud(['export', space, '--dir', node.dataDir, '-o', '-'], { env: env(), encoding: 'buffer' });
    expect(piped.exitCode).toBe(0);
    expect(Buffer.from(piped.stdout as unknown as Uint8Array).equals(readFileSync(at('local.car')))).toBe(true);
    const human = await ok(['export', space, '--dir', node.dataDir, '-o', at('human.car')]);
    expect(String(human.stderr)).toContain(`Root ${local.root}`);
  });

  it('takes a consistent snapshot while the node keeps writing', async () => {
    const writes = Promise.all([1, 2, 3].map((n) => ok(['invoke', 'kv', 'put', `during/${n}`, '-', '--node', node.url], `written during export ${n}`)));
    const during = await ok(['export', space, '--dir', node.dataDir, '-o', at('during.car'), '--json']);
    await writes;
    const fresh = at('restore-during');
    const report = json<{ added: { epochs: number } }>((await ok(['import', at('during.car'), '--dir', fresh, '--json'])).stdout);
    expect(report.added.epochs).toBe(json<Summary>(during.stdout).counts.epochs);
  });

  it('imports into a fresh data dir (initialising it) and re-exports byte-identically; a second import adds nothing', async () => {
    const fresh = at('restore');
    const report = json<{ createdSpace: boolean; space: string; added: { epochs: number; blobs: number } }>(
      (await ok(['import', at('local.car'), '--dir', fresh, '--json'])).stdout,
    );
    expect(report).toMatchObject({ createdSpace: true, space });
    expect(report.added.blobs).toBe(4);
    await ok(['export', space, '--dir', fresh, '-o', at('reexport.car')]);
    expect(readFileSync(at('reexport.car')).equals(readFileSync(at('local.car')))).toBe(true);
    const again = json<{ added: { epochs: number }; existing: { epochs: number } }>((await ok(['import', '-', '--dir', fresh, '--json'], readFileSync(at('local.car')))).stdout);
    expect(again.added.epochs).toBe(0);
    expect(again.existing.epochs).toBe(report.added.epochs);
  });

  it('exports incrementally with --since and restores base + increment', async () => {
    const base = json<Summary>((await ok(['export', space, '--dir', node.dataDir, '-o', at('base.car'), '--json'])).stdout);
    await ok(['invoke', 'kv', 'put', 'later', '-', '--node', node.url], 'after the base');
    const incr = json<Summary & { since: string[] }>((await ok(['export', space, '--dir', node.dataDir, '--since', base.heads.join(','), '-o', at('incr.car'), '--json'])).stdout);
    expect(incr.since).toEqual(base.heads);
    expect(incr.counts.epochs).toBe(1);
    const full = json<Summary>((await ok(['export', space, '--dir', node.dataDir, '-o', at('full.car'), '--json'])).stdout);
    const fresh = at('restore-incremental');
    await ok(['import', at('base.car'), '--dir', fresh]);
    await ok(['import', at('incr.car'), '--dir', fresh]);
    await ok(['export', space, '--dir', fresh, '-o', at('rebuilt.car')]);
    expect(readFileSync(at('rebuilt.car')).equals(readFileSync(at('full.car')))).toBe(true);
    expect(full.heads).toEqual(json<Summary>((await ok(['export', space, '--dir', fresh, '-o', at('x.car'), '--json'])).stdout).heads);
  });

  it('refuses a tampered file with exit 1 and a message naming the block', async () => {
    const bytes = readFileSync(at('local.car'));
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(at('bad.car'), bytes);
    const r = await cli(['import', at('bad.car'), '--dir', at('restore-bad')]);
    expect(r.exitCode).toBe(1);
    // oclif wraps long messages with ' ›   ' at each line start.
    expect(String(r.stderr).replace(/\s*›\s*/g, ' ')).toMatch(/content block \S+ \(#\d+\): its bytes hash to \w+, not to its CID/);
    const j = await cli(['import', at('bad.car'), '--dir', at('restore-bad'), '--json']);
    expect(json<{ error: { code: string } }>(j.stdout).error.code).toBe('CAR_INVALID');
  });

  it('imports over --node into a node that hosts the space, merging with its own history', async () => {
    await ok(['delegate', 'host', '--node', other.url]);
    const report = json<{ createdSpace: boolean; added: { epochs: number }; heads: string[] }>(
      (await ok(['import', at('local.car'), '--node', other.url, '--json'])).stdout,
    );
    expect(report.createdSpace).toBe(false);
    expect(report.added.epochs).toBeGreaterThan(0);
    expect(report.heads.length).toBe(2);
    const got = await tinycloud(['invoke', 'kv', 'get', 'big.bin', '-', '--node', other.url], { env: env(), encoding: 'buffer' });
    expect(got.exitCode).toBe(0);
    expect(Buffer.from(got.stdout as unknown as Uint8Array).equals(readFileSync(at('big.bin')))).toBe(true);
  });
});
