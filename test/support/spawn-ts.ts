import { spawn, type ChildProcessWithoutNullStreams, type SpawnOptionsWithoutStdio } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const loader = fileURLToPath(new URL('./ts-loader.mjs', import.meta.url));

/** Run a TypeScript file in a separate `node` process, e.g. to SIGKILL it half way through a write. */
export function spawnTs(
  file: string,
  args: string[] = [],
  options: SpawnOptionsWithoutStdio = {},
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', loader, file, ...args], options);
}
