import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

// Temporary files carry the writer's pid so a sweep can tell an abandoned file (its writer died) from one
// another live process sharing the directory is still writing.
const TEMP_NAME = /^(\d+)\.[0-9a-f]{16}\.(stage|part)$/;

export function tempPath(dir: string, kind: 'stage' | 'part'): string {
  return join(dir, `${process.pid}.${randomBytes(8).toString('hex')}.${kind}`);
}

/** Remove temporary files left in `dir` by processes that no longer exist. Returns how many went. */
export async function sweepAbandonedTempFiles(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let removed = 0;
  for (const name of names) {
    const pid = Number(TEMP_NAME.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await rm(join(dir, name), { force: true });
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
