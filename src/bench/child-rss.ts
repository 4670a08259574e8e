import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface WatchedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The child's peak resident set size in bytes (VmHWM), or null when /proc gave no reading. */
  peakRss: number | null;
}

const POLL_MS = 20;

/** VmHWM of a live process in bytes; undefined without /proc, or once the process is gone (a zombie has none). */
function highWaterMark(pid: number): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** Whether a child's peak RSS can be read here (Linux /proc). */
export function canWatchRss(): boolean {
  return highWaterMark(process.pid) !== undefined;
}

/**
 * Run a command as its own process, as an operator would, and poll its peak RSS from /proc. VmHWM only grows, so
 * the last reading before the process exits is its peak (short of what it allocated in its last ~20 ms).
 */
export function runWatched(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<WatchedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peakRss: number | null = null;
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const poll = setInterval(() => {
      const hwm = child.pid === undefined ? undefined : highWaterMark(child.pid);
      if (hwm !== undefined) peakRss = hwm;
    }, POLL_MS);
    child.on('exit', () => clearInterval(poll));
    child.on('error', (error) => {
      clearInterval(poll);
      reject(error);
    });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, peakRss }));
  });
}
