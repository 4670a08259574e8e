import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { SpaceId } from '../auth/resource.js';
import { encodeKvPath, invocationAtt } from './capabilities.js';
import { KV_ABILITIES } from '../services/kv/abilities.js';
import { SIZE_HEADER } from '../services/kv/headers.js';
import { ClientError } from './errors.js';
import { drain, headerText } from './http.js';
import type { Invoker } from './invoker.js';
import type { NodeClient } from './node-client.js';

export const KV = KV_ABILITIES;

/** What a node says about a stored value (get and head). */
export interface KvObjectInfo {
  readonly key: string;
  /** Bytes, when the node reports them (`x-tinycloud-content-length`, or a get's `Content-Length`). */
  readonly size: number | null;
  /** `"blake3-<hex>"`, quotes included (WIRE §0). */
  readonly etag: string | null;
  readonly contentType: string | null;
  /** The writing invocation's CID (`x-tinycloud-version`), on nodes that report it. */
  readonly version: string | null;
  readonly lastModified: string | null;
  /** `x-tinycloud-meta-*` headers, without the prefix. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface KvPutResult {
  readonly key: string;
  readonly etag: string | null;
  readonly version: string | null;
}

export interface KvDeleteResult {
  readonly key: string;
  /** ETag of the value that was live, null when the key was already deleted. */
  readonly etag: string | null;
}

/** One entry of `tinycloud.kv/versions` (docs/kv-versions.md). */
export interface KvVersion {
  readonly version: string;
  readonly writer: string;
  readonly writtenAt: string;
  readonly size: number;
  readonly etag: string | null;
  readonly epoch: string;
  readonly seq: number;
  readonly epochSeq: number;
  readonly deleted: boolean;
}

export interface PutOptions {
  /** Sent as `Content-Length` when known (a file), else the body is chunked (stdin). */
  readonly size?: number;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** `If-None-Match: *`: create only. */
  readonly createOnly?: boolean;
  /** `If-Match`: replace only this ETag. */
  readonly ifMatch?: string;
}

const PAGE = 1000;

/** `withBody`: the answer carries the value, so its Content-Length is the size (a head answer's is 0). */
function objectInfo(key: string, headers: IncomingHttpHeaders, withBody: boolean): KvObjectInfo {
  const length = headerText(headers, SIZE_HEADER) ?? (withBody ? headerText(headers, 'content-length') : undefined);
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-tinycloud-meta-') && value !== undefined) metadata[name.slice('x-tinycloud-meta-'.length)] = String(value);
  }
  return {
    key,
    size: length === undefined ? null : Number(length),
    etag: headerText(headers, 'etag') ?? null,
    contentType: headerText(headers, 'content-type') ?? null,
    version: headerText(headers, 'x-tinycloud-version') ?? null,
    lastModified: headerText(headers, 'last-modified') ?? null,
    metadata,
  };
}

/**
 * KV over `/invoke` (WIRE §4) for one space, signed by one invoker. Values stream in and out: a put pipes its
 * body into the request, a get hands back the response stream.
 */
export class KvClient {
  constructor(
    readonly node: NodeClient,
    readonly invoker: Invoker,
    readonly space: SpaceId,
  ) {}

  /** `<space>/kv/<key>`; the key as it goes into the URI (see `encodeKvPath`). */
  resource(key: string): string {
    return `${this.space.text}/kv/${encodeKvPath(key)}`;
  }

  #invoke(ability: string, key: string, verb: string, extra: { headers?: Record<string, string>; body?: Readable; accept?: number[] } = {}) {
    return this.node.invoke(this.invoker.invocation(invocationAtt(this.resource(key), ability)), {
      ...extra,
      action: `kv ${verb} ${key}`,
      space: { id: this.space.text, name: this.space.name },
      invoker: this.invoker.did,
    });
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<KvPutResult> {
    const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/octet-stream' };
    if (options.size !== undefined) headers['content-length'] = String(options.size);
    if (options.createOnly) headers['if-none-match'] = '*';
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    for (const [name, value] of Object.entries(options.metadata ?? {})) headers[`x-tinycloud-meta-${name.toLowerCase()}`] = value;
    const response = await this.#invoke(KV.put, key, 'put', { headers, body });
    drain(response.body);
    return { key, etag: headerText(response.headers, 'etag') ?? null, version: headerText(response.headers, 'x-tinycloud-version') ?? null };
  }

  /** The value as a stream (read it to the end, or destroy it), with what the node says about it. */
  async get(key: string): Promise<{ info: KvObjectInfo; body: Readable }> {
    const response = await this.#invoke(KV.get, key, 'get');
    return { info: objectInfo(key, response.headers, true), body: response.body };
  }

  async head(key: string): Promise<KvObjectInfo> {
    const response = await this.#invoke(KV.metadata, key, 'head');
    drain(response.body);
    return objectInfo(key, response.headers, false);
  }

  async del(key: string): Promise<KvDeleteResult> {
    const response = await this.#invoke(KV.del, key, 'del');
    drain(response.body);
    return { key, etag: headerText(response.headers, 'etag') ?? null };
  }

  /** Keys under a plain string prefix (not segment-aware, WIRE §4), ascending, fetched a page at a time. */
  async *list(prefix: string): AsyncGenerator<string> {
    let cursor: string | undefined;
    for (;;) {
      const headers: Record<string, string> = { 'x-tinycloud-limit': String(PAGE), ...(cursor && { 'x-tinycloud-cursor': cursor }) };
      const response = await this.#invoke(KV.list, prefix, 'list', { headers });
      const keys = await this.node.readJson<unknown>(response, `kv list ${prefix}`);
      if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
        throw new ClientError('server', 'BAD_RESPONSE', `kv list on ${this.node.display}: expected a JSON array of keys`);
      }
      yield* keys as string[];
      cursor = headerText(response.headers, 'x-tinycloud-next-cursor');
      if (headerText(response.headers, 'x-tinycloud-truncated') !== 'true' || !cursor) return;
    }
  }

  /** Every version of a key, oldest first (the `tinycloud.kv/versions` extension). */
  async *versions(key: string): AsyncGenerator<KvVersion> {
    let cursor: string | undefined;
    for (;;) {
      const headers: Record<string, string> = { 'x-tinycloud-limit': String(PAGE), ...(cursor && { 'x-tinycloud-cursor': cursor }) };
      const response = await this.#invoke(KV.versions, key, 'versions', { headers });
      const page = await this.node.readJson<unknown>(response, `kv versions ${key}`);
      if (!Array.isArray(page)) throw new ClientError('server', 'BAD_RESPONSE', `kv versions on ${this.node.display}: expected a JSON array`);
      yield* page as KvVersion[];
      cursor = headerText(response.headers, 'x-tinycloud-next-cursor');
      if (headerText(response.headers, 'x-tinycloud-truncated') !== 'true' || !cursor) return;
    }
  }
}
