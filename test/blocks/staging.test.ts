import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { releaseContent, stageContent } from '../../src/core/blocks/staging.js';
import { blake3, randomBytes } from './helpers.js';

describe('staging', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staging-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a body announced as larger than the memory limit goes to a file from the first byte, whatever it turns out to be', async () => {
    const bytes = randomBytes(3000);
    const staged = await stageContent({ mode: 'Memory', dir, memoryLimit: 1000 }, [bytes], { expectedBytes: 5000 });
    expect(staged.chunks).toBeUndefined();
    expect((await readFile(staged.file!)).equals(bytes)).toBe(true);
    await releaseContent(staged);
    const small = await stageContent({ mode: 'Memory', dir, memoryLimit: 1000 }, [bytes.subarray(0, 10)], { expectedBytes: 5000 });
    expect((await readFile(small.file!)).equals(bytes.subarray(0, 10))).toBe(true);
    await releaseContent(small);
    expect(await readdir(dir)).toEqual([]);
  });

  it('many chunks of every size, coalesced into few writes, land in order with the right digest', async () => {
    const chunks = Array.from({ length: 2000 }, (_, i) => randomBytes(i % 7 === 0 ? 0 : (i * 7919) % 3000));
    chunks.push(randomBytes(3 * 1024 * 1024));
    async function* slowAndFast(): AsyncGenerator<Uint8Array> {
      for (const [i, chunk] of chunks.entries()) {
        if (i % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        yield chunk;
      }
    }
    const whole = Buffer.concat(chunks);
    for (const mode of ['Memory', 'FileSystem'] as const) {
      const staged = await stageContent({ mode, dir, memoryLimit: 100_000, fsync: true }, slowAndFast());
      expect(staged.size).toBe(whole.length);
      expect(Buffer.from(staged.digest).equals(Buffer.from(await blake3(whole)))).toBe(true);
      expect((await readFile(staged.file!)).equals(whole)).toBe(true);
      await releaseContent(staged);
    }
  });

  it('a body announced past 8 MiB is hashed on the worker thread, and one that fails there leaves nothing behind', async () => {
    const bytes = randomBytes(9 * 1024 * 1024 + 5);
    const staged = await stageContent({ mode: 'Memory', dir, fsync: true }, [bytes.subarray(0, 100), bytes.subarray(100)], { expectedBytes: bytes.length });
    expect(Buffer.from(staged.digest).equals(Buffer.from(await blake3(bytes)))).toBe(true);
    expect((await readFile(staged.file!)).equals(bytes)).toBe(true);
    await releaseContent(staged);
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield bytes.subarray(0, 4 * 1024 * 1024);
      throw new Error('connection reset');
    }
    await expect(stageContent({ mode: 'Memory', dir }, broken(), { expectedBytes: bytes.length })).rejects.toThrow('connection reset');
    await expect(stageContent({ mode: 'Memory', dir }, [bytes], { expectedBytes: bytes.length, maxBytes: 1000 })).rejects.toMatchObject({ code: 'TOO_LARGE' });
    expect(await readdir(dir)).toEqual([]);
  });
});
