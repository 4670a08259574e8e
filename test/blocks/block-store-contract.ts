import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TinyCloudError } from '../../src/core/errors.js';
import type { StagingMode } from '../../src/core/blocks/staging.js';
import type { BlockStore } from '../../src/core/blocks/store.js';
import {
  ALICE_SPACE,
  BOB_SPACE,
  MiB,
  blake3,
  bufferMemoryProbe,
  chunked,
  collect,
  digestToName,
  generatedStream,
  hashStream,
  names,
  randomBytes,
  readAll,
} from './helpers.js';

export type OpenStore = (staging: StagingMode, stagingDir: string) => Promise<BlockStore>;

export const HOSTILE_SPACES = [
  '',
  '../../etc',
  '/etc/passwd',
  'tinycloud:',
  'tinycloud::default',
  'tinycloud:pkh:eip155:1:0xabc:',
  'tinycloud:pkh:eip155:1:0xabc:.',
  'tinycloud:pkh:eip155:1:0xabc:..',
  'tinycloud:..:..',
  'tinycloud:../../../tmp:x',
  'tinycloud:pkh:eip155:1:0xabc/../../..:default',
  'tinycloud:pkh:eip155:1:0xabc:a/b',
  'tinycloud:pkh:eip155:1:0xabc:..\\..\\x',
  'tinycloud:pkh:eip155:1:0xabc:nul\0byte',
  'tinycloud:pkh:eip155:1:0xabc:new\nline',
  'tinycloud:pkh:eip155:1:0xabc:ü',
  `tinycloud:pkh:eip155:1:0xabc:${'a'.repeat(300)}`,
  'tinycloud:/abs:default',
  'pkh:eip155:1:0xabc:default',
];

/** Buffer.equals, because a deep `toEqual` over megabytes takes seconds. */
function expectSameBytes(actual: Buffer, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TinyCloudError);
  expect((error as TinyCloudError).code).toBe(code);
}

/** The behaviour every BlockStore driver promises, run once per driver and staging mode. */
export function describeBlockStoreContract(driver: string, openStore: OpenStore): void {
  describe.each<StagingMode>(['Memory', 'FileSystem'])(`${driver} block store, %s staging`, (staging) => {
    let store: BlockStore;
    let stagingDir: string;
    let spaceCount = 0;
    // A fresh space per test keeps the tests independent while sharing one store.
    const freshSpace = (): string => `tinycloud:key:z6MkTest${staging}:space${++spaceCount}`;
    const stagingFiles = (): Promise<string[]> => readdir(stagingDir);

    beforeAll(async () => {
      stagingDir = await mkdtemp(join(tmpdir(), 'blocks-staging-'));
      store = await openStore(staging, stagingDir);
    });
    afterAll(async () => {
      await store?.close();
      await rm(stagingDir, { recursive: true, force: true });
    });

    it('returns the bytes it stored, addressed by their BLAKE3 digest', async () => {
      const space = freshSpace();
      const bytes = randomBytes(300_000);
      const result = await store.put(space, chunked(bytes));
      expect(result).toEqual({ digest: await blake3(bytes), size: bytes.length, created: true });
      expectSameBytes(await readAll(await store.get(space, result.digest)), bytes);
      expect(await store.has(space, result.digest)).toBe(true);
      expect(await store.size(space, result.digest)).toBe(bytes.length);
    });

    it('accepts a Node Readable as the source', async () => {
      const space = freshSpace();
      const bytes = randomBytes(100_000);
      const result = await store.put(space, Readable.from(chunked(bytes)));
      expectSameBytes(await readAll(await store.get(space, result.digest)), bytes);
    });

    it('stores empty content', async () => {
      const space = freshSpace();
      const result = await store.put(space, chunked(new Uint8Array(0)));
      expect(result.size).toBe(0);
      expect(await store.size(space, result.digest)).toBe(0);
      expect(await readAll(await store.get(space, result.digest))).toHaveLength(0);
    });

    it('stores identical content once per space', async () => {
      const [space, other] = [freshSpace(), freshSpace()];
      const bytes = randomBytes(50_000);
      const first = await store.put(space, chunked(bytes, 1000));
      const second = await store.put(space, chunked(bytes, 7777));
      expect(first.created).toBe(true);
      expect(second).toEqual({ ...first, created: false });
      expect(names(await collect(store.list(space)))).toEqual([digestToName(first.digest)]);
      expect((await store.put(other, chunked(bytes))).created).toBe(true);
      expect(await stagingFiles()).toEqual([]);
    });

    it('lists every block of a space and no other', async () => {
      const [space, other] = [freshSpace(), freshSpace()];
      const digests = [];
      for (let i = 0; i < 5; i++) digests.push((await store.put(space, chunked(randomBytes(1000 + i)))).digest);
      await store.put(other, chunked(randomBytes(10)));
      expect(names(await collect(store.list(space)))).toEqual(names(digests));
      expect(await collect(store.list(freshSpace()))).toEqual([]);
    });

    it('reads inclusive byte ranges and clamps an end past the last byte', async () => {
      const space = freshSpace();
      const bytes = randomBytes(10 * MiB + 123);
      const { digest } = await store.put(space, chunked(bytes, 1 * MiB));
      const read = async (start: number, end: number) => readAll(await store.get(space, digest, { start, end }));
      expectSameBytes(await read(0, 0), bytes.subarray(0, 1));
      expectSameBytes(await read(5, 9), bytes.subarray(5, 10));
      expectSameBytes(await read(MiB - 3, 3 * MiB + 2), bytes.subarray(MiB - 3, 3 * MiB + 3));
      expectSameBytes(await read(bytes.length - 10, bytes.length + 1000), bytes.subarray(bytes.length - 10));
    });

    it('refuses a range that starts past the last byte', async () => {
      const space = freshSpace();
      const { digest } = await store.put(space, chunked(randomBytes(100)));
      await expectCode(store.get(space, digest, { start: 100, end: 200 }), 'RANGE_NOT_SATISFIABLE');
      await expectCode(store.get(space, digest, { start: 5, end: 4 }), 'BAD_REQUEST');
    });

    it('reports a block it does not hold as absent', async () => {
      const space = freshSpace();
      const digest = await blake3(new TextEncoder().encode('never stored'));
      expect(await store.get(space, digest)).toBeUndefined();
      expect(await store.has(space, digest)).toBe(false);
      expect(await store.size(space, digest)).toBeUndefined();
      await expectCode(store.has(space, new Uint8Array(31)), 'BAD_REQUEST');
    });

    it('keeps a staged block invisible until it is persisted, and persists once', async () => {
      const space = freshSpace();
      const bytes = randomBytes(9 * MiB);
      const staged = await store.stage(space, chunked(bytes));
      expect(staged.digest).toEqual(await blake3(bytes));
      expect(await store.has(space, staged.digest)).toBe(false);
      expect(await collect(store.list(space))).toEqual([]);
      const [first, again] = await Promise.all([staged.persist(), staged.persist()]);
      expect(first).toEqual({ digest: staged.digest, size: bytes.length, created: true });
      expect(again).toEqual(first);
      await staged.discard();
      expectSameBytes(await readAll(await store.get(space, staged.digest)), bytes);
      expect(await stagingFiles()).toEqual([]);
    });

    it('hands over small content held in memory whole, without persisting it, and nothing else', async () => {
      const space = freshSpace();
      const bytes = randomBytes(5000);
      const staged = await store.stage(space, chunked(bytes, 1000));
      const whole = staged.inlineBytes(bytes.length);
      if (staging === 'Memory') expectSameBytes(Buffer.from(whole!), bytes);
      else expect(whole).toBeUndefined();
      expect(staged.inlineBytes(bytes.length - 1)).toBeUndefined();
      const single = await store.stage(space, chunked(bytes, bytes.length));
      if (staging === 'Memory') expect(single.inlineBytes(bytes.length)!.buffer).toBe(bytes.buffer);
      // No byte ever arrived, so even FileSystem staging opened no file.
      const empty = await store.stage(space, chunked(new Uint8Array(0)));
      expect(empty.inlineBytes(0)?.length).toBe(0);
      for (const s of [staged, single, empty]) await s.discard();
      expect(staged.inlineBytes(bytes.length)).toBeUndefined();
      expect(await store.has(space, staged.digest)).toBe(false);
      expect(await stagingFiles()).toEqual([]);
    });

    it('discarding a staged block leaves nothing behind', async () => {
      const space = freshSpace();
      const staged = await store.stage(space, chunked(randomBytes(9 * MiB)));
      await staged.discard();
      await expect(staged.persist()).rejects.toThrow(TinyCloudError);
      expect(await store.has(space, staged.digest)).toBe(false);
      expect(await stagingFiles()).toEqual([]);
    });

    it('aborts a write that passes maxBytes and leaves nothing behind', async () => {
      const space = freshSpace();
      const body = Readable.from(chunked(randomBytes(12 * MiB), 256 * 1024));
      await expectCode(store.put(space, body, { maxBytes: 10 * MiB }), 'TOO_LARGE');
      expect(body.destroyed).toBe(false);
      await expectCode(
        store.put(space, chunked(randomBytes(2000)), { maxBytes: 1999, exceedCode: 'QUOTA_EXCEEDED' }),
        'QUOTA_EXCEEDED',
      );
      expect(await collect(store.list(space))).toEqual([]);
      expect(await stagingFiles()).toEqual([]);
      expect((await store.put(space, chunked(randomBytes(2000)), { maxBytes: 2000 })).size).toBe(2000);
    });

    it('leaves nothing behind when the source fails half way', async () => {
      const space = freshSpace();
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield randomBytes(9 * MiB);
        throw new Error('client went away');
      }
      await expect(store.put(space, failing())).rejects.toThrow('client went away');
      expect(await collect(store.list(space))).toEqual([]);
      expect(await stagingFiles()).toEqual([]);
    });

    it('streams a 64 MiB body in and out with bounded memory', { timeout: 120_000 }, async () => {
      const space = freshSpace();
      const memory = bufferMemoryProbe();
      const source = await generatedStream(64 * MiB, memory.sample);
      const result = await store.put(space, source.body);
      expect(result).toEqual({ digest: source.digest(), size: 64 * MiB, created: true });
      const readBack = await store.get(space, result.digest);
      async function* probed(): AsyncGenerator<Uint8Array> {
        for await (const chunk of readBack!) {
          memory.sample();
          yield chunk;
        }
      }
      expect(await hashStream(probed())).toEqual({ digest: result.digest, size: 64 * MiB });
      // Memory staging may hold 8 MiB before spilling; the whole 64 MiB object must never be held.
      expect(memory.peak()).toBeLessThan(24 * MiB);
    });

    it('refuses hostile space ids before touching storage', async () => {
      const digest = await blake3(new Uint8Array([1]));
      for (const space of HOSTILE_SPACES) {
        await expectCode(store.put(space, chunked(new Uint8Array([1]))), 'INVALID_SPACE_ID');
        await expectCode(store.stage(space, chunked(new Uint8Array([1]))), 'INVALID_SPACE_ID');
        await expectCode(store.get(space, digest), 'INVALID_SPACE_ID');
        await expectCode(store.has(space, digest), 'INVALID_SPACE_ID');
        await expectCode(store.size(space, digest), 'INVALID_SPACE_ID');
        await expectCode(collect(store.list(space)), 'INVALID_SPACE_ID');
      }
      expect(await stagingFiles()).toEqual([]);
    });

    it('keeps percent-escapes in space ids literal', async () => {
      const space = `tinycloud:key:%2e%2e${staging}:%2e%2e`;
      const { digest } = await store.put(space, chunked(randomBytes(10)));
      expect(names(await collect(store.list(space)))).toEqual([digestToName(digest)]);
      expect(await store.has(BOB_SPACE, digest)).toBe(false);
      expect(await store.has(ALICE_SPACE, digest)).toBe(false);
    });
  });
}
