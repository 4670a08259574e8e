import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';

/** fsync a directory so the names created or renamed in it survive a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `mkdir -p dir`, fsyncing the parent of every directory it had to create. */
export async function ensureDirDurable(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true });
  if (firstCreated === undefined) return;
  const created = relative(dirname(firstCreated), dir).split(sep);
  let parent = dirname(firstCreated);
  for (const name of created) {
    await fsyncDir(parent);
    parent = `${parent}${sep}${name}`;
  }
}

/** Write all of `bytes` at the handle's current position (a single write may be short). */
export async function writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}
