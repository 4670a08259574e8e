import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBlockStore, SMALL_BLOCK_BYTES } from '../../src/core/blocks/index.js';
import type { BlockStore } from '../../src/core/blocks/store.js';
import { HOSTILE_SPACES } from './block-store-contract.js';
import { ALICE_SPACE, blake3, chunked, digestToName, randomBytes } from './helpers.js';

describe('Local block store: readSmall', () => {
  let base: string;
  let store: BlockStore;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'blocks-small-'));
    store = await openBlockStore({ type: 'Local', path: join(base, 'blocks') }, { staging: 'Memory' });
  });
  afterEach(async () => {
    await store.close();
    await rm(base, { recursive: true, force: true });
  });

  it('returns the exact bytes of a stored block, empty and largest-small included', async () => {
    for (const size of [0, 1, 1024, SMALL_BLOCK_BYTES]) {
      const bytes = randomBytes(size);
      const { digest } = await store.put(ALICE_SPACE, chunked(bytes));
      expect(Buffer.from((await store.readSmall!(ALICE_SPACE, digest, size))!).equals(bytes)).toBe(true);
    }
  });

  it('answers undefined for a block the space does not hold', async () => {
    expect(await store.readSmall!(ALICE_SPACE, await blake3(randomBytes(10)), 10)).toBeUndefined();
  });

  it('refuses sizes above SMALL_BLOCK_BYTES and hostile space ids', async () => {
    const digest = await blake3(randomBytes(10));
    await expect(store.readSmall!(ALICE_SPACE, digest, SMALL_BLOCK_BYTES + 1)).rejects.toBeInstanceOf(RangeError);
    for (const space of HOSTILE_SPACES) {
      await expect(store.readSmall!(space, digest, 10)).rejects.toMatchObject({ code: 'INVALID_SPACE_ID' });
    }
  });

  it('reports a block shorter than its recorded size instead of answering short', async () => {
    const bytes = randomBytes(2000);
    const { digest } = await store.put(ALICE_SPACE, chunked(bytes));
    const name = digestToName(digest);
    const file = join(base, 'blocks', 'pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 'default', name.slice(0, 2), name);
    await truncate(file, 1000);
    await expect(store.readSmall!(ALICE_SPACE, digest, 2000)).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
