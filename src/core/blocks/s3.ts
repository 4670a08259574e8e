import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { TinyCloudError } from '../errors.js';
import { digestToName, nameToDigest } from './digest.js';
import { assertRangeShape } from './range.js';
import { spaceSegments } from './space-path.js';
import { stagedBlock, stageAndPersist } from './staged-block.js';
import { stageContent, type StagedContent, type StagingMode } from './staging.js';
import type { BlockStore, ByteRange } from './store.js';
import { sweepAbandonedTempFiles } from './temp-files.js';

export interface S3BlockStoreOptions {
  bucket: string;
  /** An S3-compatible endpoint (MinIO, R2, s3rver); implies path-style addressing. */
  endpoint?: string;
  /** Defaults to the SDK's own resolution (`AWS_REGION`, profile), or `us-east-1` with a custom endpoint. */
  region?: string;
  staging: StagingMode;
  /** Staging files go here; defaults to a private directory under the OS temp dir, removed on close. */
  stagingDir?: string;
  /** Bodies above this size go up as a multipart upload of parts this large (min 5 MiB, S3's floor). */
  partSize?: number;
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;
const PARTS_IN_FLIGHT = 4;

/**
 * Blocks as S3 objects under `<spaceId>/<base64url-padded digest>` (WIRE §4.1).
 *
 * A body is staged locally and hashed first, then uploaded straight under its final key. The alternative,
 * streaming to a temporary key and copying once the digest is known, uploads duplicates before noticing them,
 * pays a server-side copy of every object (CopyObject also stops at 5 GiB), and leaves visible stray objects
 * when the node dies between upload and delete. Staging is needed anyway because a block is persisted only
 * after the DB transaction; the cost is local disk for bodies in flight. A crash mid-upload leaves an
 * incomplete multipart upload, which is invisible to readers; a bucket lifecycle rule
 * (AbortIncompleteMultipartUpload) reclaims its space. On AWS the credentials need s3:ListBucket as well as
 * s3:GetObject/PutObject: without it a HEAD of an absent block answers 403 instead of 404.
 */
export async function openS3BlockStore(options: S3BlockStoreOptions): Promise<BlockStore> {
  const client = new S3Client({
    region: options.region ?? (options.endpoint && !process.env.AWS_REGION ? 'us-east-1' : undefined),
    endpoint: options.endpoint,
    forcePathStyle: options.endpoint !== undefined,
    // Non-AWS servers reject or mangle the CRC trailers the SDK would otherwise add by default.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = options.bucket;
  const ownStagingDir = options.stagingDir === undefined;
  const stagingDir = ownStagingDir
    ? await mkdtemp(join(tmpdir(), 'tinycloud-staging-'))
    : resolve(options.stagingDir!);
  if (!ownStagingDir) {
    await mkdir(stagingDir, { recursive: true });
    await sweepAbandonedTempFiles(stagingDir);
  }
  const area = { mode: options.staging, dir: stagingDir };
  const basePartSize = Math.max(options.partSize ?? DEFAULT_PART_SIZE, 5 * 1024 * 1024);

  const spacePrefix = (space: string): string => {
    spaceSegments(space);
    return `${space}/`;
  };
  const keyOf = (space: string, digest: Uint8Array): string => spacePrefix(space) + digestToName(digest);

  async function head(Key: string): Promise<number | undefined> {
    try {
      const out = await client.send(new HeadObjectCommand({ Bucket, Key }));
      return out.ContentLength ?? 0;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async function upload(Key: string, content: StagedContent): Promise<boolean> {
    if ((await head(Key)) !== undefined) return false;
    const partSize = Math.max(basePartSize, Math.ceil(content.size / MAX_PARTS));
    if (!content.file) {
      const body = Buffer.concat(content.chunks ?? []);
      await client.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentLength: body.length }));
    } else if (content.size <= partSize) {
      const Body = createReadStream(content.file);
      await client.send(new PutObjectCommand({ Bucket, Key, Body, ContentLength: content.size }));
    } else {
      await uploadMultipart(Key, content.file, content.size, partSize);
    }
    return true;
  }

  async function uploadMultipart(Key: string, file: string, size: number, partSize: number): Promise<void> {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    try {
      const count = Math.ceil(size / partSize);
      const parts: CompletedPart[] = new Array(count);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const index = next++;
          const start = index * partSize;
          const end = Math.min(start + partSize, size) - 1;
          const out = await client.send(
            new UploadPartCommand({
              Bucket,
              Key,
              UploadId,
              PartNumber: index + 1,
              Body: createReadStream(file, { start, end }),
              ContentLength: end - start + 1,
            }),
          );
          parts[index] = { PartNumber: index + 1, ETag: out.ETag };
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, count) }, worker));
      await client.send(
        new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (error) {
      await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
      throw error;
    }
  }

  const store: BlockStore = {
    async stage(space, source, limit) {
      const prefix = spacePrefix(space);
      const content = await stageContent(area, source, limit);
      return stagedBlock(content, (staged) => upload(prefix + digestToName(staged.digest), staged));
    },
    async put(space, source, limit) {
      return stageAndPersist(() => store.stage(space, source, limit));
    },
    async get(space, digest, range) {
      const Key = keyOf(space, digest);
      if (range) assertRangeShape(range);
      try {
        const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
        const out = await client.send(new GetObjectCommand({ Bucket, Key, Range }));
        const body = out.Body instanceof Readable ? out.Body : Readable.from(out.Body as AsyncIterable<Uint8Array>);
        return range ? trimToRange(body, range, out.ContentRange) : body;
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) return undefined;
        if (status === 416) throw new TinyCloudError('RANGE_NOT_SATISFIABLE', 'Range Not Satisfiable');
        throw error;
      }
    },
    async has(space, digest) {
      return (await head(keyOf(space, digest))) !== undefined;
    },
    async size(space, digest) {
      return head(keyOf(space, digest));
    },
    async *list(space) {
      const Prefix = spacePrefix(space);
      let ContinuationToken: string | undefined;
      do {
        const out = await client.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken }));
        for (const object of out.Contents ?? []) {
          const digest = nameToDigest(object.Key?.slice(Prefix.length) ?? '');
          if (digest) yield digest;
        }
        ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (ContinuationToken);
    },
    async close() {
      client.destroy();
      if (ownStagingDir) await rm(stagingDir, { recursive: true, force: true });
    },
  };
  return store;
}

/**
 * Some S3-compatible servers ignore part of a Range header (s3rver treats `bytes=0-0` as the whole object).
 * Content-Range says what was actually sent; cut the body back to what was asked for.
 */
function trimToRange(body: Readable, range: ByteRange, contentRange: string | undefined): Readable {
  const sent = /^bytes (\d+)-(\d+)\/\d+$/.exec(contentRange ?? '');
  if (!sent || Number(sent[2]) <= range.end) return body;
  if (Number(sent[1]) !== range.start) {
    body.destroy();
    throw new Error(`S3 answered bytes=${range.start}-${range.end} with ${contentRange}`);
  }
  return Readable.from(takeBytes(body, range.end - range.start + 1), { objectMode: false });
}

async function* takeBytes(source: Readable, count: number): AsyncGenerator<Uint8Array> {
  let left = count;
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    if (chunk.length >= left) {
      yield chunk.subarray(0, left);
      break;
    }
    left -= chunk.length;
    yield chunk;
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
