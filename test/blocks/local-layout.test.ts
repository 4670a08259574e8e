import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBlockStore } from '../../src/core/blocks/index.js';
import type { BlockStore } from '../../src/core/blocks/store.js';
import { HOSTILE_SPACES } from './block-store-contract.js';
import { ALICE_SPACE, blake3, chunked, collect, digestToName, randomBytes } from './helpers.js';

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('Local block store on disk', () => {
  let base: string;
  let root: string;
  let store: BlockStore | undefined;
  const open = async () => (store = await openBlockStore({ type: 'Local', path: root }, { staging: 'Memory' }));

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'blocks-layout-'));
    root = join(base, 'blocks');
  });
  afterEach(async () => {
    await store?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('files a block under <did suffix>/<name>/<first two chars>/<base64url digest>', async () => {
    await open();
    const { digest } = await store!.put(ALICE_SPACE, chunked(randomBytes(100)));
    const name = digestToName(digest);
    expect(name).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    const file = join(root, 'pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 'default', name.slice(0, 2), name);
    expect((await stat(file)).size).toBe(100);
  });

  it('never writes outside its root, whatever the space id', async () => {
    await mkdir(join(base, 'outside'));
    await open();
    for (const space of HOSTILE_SPACES) {
      await expect(store!.put(space, chunked(randomBytes(10)))).rejects.toMatchObject({ code: 'INVALID_SPACE_ID' });
    }
    expect(await readdir(base)).toEqual(['blocks', 'outside']);
    expect(await readdir(join(base, 'outside'))).toEqual([]);
    expect(await readdir(root)).toEqual(['.tmp']);
  });

  it('does not show an abandoned temp file as a block, and sweeps it on open', async () => {
    const bytes = randomBytes(1000);
    const digest = await blake3(bytes);
    const tmp = join(root, '.tmp');
    await mkdir(tmp, { recursive: true });
    const abandoned = join(tmp, `${await deadPid()}.0123456789abcdef.part`);
    const live = join(tmp, `${process.ppid}.0123456789abcdef.stage`);
    await writeFile(abandoned, bytes.subarray(0, 500));
    await writeFile(live, bytes);
    await open();
    expect(await store!.has(ALICE_SPACE, digest)).toBe(false);
    expect(await collect(store!.list(ALICE_SPACE))).toEqual([]);
    expect(await readdir(tmp)).toEqual([live.slice(tmp.length + 1)]);
    expect((await store!.put(ALICE_SPACE, chunked(bytes))).created).toBe(true);
  });

  it('ignores stray files that are not block names when listing', async () => {
    await open();
    const { digest } = await store!.put(ALICE_SPACE, chunked(randomBytes(10)));
    const dir = join(root, 'pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 'default');
    await writeFile(join(dir, 'README'), 'not a block');
    await writeFile(join(dir, digestToName(digest).slice(0, 2), 'x.part'), 'not a block');
    expect((await collect(store!.list(ALICE_SPACE))).map(digestToName)).toEqual([digestToName(digest)]);
  });
});
