import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBlockStore, type BlockStorageOptions, type StagingMode } from '../../src/core/blocks/index.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { spawnTs } from '../support/spawn-ts.js';
import { blake3, chunked, collect, digestToName, hashStream, MiB, names } from './helpers.js';

const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const SPACE = 'tinycloud:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266:crash';

/** Start the writer, wait until it has stored `atLeast` blocks and an endless body is streaming, SIGKILL it. */
async function killWriterMidWrite(
  blocks: BlockStorageOptions,
  staging: { staging: StagingMode; stagingDir: string },
  maxBlockBytes: number,
  atLeast: number,
): Promise<string[]> {
  const child = spawnTs(writer, [JSON.stringify(blocks), JSON.stringify(staging), SPACE, String(maxBlockBytes)]);
  const stored: string[] = [];
  let output = '';
  let streaming = false;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString();
      const lines = output.split('\n');
      output = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('stored ')) stored.push(line.slice(7));
        if (line === 'endless-started') streaming = true;
      }
      if (streaming && stored.length >= atLeast) resolve();
    });
    let errors = '';
    child.stderr.on('data', (data: Buffer) => (errors += data.toString()));
    void exited.then(() => reject(new Error(`writer exited early:\n${errors}`)));
  });
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  return stored;
}

/** Every visible block is whole (its bytes hash to its name) and every block reported stored is there. */
async function expectOnlyWholeBlocks(blocks: BlockStorageOptions, stagingDir: string, stored: string[]) {
  const store = await openBlockStore(blocks, { staging: 'FileSystem', stagingDir });
  try {
    const listed = await collect(store.list(SPACE));
    expect(names(listed)).toEqual(expect.arrayContaining([...stored].sort()));
    for (const digest of listed) {
      const read = await hashStream((await store.get(SPACE, digest))!);
      expect(digestToName(read.digest)).toBe(digestToName(digest));
    }
    const again = new Uint8Array(3 * MiB).fill(7);
    const digest = await blake3(again);
    const created = !listed.some((d) => digestToName(d) === digestToName(digest));
    expect(await store.put(SPACE, chunked(again))).toEqual({ digest, size: again.length, created });
  } finally {
    await store.close();
  }
}

const dirs: string[] = [];
const tempDir = async (prefix: string) => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

describe.each<StagingMode>(['Memory', 'FileSystem'])('a Local store killed mid-write, %s staging', (staging) => {
  it('reopens with only whole blocks and no temp files left', { timeout: 60_000 }, async () => {
    const root = join(await tempDir('blocks-crash-'), 'blocks');
    const blocks: BlockStorageOptions = { type: 'Local', path: root };
    const stagingDir = join(root, '.tmp');
    const stored = await killWriterMidWrite(blocks, { staging, stagingDir }, 12 * MiB, 8);
    expect((await readdir(stagingDir)).length).toBeGreaterThan(0);
    await expectOnlyWholeBlocks(blocks, stagingDir, stored);
    expect(await readdir(stagingDir)).toEqual([]);
  });
});

describe('an S3 store killed mid-write', () => {
  let server: S3TestServer;
  beforeAll(async () => {
    server = await startS3Server('crash-blocks');
  }, 30_000);
  afterAll(() => server?.stop());

  it('reopens with only whole blocks and no staging files left', { timeout: 120_000 }, async () => {
    const blocks: BlockStorageOptions = { type: 'S3', bucket: server.bucket, endpoint: server.endpoint };
    const stagingDir = await tempDir('blocks-crash-staging-');
    const stored = await killWriterMidWrite(blocks, { staging: 'FileSystem', stagingDir }, 20 * MiB, 4);
    expect((await readdir(stagingDir)).length).toBeGreaterThan(0);
    await expectOnlyWholeBlocks(blocks, stagingDir, stored);
    expect(await readdir(stagingDir)).toEqual([]);
  });
});
