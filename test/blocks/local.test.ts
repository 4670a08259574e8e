import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openBlockStore } from '../../src/core/blocks/index.js';
import { describeBlockStoreContract } from './block-store-contract.js';

const roots: string[] = [];
afterAll(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

describeBlockStoreContract('Local', async (staging, stagingDir) => {
  const root = await mkdtemp(join(tmpdir(), 'blocks-local-'));
  roots.push(root);
  return openBlockStore({ type: 'Local', path: join(root, 'blocks') }, { staging, stagingDir });
});
