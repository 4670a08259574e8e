import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const root = fileURLToPath(new URL('../..', import.meta.url));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    if (name.endsWith('.ts') || name.endsWith('.tsx')) newest = Math.max(newest, statSync(join(dir, name)).mtimeMs);
  }
  return newest;
}

/**
 * Tests that run `node bin/run.js` need `dist/` to match `src/` (`npm test` builds first). When a single test
 * file is run on its own after editing sources, rebuild instead of testing stale code.
 */
export async function ensureBuilt(): Promise<void> {
  const marker = join(root, 'dist', 'core', 'node.js');
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(join(root, 'src'))) return;
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, reject: false });
}
