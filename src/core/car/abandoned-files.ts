import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * Removes the files in `dir` whose name matches `pattern` (the writing process's pid its first group) and whose
 * process died (a crash, kill -9): nothing else will ever remove them. Another live process's files stay.
 */
export function sweepAbandonedFiles(dir: string, pattern: RegExp): void {
  for (const name of readdirSync(dir)) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    rmSync(path.join(dir, name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
