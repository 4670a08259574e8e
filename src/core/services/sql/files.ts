import path from 'node:path';
import { blake3 } from '@noble/hashes/blake3.js';

const SAFE = /[^A-Za-z0-9._-]+/g;
const READABLE_CHARS = 48;

/**
 * A file-system name for any string: a readable prefix of inert characters, then 16 bytes of BLAKE3 over the
 * exact original. Distinct inputs never share a name, and nothing the client chooses can produce `/`, `..`,
 * a leading dot, a reserved device name or an over-long component.
 */
export function safeName(text: string): string {
  const readable = text.replace(SAFE, '_').replace(/^[._-]+/, '').slice(0, READABLE_CHARS);
  const digest = Buffer.from(blake3(new TextEncoder().encode(text), { dkLen: 16 })).toString('hex');
  return `${readable || 'x'}-${digest}`;
}

/** `<sqlPath>/<space>/<db>.sqlite3`, both components made safe. */
export function databaseFile(sqlPath: string, space: string, db: string): string {
  return path.join(sqlPath, safeName(space), `${safeName(db)}.sqlite3`);
}

/** The database a resource path names (WIRE §5): its last segment, `default` when there is none. */
export function databaseName(resourcePath: string | undefined): string {
  if (resourcePath === undefined) return 'default';
  const last = resourcePath.split('/').pop() ?? '';
  return last === '' ? 'default' : last;
}
