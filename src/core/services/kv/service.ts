import { Readable } from 'node:stream';
import type { Transaction } from 'kysely';
import { canonicalAbility } from '../../auth/abilities.js';
import type { TinyCloudResource } from '../../auth/resource.js';
import type { BlockSource, BlockStore, StagedBlock } from '../../blocks/store.js';
import type { MetadataDb } from '../../db/database.js';
import { prepared } from '../../db/prepared.js';
import type { Database } from '../../db/schema.js';
import { writeTransaction } from '../../db/write-transaction.js';
import { TinyCloudError } from '../../errors.js';
import { addToTransactionEpoch, appendEpoch, eventCid, type AppendedEpoch, type EpochRows, type KvOp } from '../../events/index.js';
import { DAG_CBOR_CODEC, cidOfDigest, cidToBase32, parseCid } from '../../ids/cid.js';
import { INLINE_VALUE_BYTES, openValue, type StoredValue } from './content.js';
import { ListCursors } from './cursor.js';
import {
  etagOf,
  headerValue,
  objectMetadataOf,
  objectResponseHeaders,
  parseEntityTags,
  parseMetadata,
  SIZE_HEADER,
  tagsMatch,
  type HeaderBag,
} from './headers.js';
import { KeyedLock } from './keyed-lock.js';
import { checkKey, checkPrefix } from './keys.js';
import { multipartBoundary, readMultipart } from './multipart.js';
import { Quotas, quotaExhausted, quotaWouldExceed, type Admission } from './quota.js';
import { KvReader, applyCurrent, blockKnownQuery, recordBlock, type CurrentEntry, type EpochPosition, type KeyVersion } from './store.js';
import type { KvInvocation, KvRequest, KvResponse } from './types.js';

import { KV_ABILITIES } from './abilities.js';

export { KV_ABILITIES };

export type KvOperation = keyof typeof KV_ABILITIES;

const OPERATION_OF = new Map<string, KvOperation>(
  Object.entries(KV_ABILITIES).map(([op, ability]) => [ability, op as KvOperation]),
);

/** Largest single value unless `maxValueBytes` says otherwise: WIRE §4's 1 GiB (the node passes `storage.max_object_size`). */
export const MAX_VALUE_BYTES = 1024 * 1024 * 1024;
/** Most keys in one batch get, batch metadata or multipart put. */
export const MAX_BATCH = 100;
/** Largest `x-tinycloud-limit` for list and versions pages. */
export const MAX_PAGE = 1000;
/** The invocation fact that selects an earlier version of a key on get/metadata. */
export const VERSION_FACT = 'kvVersion';
/** Response header naming the version (writing invocation CID) of the value returned or written. */
export const VERSION_HEADER = 'x-tinycloud-version';
const CACHE_CONTROL = 'private, no-cache';

export interface KvServiceOptions {
  metadata: MetadataDb;
  blocks: BlockStore;
  /** `storage.limit` in bytes; null or 0 = unlimited. */
  storageLimit: number | null;
  /** HMAC key of list cursors: `NodeKeys.derive('tinycloud/kv/list-cursor')`. */
  cursorKey: Uint8Array;
  maxValueBytes?: number;
  /** Seconds since the epoch; tests pin it. */
  now?: () => number;
  /**
   * Store the invocation row a write's event points at, inside the write's transaction. Defaults to
   * inserting it when the auth layer has not already done so.
   */
  recordInvocation?: (trx: Transaction<Database>, invocation: KvInvocation, now: number) => Promise<void>;
}

interface Target {
  resource: TinyCloudResource;
  space: string;
  /** The key (get/put/del/metadata/versions) or prefix (list), exactly as written in the resource. */
  path: string;
}

interface WritePreconditions {
  ifMatch?: '*' | string[];
  ifNoneMatch?: '*';
}

interface StagedValue {
  key: string;
  metadata: Record<string, string>;
  block: StagedBlock;
}

const notFound = (key: string) => new TinyCloudError('KV_NOT_FOUND', `No Such Key: ${key}`);
const preconditionFailed = () => new TinyCloudError('PRECONDITION_FAILED', 'Precondition Failed');

/** `[seq, CID, epoch_seq]` of a live write, as a delete op records it (WIRE §6). */
const liveVersion = (entry: CurrentEntry): [number, ReturnType<typeof eventCid>, number] | null =>
  entry.deleted ? null : [entry.seq, eventCid(entry.invocation.subarray(2)), entry.epochSeq];

export const versionId = (invocationMultihash: Uint8Array): string => cidToBase32(eventCid(invocationMultihash.subarray(2)));
const epochId = (epochMultihash: Uint8Array): string => cidToBase32(cidOfDigest(epochMultihash.subarray(2), DAG_CBOR_CODEC));

/**
 * The KV service (WIRE §4) over content-addressed blocks: every put and delete is a version ordered into the
 * space's epochs (§6), reads stream from the block store, quotas are enforced while bodies stream in.
 */
export class KvService {
  readonly quotas: Quotas;
  readonly #metadata: MetadataDb;
  readonly #blocks: BlockStore;
  readonly #cursors: ListCursors;
  readonly #locks = new KeyedLock();
  /** Quota bytes held by writes between their reservation and their commit, per space. */
  readonly #reserved = new Map<string, number>();
  readonly #maxValueBytes: number;
  readonly #now: () => number;
  readonly #recordInvocation: NonNullable<KvServiceOptions['recordInvocation']>;

  constructor(options: KvServiceOptions) {
    this.#metadata = options.metadata;
    this.#blocks = options.blocks;
    this.quotas = new Quotas(options.metadata.db, options.storageLimit);
    this.#cursors = new ListCursors(options.cursorKey);
    this.#maxValueBytes = options.maxValueBytes ?? MAX_VALUE_BYTES;
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#recordInvocation = options.recordInvocation ?? recordInvocationRow;
  }

  get reader(): KvReader {
    return new KvReader(this.#metadata.db, this.#metadata.engine);
  }

  /** Whether an invocation asks anything of the KV service (any capability on a `…/kv` resource). */
  static handles(invocation: KvInvocation): boolean {
    return invocation.info.capabilities.some((c) => c.target.kind === 'tinycloud' && c.target.service === 'kv');
  }

  /** Run an authorized KV invocation. Failures are thrown as `TinyCloudError`s with their HTTP status. */
  async invoke(invocation: KvInvocation, request: KvRequest): Promise<KvResponse> {
    const { operation, targets } = classify(invocation);
    if (headerValue(request.headers, 'x-tinycloud-expected-version') !== undefined) {
      throw new TinyCloudError('BAD_REQUEST', 'x-tinycloud-expected-version is not supported; use If-Match');
    }
    const boundary = operation === 'put' ? multipartBoundary(headerValue(request.headers, 'content-type')) : undefined;
    const single = targets.length === 1 && boundary === undefined;
    const preconditions = writePreconditions(request.headers, operation, single);
    const version = versionFact(invocation, operation, targets.length);

    switch (operation) {
      case 'get':
      case 'metadata':
        if (targets.length === 1) return this.#read(operation, targets[0]!, request.headers, version);
        return this.#batchRead(operation, targets, request.headers);
      case 'put':
        if (boundary !== undefined) return this.#batchPut(invocation, targets, boundary, request);
        if (targets.length !== 1) throw new TinyCloudError('MISSING_INPUT', 'Missing Input: a put of several keys needs a multipart/form-data body');
        return this.#put(invocation, targets[0]!, preconditions, request);
      case 'del':
        return this.#delete(invocation, only(targets, 'del'), preconditions);
      case 'list':
        return this.#list(invocation, only(targets, 'list'), request.headers);
      case 'versions':
        return this.#versions(invocation, only(targets, 'versions'), request.headers);
    }
  }

  // ---- reads ---------------------------------------------------------------------------------------

  async #entry(target: Target, version: Uint8Array | undefined): Promise<{ entry: CurrentEntry; versionMultihash: Uint8Array }> {
    const key = checkKey(target.path);
    if (version) {
      const write = await this.reader.write(target.space, key, version);
      if (!write) {
        const deleted = await this.reader.deletedBy(target.space, key, version);
        throw new TinyCloudError('KV_NOT_FOUND', deleted ? `Version ${versionId(version)} deleted ${key}` : `No Such Version: ${versionId(version)}`);
      }
      return { entry: { key, ...write, deleted: false, writtenAt: write.at }, versionMultihash: version };
    }
    const entry = await this.reader.current(target.space, key);
    if (!entry || entry.deleted || !entry.value) throw notFound(key);
    return { entry, versionMultihash: entry.invocation };
  }

  async #read(operation: 'get' | 'metadata', target: Target, headers: HeaderBag, version: Uint8Array | undefined): Promise<KvResponse> {
    const { entry, versionMultihash } = await this.#entry(target, version);
    const etag = etagOf(entry.value!);
    const common: Record<string, string> = {
      etag,
      'cache-control': CACHE_CONTROL,
      [VERSION_HEADER]: versionId(versionMultihash),
      ...(entry.writtenAt !== undefined && { 'last-modified': new Date(entry.writtenAt * 1000).toUTCString() }),
    };
    const ifNoneMatch = headerValue(headers, 'if-none-match');
    if (ifNoneMatch !== undefined && weakMatch(parseEntityTags(ifNoneMatch, 'If-None-Match'), etag)) {
      return { status: 304, headers: common };
    }
    const response: Record<string, string> = { ...objectResponseHeaders(parseMetadata(entry.metadata)), ...common, [SIZE_HEADER]: String(entry.size) };
    // The answer to metadata has an empty body, so its Content-Length is 0; SIZE_HEADER carries the object's size.
    if (operation === 'metadata') return { status: 200, headers: response };
    checkResponseSize(headers, entry.size);
    response['content-length'] = String(entry.size);
    // A small value is answered from memory in one write; a larger one streams from the store.
    const body = await openValue(this.#blocks, storedValue(target.space, entry));
    if (!body) throw new TinyCloudError('INTERNAL', `Block ${etag} of ${target.space} is missing from the block store`);
    return { status: 200, headers: response, body };
  }

  async #batchRead(operation: 'get' | 'metadata', targets: Target[], headers: HeaderBag): Promise<KvResponse> {
    if (targets.length > MAX_BATCH) throw new TinyCloudError('BAD_REQUEST', `A batch reads at most ${MAX_BATCH} keys`);
    const reader = this.reader;
    const found = await Promise.all(
      targets.map(async (target) => {
        const key = checkKey(target.path);
        const entry = await reader.current(target.space, key);
        return { target, key, entry: entry && !entry.deleted && entry.value ? entry : undefined };
      }),
    );
    if (operation === 'get') checkResponseSize(headers, found.reduce((sum, f) => sum + (f.entry?.size ?? 0), 0));
    const blocks = this.#blocks;
    async function* json(): AsyncGenerator<string | Uint8Array> {
      yield '{"results":[';
      for (const [index, { target, key, entry }] of found.entries()) {
        if (index > 0) yield ',';
        if (!entry) {
          yield JSON.stringify({ key, ok: false, error: { code: 'KV_NOT_FOUND', message: `No Such Key: ${key}` } });
          continue;
        }
        const itemHeaders = {
          ...objectResponseHeaders(parseMetadata(entry.metadata)),
          etag: etagOf(entry.value!),
          'content-length': String(entry.size),
        };
        const head = JSON.stringify({ key, ok: true, headers: itemHeaders });
        if (operation === 'metadata') {
          yield head;
          continue;
        }
        const body = await openValue(blocks, storedValue(target.space, entry));
        if (!body) throw new TinyCloudError('INTERNAL', `Block of ${key} is missing from the block store`);
        yield `${head.slice(0, -1)},"dataBase64":"`;
        if (body instanceof Uint8Array) yield Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
        else yield* base64Chunks(body);
        yield '"}';
      }
      yield ']}';
    }
    return { status: 200, headers: { 'content-type': 'application/json' }, body: Readable.from(json(), { objectMode: false }) };
  }

  async #list(invocation: KvInvocation, target: Target, headers: HeaderBag): Promise<KvResponse> {
    const prefix = checkPrefix(target.path);
    const limit = pageLimit(headers);
    const cursor = headerValue(headers, 'x-tinycloud-cursor');
    const reader = this.reader;
    if (limit === undefined) {
      if (cursor !== undefined) throw new TinyCloudError('BAD_REQUEST', 'A cursor needs x-tinycloud-limit');
      // No page size asked for: the whole listing, streamed page by page so it never sits in memory.
      async function* all(): AsyncGenerator<string> {
        yield '[';
        let after: string | undefined;
        let first = true;
        for (;;) {
          const keys = await reader.keys(target.space, prefix, after, MAX_PAGE);
          for (const key of keys) {
            yield (first ? '' : ',') + JSON.stringify(key);
            first = false;
          }
          if (keys.length < MAX_PAGE) break;
          after = keys[keys.length - 1];
        }
        yield ']';
      }
      return {
        status: 200,
        headers: { 'content-type': 'application/json', 'x-tinycloud-truncated': 'false' },
        body: Readable.from(all(), { objectMode: false }),
      };
    }
    const scope = { invoker: invocation.info.delegator, space: target.space, prefix, action: KV_ABILITIES.list, limit };
    const after = cursor === undefined ? undefined : this.#cursors.decode(cursor, scope);
    const keys = await reader.keys(target.space, prefix, after, limit + 1);
    const truncated = keys.length > limit;
    const page = keys.slice(0, limit);
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        'x-tinycloud-truncated': String(truncated),
        ...(truncated && { 'x-tinycloud-next-cursor': this.#cursors.encode(scope, page[page.length - 1]!) }),
      },
      body: JSON.stringify(page),
    };
  }

  async #versions(invocation: KvInvocation, target: Target, headers: HeaderBag): Promise<KvResponse> {
    const key = checkKey(target.path);
    const limit = pageLimit(headers) ?? MAX_PAGE;
    const cursor = headerValue(headers, 'x-tinycloud-cursor');
    const scope = { invoker: invocation.info.delegator, space: target.space, prefix: key, action: KV_ABILITIES.versions, limit };
    const after = cursor === undefined ? undefined : parsePosition(this.#cursors.decode(cursor, scope));
    const rows = await this.reader.versions(target.space, key, after, limit + 1);
    if (rows.length === 0 && after === undefined) throw notFound(key);
    const truncated = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        'x-tinycloud-truncated': String(truncated),
        ...(truncated && last && { 'x-tinycloud-next-cursor': this.#cursors.encode(scope, formatPosition(last)) }),
      },
      body: JSON.stringify(page.map(describeVersion)),
    };
  }

  // ---- writes --------------------------------------------------------------------------------------

  async #put(invocation: KvInvocation, target: Target, preconditions: WritePreconditions, request: KvRequest): Promise<KvResponse> {
    const key = checkKey(target.path);
    const metadata = objectMetadataOf(request.headers);
    const usage = await this.#admit(target.space, declaredLength(request.headers));
    if (preconditions.ifMatch || preconditions.ifNoneMatch) {
      // Refuse before the body is read; checked again under the space lock.
      checkPreconditions(await this.reader.current(target.space, key), preconditions);
    }
    const block = await this.#stage(target.space, request.body, usage, 0, declaredLength(request.headers));
    try {
      const [written] = await this.#commitWrites(invocation, target.space, [{ key, metadata, block }], preconditions, usage);
      return { status: 200, headers: { etag: etagOf(block.digest), [VERSION_HEADER]: versionId(written!) } };
    } finally {
      await block.discard();
    }
  }

  async #batchPut(invocation: KvInvocation, targets: Target[], boundary: string, request: KvRequest): Promise<KvResponse> {
    if (targets.length > MAX_BATCH) throw new TinyCloudError('BAD_REQUEST', `A batch writes at most ${MAX_BATCH} keys`);
    const space = targets[0]!.space;
    if (targets.some((t) => t.space !== space)) throw new TinyCloudError('BAD_REQUEST', 'A batch put writes to one space');
    const keys = targets.map((t) => checkKey(t.path));
    if (!request.body) throw new TinyCloudError('MISSING_INPUT', 'Missing Input');
    const usage = await this.#admit(space, undefined);
    const staged = new Map<string, StagedValue>();
    try {
      let stagedBytes = 0;
      for await (const part of readMultipart(request.body as AsyncIterable<Uint8Array>, boundary, { maxParts: MAX_BATCH })) {
        const key = keyOfPart(part.name, keys);
        if (staged.has(key)) throw new TinyCloudError('BAD_REQUEST', `Duplicate part for key ${key}`);
        const metadata = objectMetadataOf(part.headers);
        const block = await this.#stage(space, part.body, usage, stagedBytes);
        staged.set(key, { key, metadata, block });
        stagedBytes += block.size;
      }
      const missing = keys.filter((k) => !staged.has(k));
      if (missing.length > 0) throw new TinyCloudError('MISSING_INPUT', `Missing Input: no part for ${missing.join(', ')}`);
      await this.#commitWrites(invocation, space, keys.map((k) => staged.get(k)!), {}, usage);
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ written: keys, count: keys.length }) };
    } finally {
      await Promise.all([...staged.values()].map((s) => s.block.discard()));
    }
  }

  /** 402 when the space is already full; 413 up front when the declared body cannot fit. */
  async #admit(space: string, declared: number | undefined): Promise<Admission> {
    const usage = await this.quotas.admission(space);
    if (usage.limitBytes !== null && usage.usedBytes >= usage.limitBytes) throw quotaExhausted(usage);
    if (declared !== undefined) {
      if (declared > this.#maxValueBytes) throw new TinyCloudError('TOO_LARGE', `Body exceeds ${this.#maxValueBytes} bytes`);
      if (usage.limitBytes !== null && declared > usage.limitBytes - usage.usedBytes) throw quotaWouldExceed(usage);
    }
    return usage;
  }

  /** Stream a value into staging while hashing it, refusing it as soon as it passes the size or quota cap. */
  async #stage(space: string, body: BlockSource | undefined, usage: Admission, alreadyStaged: number, expectedBytes?: number): Promise<StagedBlock> {
    const remaining = usage.limitBytes === null ? Infinity : usage.limitBytes - usage.usedBytes - alreadyStaged;
    const byQuota = remaining < this.#maxValueBytes;
    try {
      return await this.#blocks.stage(space, body ?? emptyBody(), {
        maxBytes: Math.max(0, Math.min(remaining, this.#maxValueBytes)),
        exceedCode: byQuota ? 'QUOTA_EXCEEDED' : 'TOO_LARGE',
        expectedBytes,
      });
    } catch (error) {
      if (error instanceof TinyCloudError && error.code === 'QUOTA_EXCEEDED' && usage.usedBytes !== undefined) throw quotaWouldExceed(usage);
      throw error;
    }
  }

  /**
   * Hold quota for a write until it commits: under the space's lock, the committed usage, the bytes other
   * writes in flight have reserved and this write's new blocks must fit the limit. Returns the release.
   */
  async #reserve(space: string, values: StagedValue[]): Promise<() => void> {
    return this.#locks.run(space, async () => {
      const usage = await this.quotas.usage(space);
      if (usage.limitBytes === null) return () => undefined;
      const fresh = new Map<string, number>();
      for (const { block } of values) {
        const name = Buffer.from(block.digest).toString('hex');
        if (fresh.has(name)) continue;
        const known = (await blockKnownQuery(this.#metadata.db, space, block.digest)).rows.length > 0;
        if (!known) fresh.set(name, block.size);
      }
      const added = [...fresh.values()].reduce((a, b) => a + b, 0);
      const inFlight = this.#reserved.get(space) ?? 0;
      if (added > 0 && usage.usedBytes + inFlight + added > usage.limitBytes) throw quotaWouldExceed(usage);
      this.#reserved.set(space, inFlight + added);
      return () => {
        const left = (this.#reserved.get(space) ?? 0) - added;
        if (left > 0) this.#reserved.set(space, left);
        else this.#reserved.delete(space);
      };
    });
  }

  /**
   * Reserve quota, persist the blocks, then commit the versions, the event and its epoch in one transaction;
   * preconditions are checked inside that transaction, so no other write can land between check and commit.
   * A small value held in memory is not persisted: its bytes go into its `block` row in that same transaction
   * (content.ts). A larger block is persisted before the commit, so a crash leaves at most an unreferenced block,
   * never a version pointing at nothing. Unconditional writes share their transaction's epoch (one per group
   * commit, events/epochs.ts). Returns the version of each value.
   */
  async #commitWrites(
    invocation: KvInvocation,
    space: string,
    values: StagedValue[],
    preconditions: WritePreconditions,
    admitted: Admission,
  ): Promise<Uint8Array[]> {
    const release = admitted.limitBytes === null ? () => undefined : await this.#reserve(space, values);
    try {
      const inline = values.map(({ block }) => block.inlineBytes(INLINE_VALUE_BYTES) ?? null);
      await Promise.all(values.map(({ block }, i) => (inline[i] ? undefined : block.persist())));
      const now = this.#now();
      const conditional = preconditions.ifMatch !== undefined || preconditions.ifNoneMatch !== undefined;
      await writeTransaction(this.#metadata, async (trx, group) => {
        if (conditional) checkPreconditions(await new KvReader(trx, this.#metadata.engine).current(space, values[0]!.key), preconditions);
        await this.#recordInvocation(trx, invocation, now);
        for (const [i, { block }] of values.entries()) await recordBlock(trx, space, block.digest, block.size, now, inline[i]);
        const ops: KvOp[] = values.map(({ key, metadata, block }) => ({ kind: 'write', key, value: block.digest, metadata }));
        const event = { kind: 'invocation' as const, multihash: invocation.multihash, ops };
        const writeRows: EpochRows = async (trx, epoch, epochSeq) => {
          for (const { key, metadata, block } of values) {
            const json = JSON.stringify(metadata);
            await insertWrite(trx, space, key, invocation.multihash, epoch.seq, epoch.epoch, epochSeq, block.digest, block.size, json, invocation.info.delegator, now);
            await applyCurrent(trx, { ...placed(space, key, invocation, epoch, epochSeq), value: block.digest, size: block.size, metadata: json, deleted: false });
          }
        };
        // A checked write must land where its check held: in an epoch of its own, before the shared one.
        if (!conditional) return addToTransactionEpoch(group, space, event, writeRows);
        const epoch = await appendEpoch(trx, space, [event]);
        await writeRows(trx, epoch, epoch.eventSeqs[0]!);
      });
      return values.map(() => invocation.multihash);
    } finally {
      release();
    }
  }

  async #delete(invocation: KvInvocation, target: Target, preconditions: WritePreconditions): Promise<KvResponse> {
    const key = checkKey(target.path);
    const space = target.space;
    const now = this.#now();
    const removed = await writeTransaction(this.#metadata, async (trx) => {
      const entry = await new KvReader(trx, this.#metadata.engine).current(space, key);
      if (!entry) throw notFound(key);
      checkPreconditions(entry, preconditions);
      await this.#recordInvocation(trx, invocation, now);
      const op: KvOp = { kind: 'delete', key, version: liveVersion(entry) };
      const epoch = await appendEpoch(trx, space, [{ kind: 'invocation', multihash: invocation.multihash, ops: [op] }]);
      const epochSeq = epoch.eventSeqs[0]!;
      await trx
        .insertInto('kv_delete')
        .values({
          space,
          key,
          invocation: invocation.multihash,
          seq: epoch.seq,
          epoch: epoch.epoch,
          epoch_seq: epochSeq,
          deleted_invocation: entry.deleted ? null : entry.invocation,
          writer: invocation.info.delegator,
          deleted_at: now,
        })
        .execute();
      await applyCurrent(trx, { ...placed(space, key, invocation, epoch, epochSeq), value: null, size: 0, metadata: '{}', deleted: true });
      return entry.deleted ? undefined : entry.value;
    });
    return { status: 200, headers: { ...(removed && { etag: etagOf(removed) }), [VERSION_HEADER]: versionId(invocation.multihash) } };
  }
}

// ---- helpers ---------------------------------------------------------------------------------------

/** A key's new version and where its event sits in epoch order, as the live index records it. */
function placed(space: string, key: string, invocation: KvInvocation, epoch: AppendedEpoch, epochSeq: number) {
  return { space, key, invocation: invocation.multihash, seq: epoch.seq, epoch: epoch.epoch, epochSeq };
}

/** Group an invocation's KV capabilities into one operation; mixed operations are 501 (WIRE §4). */
function classify(invocation: KvInvocation): { operation: KvOperation; targets: Target[] } {
  const seen = new Set<string>();
  const targets: Target[] = [];
  const operations = new Set<KvOperation>();
  const capabilities = [...invocation.info.capabilities].sort(
    (a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : a.ability < b.ability ? -1 : a.ability > b.ability ? 1 : 0),
  );
  for (const capability of capabilities) {
    const resource = capability.target;
    if (resource.kind !== 'tinycloud' || resource.service !== 'kv') continue;
    const operation = OPERATION_OF.get(canonicalAbility(capability.ability));
    if (!operation) continue;
    operations.add(operation);
    const id = `${operation} ${resource.uri}`;
    if (seen.has(id)) continue;
    seen.add(id);
    targets.push({ resource, space: resource.space.text, path: resource.path ?? '' });
  }
  if (operations.size === 0) throw new TinyCloudError('NOT_IMPLEMENTED', 'No KV operation in this invocation');
  if (operations.size > 1) throw new TinyCloudError('NOT_IMPLEMENTED', 'One invocation cannot mix KV operations');
  return { operation: [...operations][0]!, targets };
}

function only(targets: Target[], operation: KvOperation): Target {
  if (targets.length !== 1) throw new TinyCloudError('NOT_IMPLEMENTED', `A ${operation} invocation names exactly one resource`);
  return targets[0]!;
}

/**
 * `If-Match` / `If-None-Match: *` on writes (WIRE §4): only with exactly one non-multipart put (either) or
 * del (`If-Match`), never both. `If-None-Match` on get/metadata is a cache validator, handled by the read.
 */
function writePreconditions(headers: HeaderBag, operation: KvOperation, single: boolean): WritePreconditions {
  const ifMatch = headerValue(headers, 'if-match');
  const ifNoneMatch = headerValue(headers, 'if-none-match');
  const reads = operation === 'get' || operation === 'metadata';
  if (ifMatch !== undefined) {
    if (!single || (operation !== 'put' && operation !== 'del')) {
      throw new TinyCloudError('BAD_REQUEST', 'If-Match is allowed only with one non-multipart put or del');
    }
    if (ifNoneMatch !== undefined) throw new TinyCloudError('BAD_REQUEST', 'If-Match and If-None-Match cannot be combined');
    return { ifMatch: parseEntityTags(ifMatch, 'If-Match') };
  }
  if (ifNoneMatch !== undefined && !reads) {
    if (!single || operation !== 'put') {
      throw new TinyCloudError('BAD_REQUEST', 'If-None-Match is allowed only with one non-multipart put');
    }
    if (ifNoneMatch.trim() !== '*') throw new TinyCloudError('BAD_REQUEST', 'A put accepts only If-None-Match: *');
    return { ifNoneMatch: '*' };
  }
  return {};
}

function checkPreconditions(entry: CurrentEntry | undefined, preconditions: WritePreconditions): void {
  const live = entry && !entry.deleted && entry.value ? entry : undefined;
  if (preconditions.ifNoneMatch && live) throw preconditionFailed();
  if (preconditions.ifMatch && (!live || !tagsMatch(preconditions.ifMatch, etagOf(live.value!)))) throw preconditionFailed();
}

/** If-None-Match uses the weak comparison (RFC 9110 §13.1.2); our ETags are strong, so equality suffices. */
const weakMatch = (tags: '*' | string[], etag: string): boolean => tags === '*' || tags.includes(etag);

/** The `kvVersion` fact: an earlier version to read, named by the CID of the invocation that wrote it. */
function versionFact(invocation: KvInvocation, operation: KvOperation, count: number): Uint8Array | undefined {
  const fact = invocation.info.facts.find((f) => f && Object.hasOwn(f, VERSION_FACT));
  if (!fact) return undefined;
  if ((operation !== 'get' && operation !== 'metadata') || count !== 1) {
    throw new TinyCloudError('BAD_REQUEST', `The ${VERSION_FACT} fact applies to one get or metadata`);
  }
  const text = fact[VERSION_FACT];
  const cid = typeof text === 'string' ? parseCid(text) : undefined;
  if (!cid || cid.multihash.code !== 0x1e || cid.multihash.size !== 32) {
    throw new TinyCloudError('BAD_REQUEST', `${VERSION_FACT} must be the CID of the invocation that wrote the version`);
  }
  return cid.multihash.bytes;
}

function pageLimit(headers: HeaderBag): number | undefined {
  const text = headerValue(headers, 'x-tinycloud-limit');
  if (text === undefined) return undefined;
  const limit = /^\d{1,4}$/.test(text.trim()) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE)) throw new TinyCloudError('BAD_REQUEST', `x-tinycloud-limit must be 1..${MAX_PAGE}`);
  return limit;
}

function checkResponseSize(headers: HeaderBag, size: number): void {
  const text = headerValue(headers, 'x-tinycloud-max-response-bytes');
  if (text === undefined) return;
  const max = /^\d{1,16}$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(max)) throw new TinyCloudError('BAD_REQUEST', 'x-tinycloud-max-response-bytes must be a byte count');
  if (size > max) throw new TinyCloudError('TOO_LARGE', `Response of ${size} bytes exceeds x-tinycloud-max-response-bytes (${max})`);
}

function declaredLength(headers: HeaderBag): number | undefined {
  const text = headerValue(headers, 'content-length');
  return text !== undefined && /^\d{1,16}$/.test(text) ? Number(text) : undefined;
}

/**
 * The key a multipart part carries (WIRE §4: the part name is the percent-encoded key). The name matches a key
 * as written, or once percent-decoded; an exact match wins, and a name that fits no key is a 400.
 */
function keyOfPart(name: string, keys: string[]): string {
  if (keys.includes(name)) return name;
  const decoded = safeDecode(name);
  const matches = keys.filter((k) => k === decoded || safeDecode(k) === decoded);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new TinyCloudError('BAD_REQUEST', `Part ${JSON.stringify(name)} matches several keys`);
  throw new TinyCloudError('BAD_REQUEST', `Unknown part ${JSON.stringify(name)}: no put capability for it`);
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** Where the bytes of a live entry or version are. */
const storedValue = (space: string, entry: CurrentEntry): StoredValue => ({ space, digest: entry.value!, size: entry.size, inline: entry.inline });

/** Base64 of a byte stream, chunk by chunk (carrying up to 2 bytes between chunks). */
async function* base64Chunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  let carry = Buffer.alloc(0);
  for await (const chunk of source) {
    const bytes = carry.length ? Buffer.concat([carry, chunk]) : Buffer.from(chunk);
    const whole = bytes.length - (bytes.length % 3);
    if (whole > 0) yield bytes.subarray(0, whole).toString('base64');
    carry = bytes.subarray(whole);
  }
  if (carry.length) yield carry.toString('base64');
}

const formatPosition = (p: EpochPosition): string => `${p.seq}.${p.epochSeq}.${Buffer.from(p.invocation).toString('hex')}`;

function parsePosition(text: string): EpochPosition {
  const match = /^(\d+)\.(\d+)\.([0-9a-f]+)$/.exec(text);
  if (!match) throw new TinyCloudError('BAD_REQUEST', 'Invalid cursor');
  return { seq: Number(match[1]), epochSeq: Number(match[2]), invocation: new Uint8Array(Buffer.from(match[3]!, 'hex')) };
}

/** One entry of a `tinycloud.kv/versions` listing. */
export interface VersionDescription {
  version: string;
  writer: string;
  writtenAt: string;
  size: number;
  etag: string | null;
  epoch: string;
  seq: number;
  epochSeq: number;
  deleted: boolean;
}

function describeVersion(v: KeyVersion): VersionDescription {
  return {
    version: versionId(v.invocation),
    writer: v.writer,
    writtenAt: new Date(v.at * 1000).toISOString(),
    size: v.size,
    etag: v.value ? etagOf(v.value) : null,
    epoch: epochId(v.epoch),
    seq: v.seq,
    epochSeq: v.epochSeq,
    deleted: v.deleted,
  };
}

const insertWrite = prepared(
  (db, space: string, key: string, invocation: Uint8Array, seq: number, epoch: Uint8Array, epochSeq: number, value: Uint8Array, size: number, metadata: string, writer: string, at: number) =>
    db.insertInto('kv_write').values({ space, key, invocation, seq, epoch, epoch_seq: epochSeq, value, size, metadata, writer, written_at: at }),
);
const invocationKnown = prepared((db, id: Uint8Array) => db.selectFrom('invocation').select('id').where('id', '=', id));
const insertInvocation = prepared(
  (db, id: Uint8Array, invoker: string, issuedAt: number, expiry: number | null, facts: string | null, serialization: Uint8Array) =>
    db.insertInto('invocation').values({ id, invoker, issued_at: issuedAt, expiry, facts, serialization }),
);

/** The default `recordInvocation`: the invocation row an event refers to, unless the auth layer wrote it. */
async function recordInvocationRow(trx: Transaction<Database>, invocation: KvInvocation, now: number): Promise<void> {
  if ((await invocationKnown(trx, invocation.multihash)).rows.length > 0) return;
  const { info } = invocation;
  const facts = info.facts.length ? JSON.stringify(info.facts) : null;
  await insertInvocation(trx, invocation.multihash, info.delegator, info.issuedAt ?? now, info.expiry ?? null, facts, invocation.bytes);
}
