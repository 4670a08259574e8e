import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attenuations } from '../core/auth/recap.js';
import { signUcan } from '../core/auth/ucan.js';
import { delegateSession } from './fixture.js';

const CLI = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

/**
 * `tinycloud serve` in its own process, as an operator runs it, with a hosted space and a session key:
 * its memory is its own, so the bench can report the node's peak RSS (Linux `VmHWM`) and nothing else's.
 */
export interface ServedNode {
  readonly port: number;
  readonly space: string;
  /** A fresh single-use invocation of `att` by the session key. */
  mint(att: Attenuations): string;
  /** Reset the node's peak RSS to its current RSS (false where /proc does not allow it). */
  resetPeakRss(): boolean;
  /** The node's peak RSS in MiB since start or the last reset, where /proc tells it. */
  peakRssMiB(): number | undefined;
  /** The node's RSS in MiB now, where /proc tells it. */
  rssMiB(): number | undefined;
  stop(): Promise<void>;
}

function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // Only complete lines: the JSON line may arrive in pieces.
      const line = out.split('\n').slice(0, -1).find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`bench: tinycloud serve exited (${code}): ${out}`)));
  });
}

export async function serveBenchNode(sessionAtt: (space: string) => Attenuations): Promise<ServedNode> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tinycloud-bench-kv-'));
  // e.g. TINYCLOUD_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the node under load.
  const nodeFlags = (process.env.TINYCLOUD_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeFlags, CLI, 'serve', '--dir', dir, '--port', '0', '--address', '127.0.0.1', '--json'], {
    env: { ...process.env, TINYCLOUD_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const url = await listening(child);
    const { space, session, sessionDid, sessionCid } = await delegateSession(
      url,
      async (name) => (await fetch(`${url}/peer/generate/${encodeURIComponent(name)}`)).text(),
      sessionAtt,
    );
    const status = `/proc/${child.pid}/status`;
    return {
      port: Number(new URL(url).port),
      space,
      mint: (att) =>
        signUcan({ issuerKey: session, audience: sessionDid, att, prf: [sessionCid], exp: Date.now() / 1000 + 240, nonce: `urn:uuid:${randomUUID()}` }),
      resetPeakRss() {
        try {
          writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
          return true;
        } catch {
          return false;
        }
      },
      peakRssMiB: () => statusMiB(status, 'VmHWM'),
      rssMiB: () => statusMiB(status, 'VmRSS'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A `kB` field of /proc/<pid>/status in MiB, or undefined where there is no such file. */
function statusMiB(file: string, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(file, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
