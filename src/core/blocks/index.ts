import { openLocalBlockStore } from './local.js';
import { openS3BlockStore } from './s3.js';
import type { StagingMode } from './staging.js';
import type { BlockStore } from './store.js';

export type BlockStorageOptions =
  | { type: 'Local'; path: string }
  | { type: 'S3'; bucket: string; endpoint?: string; region?: string };

export interface StagingOptions {
  /** `Memory` holds bodies up to 8 MiB in RAM and spills larger ones to `stagingDir`. */
  staging: StagingMode;
  stagingDir?: string;
}

/** Open the configured block store (`storage.blocks` and `storage.staging`, WIRE §10). */
export function openBlockStore(
  blocks: BlockStorageOptions,
  staging: StagingOptions = { staging: 'Memory' },
): Promise<BlockStore> {
  switch (blocks.type) {
    case 'Local':
      return openLocalBlockStore({ path: blocks.path, ...staging });
    case 'S3': {
      const { bucket, endpoint, region } = blocks;
      return openS3BlockStore({ bucket, endpoint, region, ...staging });
    }
  }
}

export type { BlockSource, BlockStore, ByteRange, PutResult, StagedBlock, WriteLimit } from './store.js';
export { SMALL_BLOCK_BYTES } from './store.js';
export type { StagingMode } from './staging.js';
export { digestToName, nameToDigest } from './digest.js';
