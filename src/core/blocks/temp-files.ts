import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sweepAbandonedFiles } from '../abandoned-files.js';

// Temporary files carry the writer's pid so a sweep can tell an abandoned file (its writer died) from one
// another live process sharing the directory is still writing.
const TEMP_NAME = /^(\d+)\.[0-9a-f]{16}\.(stage|part)$/;

export function tempPath(dir: string, kind: 'stage' | 'part'): string {
  return join(dir, `${process.pid}.${randomBytes(8).toString('hex')}.${kind}`);
}

/** Remove temporary files left in `dir` by processes that no longer exist. Returns how many went. */
export async function sweepAbandonedTempFiles(dir: string): Promise<number> {
  return sweepAbandonedFiles(dir, TEMP_NAME);
}
