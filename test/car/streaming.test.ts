import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alice, TestClock } from '../auth-engine/support.js';
import { streamedBody } from '../kv/http-support.js';
import { CLI } from '../support/cli.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { KvClient, expectOk, startCarNode } from './support.js';

const MiB = 1024 * 1024;
/** Content in the space: well above the memory budget below, so a whole-file buffer anywhere would show. */
const VALUES = [256 * MiB, 128 * MiB, 3 * MiB];
/** The budget for a 5 GiB space (docs/car-format.md); the CLI alone starts at ~140 MiB. */
const RSS_BUDGET = 300 * MiB;
/** What streaming may add on top of the same command moving (almost) nothing: buffers and GC slack, not content. */
const GROWTH_BUDGET = 128 * MiB;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size (VmHWM) of the CLI process, polled from /proc while it runs. */
  peakRss: number;
  seconds: number;
}

/** Run the built CLI as its own process and watch its peak RSS. */
function runCli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, TINYCLOUD_LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const poll = setInterval(() => {
      try {
        const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        if (kb) peakRss = Math.max(peakRss, Number(kb) * 1024);
      } catch {
        // the process is gone
      }
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, stdout, stderr, peakRss, seconds: (Date.now() - started) / 1000 });
    });
  });
}

describe.runIf(process.platform === 'linux')('CAR export and import stream with bounded memory', () => {
  const clock = new TestClock();
  const dir = tempDir('tinycloud-car-stream-');
  let node: TestNode;
  let a: KvClient;
  const total = VALUES.reduce((x, y) => x + y, 0);

  beforeAll(async () => {
    node = await startCarNode(clock);
    a = await KvClient.signIn(node, alice, clock);
    for (const [i, size] of VALUES.entries()) await expectOk(a.put(`large/${i}`, streamedBody(size, 256 * 1024)));
  }, 300_000);
  afterAll(() => node?.destroy());

  it(`exports and imports ${total / MiB} MiB with the CLI's peak RSS under ${RSS_BUDGET / MiB} MiB`, async () => {
    const file = path.join(dir, 'large.car');
    const exported = await runCli(['export', a.space, '--dir', node.dataDir, '-o', file, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    // The same command with nothing to stream (an incremental export after the head): the process's own weight.
    const heads = (JSON.parse(exported.stdout) as { heads: string[] }).heads;
    const baseline = await runCli(['export', a.space, '--dir', node.dataDir, '--since', heads.join(','), '-o', path.join(dir, 'empty.car'), '--json']);
    expect(baseline.code, baseline.stderr).toBe(0);
    expect(statSync(file).size).toBeGreaterThan(total);
    const restored = path.join(dir, 'restored');
    const imported = await runCli(['import', file, '--dir', restored, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    const report = JSON.parse(imported.stdout) as { added: { blobBytes: number } };
    expect(report.added.blobBytes).toBe(total);

    console.log(
      `car streaming: ${total / MiB} MiB content; CLI baseline ${(baseline.peakRss / MiB).toFixed(0)} MiB; export ${(exported.peakRss / MiB).toFixed(0)} MiB peak RSS, ${(total / MiB / exported.seconds).toFixed(0)} MiB/s; ` +
        `import ${(imported.peakRss / MiB).toFixed(0)} MiB peak RSS, ${(total / MiB / imported.seconds).toFixed(0)} MiB/s (process start included)`,
    );
    expect(baseline.peakRss).toBeGreaterThan(0);
    for (const run of [exported, imported]) {
      expect(run.peakRss).toBeLessThan(RSS_BUDGET);
      expect(run.peakRss).toBeLessThan(total);
      expect(run.peakRss - baseline.peakRss).toBeLessThan(GROWTH_BUDGET);
    }
  }, 600_000);
});
