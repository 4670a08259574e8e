import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeUcanEnvelope, type Ed25519KeyPair, type UcanEnvelope } from '../../src/core/auth/index.js';
import { openBlockStore, type BlockStore, type StagingMode } from '../../src/core/blocks/index.js';
import { openMetadataDb, type MetadataDb } from '../../src/core/db/database.js';
import { TinyCloudError } from '../../src/core/errors.js';
import { signUcan } from '../../src/core/auth/ucan.js';
import { KvService, SignedKvUrls, type KvResponse } from '../../src/core/services/kv/index.js';
import { unwrap } from '../../src/core/result.js';
import { tempDir } from '../support/test-node.js';
import type { S3TestServer } from '../support/s3-server.js';

export type Driver = 'Local' | 'S3';

export interface CoreKv {
  dir: string;
  metadata: MetadataDb;
  blocks: BlockStore;
  kv: KvService;
  signed: SignedKvUrls;
  blockDir: string;
  stagingDir: string;
  close(): Promise<void>;
}

/**
 * A KV service over a real metadata DB (SQLite unless `database` names another) and a real block store (local
 * disk, or the given S3 server). Bodies are staged to files unless `staging` says `Memory` (what a node does by
 * default, and the only way small values are stored inline).
 */
export async function openCoreKv(
  driver: Driver,
  options: { limit?: number | null; s3?: S3TestServer; bucket?: string; database?: string; staging?: StagingMode } = {},
): Promise<CoreKv> {
  const dir = tempDir('tinycloud-kv-');
  const blockDir = join(dir, 'blocks');
  const stagingDir = join(dir, 'staging');
  await mkdir(stagingDir, { recursive: true });
  const metadata = await openMetadataDb(options.database ?? `sqlite:${join(dir, 'caps.db')}`);
  const staging = { staging: options.staging ?? 'FileSystem', stagingDir };
  const blocks =
    driver === 'Local'
      ? await openBlockStore({ type: 'Local', path: blockDir }, staging)
      : await openBlockStore({ type: 'S3', bucket: options.bucket ?? options.s3!.bucket, endpoint: options.s3!.endpoint }, staging);
  const kv = new KvService({ metadata, blocks, storageLimit: options.limit ?? null, cursorKey: randomBytes(32) });
  const signed = new SignedKvUrls({ metadata, blocks, ticketKey: randomBytes(32) });
  return {
    dir,
    metadata,
    blocks,
    kv,
    signed,
    blockDir,
    stagingDir,
    async close() {
      await blocks.close();
      await metadata.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type Caps = Record<string, string | string[]>;

/** A real signed UCAN invocation by `key`, decoded into the envelope the auth guard hands to services. */
export async function invocation(key: Ed25519KeyPair, caps: Caps, facts?: Record<string, unknown>[]): Promise<UcanEnvelope> {
  const att: Record<string, Record<string, [Record<string, never>]>> = {};
  for (const [resource, abilities] of Object.entries(caps)) {
    att[resource] = {};
    for (const ability of [abilities].flat()) att[resource]![ability] = [{}];
  }
  const token = signUcan({
    issuerKey: key,
    audience: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
    att,
    exp: Math.floor(Date.now() / 1000) + 300,
    nonce: randomBytes(12).toString('base64url'),
    ...(facts && { facts }),
  });
  return unwrap(await decodeUcanEnvelope(token)) as UcanEnvelope;
}

export async function bodyOf(response: KvResponse): Promise<Buffer> {
  const body = response.body;
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export async function jsonOf<T = unknown>(response: KvResponse): Promise<T> {
  return JSON.parse((await bodyOf(response)).toString()) as T;
}

/** The TinyCloudError a promise rejects with (fails the test when it resolves). */
export async function failure(promise: Promise<unknown>): Promise<TinyCloudError> {
  const outcome = await promise.then(
    () => new Error('expected a failure, got success'),
    (e: unknown) => e,
  );
  if (!(outcome instanceof TinyCloudError)) throw outcome;
  return outcome;
}

export async function* chunks(data: Buffer, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

/** Every file under a directory, relative paths, recursively. */
export async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), rel);
      else out.push(rel);
    }
  }
  await walk(root, '');
  return out.sort();
}

/** A multipart/form-data body, one part per `[name, value, headers]`. */
export function multipartBody(parts: [name: string, value: string | Buffer, headers?: Record<string, string>][], boundary = `----tc${randomBytes(8).toString('hex')}`) {
  const pieces: Buffer[] = [];
  for (const [name, value, headers] of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${name.replace(/"/g, '%22')}"\r\n`;
    for (const [h, v] of Object.entries(headers ?? {})) head += `${h}: ${v}\r\n`;
    pieces.push(Buffer.from(`${head}\r\n`), Buffer.from(value), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(pieces), contentType: `multipart/form-data; boundary=${boundary}` };
}
