// The hooks of ts-loader-hooks.mjs (NodeNext `./x.js` imports resolved to `./x.ts`, types erased per file, no
// type checking), with each transpiled module kept under the OS temp dir, keyed by a hash of its path and
// source. The `typescript` package is imported only when a module is not in the cache.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transpile } from './ts-loader-hooks.mjs';

export { resolve } from './ts-loader-hooks.mjs';

const cacheDir = path.join(tmpdir(), 'tinycloud-ts-cache');

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const fileName = fileURLToPath(url);
  const source = await readFile(fileName, 'utf8');
  const key = createHash('sha256').update(fileName).update('\0').update(source).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  try {
    return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true };
  } catch {
    // not cached yet
  }
  const outputText = await transpile(fileName, source);
  mkdirSync(cacheDir, { recursive: true });
  const temp = `${cached}.${process.pid}.tmp`;
  writeFileSync(temp, outputText);
  renameSync(temp, cached);
  return { format: 'module', source: outputText, shortCircuit: true };
}
