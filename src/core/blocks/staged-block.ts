import { TinyCloudError } from '../errors.js';
import { heldBytes, releaseContent, type StagedContent } from './staging.js';
import type { PutResult, StagedBlock } from './store.js';

/**
 * Wrap staged content with the store's way of persisting it. `persist` runs once (later calls share its
 * result); the staged bytes are released whether it succeeds or fails.
 */
export function stagedBlock(
  content: StagedContent,
  persistContent: (content: StagedContent) => Promise<boolean>,
): StagedBlock {
  let persisted: Promise<PutResult> | undefined;
  let discarded = false;
  return {
    digest: content.digest,
    size: content.size,
    persist() {
      if (discarded) {
        return Promise.reject(new TinyCloudError('INTERNAL', 'A discarded block cannot be persisted'));
      }
      persisted ??= persistContent(content)
        .then((created) => ({ digest: content.digest, size: content.size, created }))
        .finally(() => releaseContent(content));
      return persisted;
    },
    async discard() {
      if (persisted || discarded) return;
      discarded = true;
      await releaseContent(content);
    },
    inlineBytes(max) {
      return persisted || discarded ? undefined : heldBytes(content, max);
    },
  };
}

/** `stage` then `persist`, shared by every driver. */
export async function stageAndPersist(stage: () => Promise<StagedBlock>): Promise<PutResult> {
  const staged = await stage();
  try {
    return await staged.persist();
  } finally {
    await staged.discard();
  }
}
