import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

/**
 * Removes the files in `dir` whose name matches `pattern` (the writing process's pid its first group) and whose
 * process died (a crash, kill -9): nothing else will ever remove them. Another live process's files stay. A
 * missing `dir` has nothing to sweep. Returns how many files went.
 */
export function sweepAbandonedFiles(dir: string, pattern: RegExp): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let removed = 0;
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    rmSync(path.join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
