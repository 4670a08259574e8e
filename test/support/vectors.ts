import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared, read-only test vectors live beside the repository: `<repo>/../shared/vectors`. */
const VECTORS_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/vectors');

export function vectorPath(...parts: string[]): string {
  return resolve(VECTORS_ROOT, ...parts);
}

export function readVector(...parts: string[]): Buffer {
  return readFileSync(vectorPath(...parts));
}

export function readVectorText(...parts: string[]): string {
  return readFileSync(vectorPath(...parts), 'utf8');
}
