import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectorySyncs, writeAll } from '../../src/core/blocks/durable-fs.js';
import { openBlockStore } from '../../src/core/blocks/index.js';
import { ALICE_SPACE, chunked, randomBytes } from './helpers.js';

describe('durable file helpers', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'durable-fs-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('writeAll writes every chunk in order, empty ones included', async () => {
    const chunks = [randomBytes(10), new Uint8Array(0), randomBytes(70_000), randomBytes(1)];
    const handle = await open(join(base, 'f'), 'wx');
    await writeAll(handle, chunks);
    await handle.close();
    expect((await readFile(join(base, 'f'))).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('directory syncs asked for while one runs share the next one, which starts after the running one ends', async () => {
    const log: string[] = [];
    let release: (() => void) | undefined;
    const syncs = new DirectorySyncs(async (dir) => {
      log.push(`start ${dir}`);
      await new Promise<void>((resolve) => (release = resolve));
      log.push(`end ${dir}`);
    });
    const first = syncs.sync('a');
    await Promise.resolve();
    await Promise.resolve();
    const queued = [syncs.sync('a'), syncs.sync('a'), syncs.sync('a')];
    expect(log).toEqual(['start a']);
    release!();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['start a', 'end a', 'start a']);
    release!();
    await Promise.all(queued);
    expect(log).toEqual(['start a', 'end a', 'start a', 'end a']);
  });

  it('a failed directory sync fails its callers and does not block the next one', async () => {
    let fail = true;
    const syncs = new DirectorySyncs(async () => {
      if (fail) throw new Error('EIO');
    });
    await expect(syncs.sync('a')).rejects.toThrow('EIO');
    fail = false;
    await expect(syncs.sync('a')).resolves.toBeUndefined();
  });

  it('two concurrent puts of the same content: one creates the block, the other waits for it and reports it was there', async () => {
    const store = await openBlockStore({ type: 'Local', path: join(base, 'blocks') }, { staging: 'Memory' });
    try {
      const bytes = randomBytes(5000);
      const results = await Promise.all([store.put(ALICE_SPACE, chunked(bytes)), store.put(ALICE_SPACE, chunked(bytes))]);
      expect(results.map((r) => r.created)).toEqual([true, false]);
      expect(await store.has(ALICE_SPACE, results[0]!.digest)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
