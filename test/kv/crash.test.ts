import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBlockStore, type BlockStore } from '../../src/core/blocks/index.js';
import { nameToDigest } from '../../src/core/blocks/digest.js';
import { createBlake3Hasher } from '../../src/core/ids/blake3.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { tempDir } from '../support/test-node.js';
import { ensureBuilt } from './build.js';
import { serve, signIn } from './served-node.js';
import type { Driver } from './support.js';

const MiB = 1024 * 1024;

/**
 * Start a put of `total` bytes and resolve once `sent` bytes are on the wire; the upload then stalls, as a slow
 * client would, until the test kills the server under it.
 */
function stalledUpload(url: string, authorization: string, total: number, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request(`${url}/invoke`, { method: 'POST', headers: { authorization, 'content-type': 'application/octet-stream', 'content-length': String(total) } });
    req.on('error', () => undefined);
    const chunk = Buffer.alloc(MiB, 0x5a);
    let written = 0;
    const pump = () => {
      while (written < sent) {
        written += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      resolve();
    };
    pump();
  });
}

/** Every block of a space must hash to its own name: a crash may lose a block, never corrupt one. */
async function expectIntactBlocks(store: BlockStore, space: string): Promise<number> {
  let count = 0;
  for await (const digest of store.list(space)) {
    const hasher = await createBlake3Hasher();
    for await (const chunk of (await store.get(space, digest))!) hasher.update(chunk);
    expect(Buffer.from(hasher.digest()).equals(Buffer.from(digest))).toBe(true);
    count++;
  }
  return count;
}

let s3: S3TestServer;
beforeAll(async () => {
  await ensureBuilt();
  s3 = await startS3Server('tinycloud-kv-crash');
}, 300_000);
afterAll(() => s3?.stop());

describe.each<Driver>(['Local', 'S3'])('kill -9 during a large upload (%s blocks)', (driver) => {
  it('leaves no partial object and no corrupt block, and the node serves normally after restart', async () => {
    const dir = tempDir('tinycloud-crash-');
    const env: Record<string, string> =
      driver === 'S3'
        ? {
            TINYCLOUD_STORAGE_BLOCKS_TYPE: 'S3',
            TINYCLOUD_STORAGE_BLOCKS_BUCKET: s3.bucket,
            TINYCLOUD_STORAGE_BLOCKS_ENDPOINT: s3.endpoint,
            AWS_ACCESS_KEY_ID: 'S3RVER',
            AWS_SECRET_ACCESS_KEY: 'S3RVER',
            TINYCLOUD_STORAGE_STAGING: 'FileSystem',
          }
        : { TINYCLOUD_STORAGE_STAGING: 'FileSystem' };
    const first = await serve(dir, env);
    const { space, token } = await signIn(first.url);
    const put = (key: string) => token({ [`${space}/kv/${key}`]: { 'tinycloud.kv/put': [{}] } });
    const small = await fetch(`${first.url}/invoke`, { method: 'POST', headers: { authorization: put('before') }, body: 'committed before the crash' });
    expect(small.status).toBe(200);

    await stalledUpload(first.url, put('big.bin'), 256 * MiB, 48 * MiB);
    // Wait until the node has staged a good part of the body, so the kill lands mid-write.
    const tmp = join(dir, 'blocks', '.tmp');
    const staged = () => (existsSync(tmp) ? readdirSync(tmp).reduce((n, f) => n + statSync(join(tmp, f)).size, 0) : 0);
    if (driver === 'Local') for (let i = 0; i < 200 && staged() < 16 * MiB; i++) await new Promise((r) => setTimeout(r, 25));
    else await new Promise((r) => setTimeout(r, 500));
    if (driver === 'Local') expect(staged()).toBeGreaterThan(0);
    first.child.kill('SIGKILL');
    expect((await first.child).signal).toBe('SIGKILL');

    const second = await serve(dir, env);
    try {
      const get = (key: string) =>
        fetch(`${second.url}/invoke`, { method: 'POST', headers: { authorization: token({ [`${space}/kv/${key}`]: { 'tinycloud.kv/get': [{}] } }) } });
      expect((await get('big.bin')).status).toBe(404);
      expect(await (await get('before')).text()).toBe('committed before the crash');
      const listed = await fetch(`${second.url}/invoke`, { method: 'POST', headers: { authorization: token({ [`${space}/kv/`]: { 'tinycloud.kv/list': [{}] } }) } });
      expect(await listed.json()).toEqual(['before']);
      if (driver === 'Local') expect(readdirSync(tmp)).toEqual([]);

      const store =
        driver === 'Local'
          ? await openBlockStore({ type: 'Local', path: join(dir, 'blocks') }, { staging: 'Memory' })
          : await openBlockStore({ type: 'S3', bucket: s3.bucket, endpoint: s3.endpoint }, { staging: 'Memory' });
      try {
        expect(await expectIntactBlocks(store, space)).toBe(1);
      } finally {
        await store.close();
      }

      // The same upload after restart goes through whole.
      const body = Buffer.alloc(24 * MiB, 0x5a);
      const again = await fetch(`${second.url}/invoke`, { method: 'POST', headers: { authorization: put('big.bin') }, body });
      expect(again.status).toBe(200);
      const read = await get('big.bin');
      const digest = createHash('sha256').update(Buffer.from(await read.arrayBuffer())).digest('hex');
      expect(digest).toBe(createHash('sha256').update(body).digest('hex'));
      if (driver === 'Local') {
        for (const name of readdirSync(join(dir, 'blocks'), { recursive: true }) as string[]) {
          const base = name.split('/').pop()!;
          if (nameToDigest(base)) expect((await readFile(join(dir, 'blocks', name))).length).toBeGreaterThan(0);
        }
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.child;
    }
  });
});
