import { createHmac, randomBytes } from 'node:crypto';
import { abilityMatches } from '../../auth/abilities.js';
import { parseResource, parseSpaceId, resourceExtends } from '../../auth/resource.js';
import type { BlockStore, ByteRange } from '../../blocks/store.js';
import type { MetadataDb } from '../../db/database.js';
import { TinyCloudError } from '../../errors.js';
import { openValue } from './content.js';
import { digestOfEtag, etagOf, headerValue, objectResponseHeaders, parseEntityTags, parseMetadata, type HeaderBag } from './headers.js';
import { checkKey } from './keys.js';
import { KV_ABILITIES } from './service.js';
import { KvReader } from './store.js';
import type { KvInvocation, KvResponse } from './types.js';

/** Longest life of a signed URL, whatever the request asks (WIRE §4.3). */
export const MAX_TICKET_TTL_SECONDS = 300;

export interface SignedUrlRequest {
  space: string;
  path: string;
  ttlSeconds?: number;
  contentHash?: string;
  etag?: string;
}

export interface SignedUrl {
  url: string;
  ticketId: string;
  /** RFC 3339, UTC, whole seconds. */
  expiresAt: string;
}

export interface SignedKvUrlsOptions {
  metadata: MetadataDb;
  blocks: BlockStore;
  /** `NodeKeys.derive('tinycloud/kv/signed-urls')`. */
  ticketKey: Uint8Array;
  now?: () => number;
}

const invalidTicket = (why: string) => new TinyCloudError('SIGNED_URL_INVALID', why);

/**
 * Short-lived bearer read URLs for one KV object (WIRE §4.3). A ticket is minted from an invocation holding
 * `tinycloud.kv/get` over the object, binds the object's current content hash, and serves exactly that content
 * (or a single byte range of it) until it expires; if the key changes or disappears the URL stops working.
 */
export class SignedKvUrls {
  readonly #metadata: MetadataDb;
  readonly #blocks: BlockStore;
  readonly #key: Uint8Array;
  readonly #now: () => number;

  constructor(options: SignedKvUrlsOptions) {
    this.#metadata = options.metadata;
    this.#blocks = options.blocks;
    this.#key = options.ticketKey;
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  async mint(invocation: KvInvocation, body: unknown): Promise<SignedUrl> {
    const request = parseSignedUrlRequest(body);
    const space = parseSpaceId(request.space);
    if (!space.ok) throw new TinyCloudError('INVALID_SPACE_ID', 'Invalid space ID');
    const key = checkKey(request.path);
    const parsed = parseResource(`${space.value.text}/kv/${key}`);
    if (!parsed.ok || parsed.value.kind !== 'tinycloud' || parsed.value.path !== key) {
      throw new TinyCloudError('INVALID_KEY', `Invalid key: ${JSON.stringify(key)} is not a valid resource path`);
    }
    const requested = parsed.value;
    const covered = invocation.info.capabilities.some(
      (c) => abilityMatches(c.ability, KV_ABILITIES.get) && resourceExtends(requested, c.target),
    );
    if (!covered) throw new TinyCloudError('FORBIDDEN', `Unauthorized Action: ${requested.uri} / ${KV_ABILITIES.get}`);

    const entry = await new KvReader(this.#metadata.db, this.#metadata.engine).current(requested.space.text, key);
    if (!entry || entry.deleted || !entry.value) throw new TinyCloudError('KV_NOT_FOUND', `No Such Key: ${key}`);
    const etag = etagOf(entry.value);
    for (const [name, value] of [['contentHash', request.contentHash], ['etag', request.etag]] as const) {
      if (value === undefined) continue;
      const digest = digestOfEtag(value);
      if (!digest) throw new TinyCloudError('BAD_REQUEST', `${name} must be a blake3 hex digest`);
      if (etagOf(digest) !== etag) throw new TinyCloudError('PRECONDITION_FAILED', `${name} does not match the current object`);
    }

    const now = this.#now();
    const limits = [now + (request.ttlSeconds ?? MAX_TICKET_TTL_SECONDS), now + MAX_TICKET_TTL_SECONDS];
    if (invocation.info.expiry !== undefined) limits.push(invocation.info.expiry);
    const parentExpiry = await this.#parentExpiry(invocation);
    if (parentExpiry !== undefined) limits.push(parentExpiry);
    const expiresAt = Math.floor(Math.min(...limits));
    if (expiresAt <= now) throw new TinyCloudError('BAD_REQUEST', 'The invocation or its delegation expires too soon for a signed URL');

    const ticketId = createHmac('sha256', this.#key).update(randomBytes(32)).digest('base64url');
    await this.#metadata.db
      .insertInto('signed_kv_ticket')
      .values({
        id: ticketId,
        space: requested.space.text,
        path: key,
        subject: invocation.info.delegator,
        etag,
        content_hash: entry.value,
        created_at: now,
        expires_at: expiresAt,
      })
      .execute();
    return { url: `/signed/kv/${ticketId}`, ticketId, expiresAt: new Date(expiresAt * 1000).toISOString().replace('.000Z', 'Z') };
  }

  async #parentExpiry(invocation: KvInvocation): Promise<number | undefined> {
    if (invocation.info.parents.length === 0) return undefined;
    const rows = await this.#metadata.db
      .selectFrom('delegation')
      .select('expiry')
      .where('id', 'in', invocation.info.parents.map((p) => new Uint8Array(p)))
      .execute();
    const expiries = rows.map((r) => r.expiry).filter((e): e is number => e !== null).map(Number);
    return expiries.length ? Math.min(...expiries) : undefined;
  }

  /** Serve a ticket: the whole object, or one `Range` of it (206 / 416), honouring `If-Range`. */
  async open(ticketId: string, headers: HeaderBag): Promise<KvResponse> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(ticketId)) throw invalidTicket('signed URL ticket not found');
    const ticket = await this.#metadata.db.selectFrom('signed_kv_ticket').selectAll().where('id', '=', ticketId).executeTakeFirst();
    if (!ticket) throw invalidTicket('signed URL ticket not found');
    if (Number(ticket.expires_at) <= this.#now()) throw invalidTicket('signed URL expired');

    const entry = await new KvReader(this.#metadata.db, this.#metadata.engine).current(ticket.space, ticket.path);
    if (!entry || entry.deleted || !entry.value) throw new TinyCloudError('KV_NOT_FOUND', `No Such Key: ${ticket.path}`);
    const etag = etagOf(entry.value);
    if (etag !== ticket.etag) throw new TinyCloudError('PRECONDITION_FAILED', 'signed URL content hash does not match');

    const base: Record<string, string> = {
      ...objectResponseHeaders(parseMetadata(entry.metadata)),
      etag,
      'cache-control': 'private, no-cache',
      'accept-ranges': 'bytes',
      ...(entry.writtenAt !== undefined && { 'last-modified': new Date(entry.writtenAt * 1000).toUTCString() }),
    };
    const ifNoneMatch = headerValue(headers, 'if-none-match');
    if (ifNoneMatch !== undefined) {
      const tags = parseEntityTags(ifNoneMatch, 'If-None-Match');
      if (tags === '*' || tags.includes(etag)) return { status: 304, headers: { etag, 'cache-control': base['cache-control']! } };
    }
    const rangeHeader = headerValue(headers, 'range');
    const ifRange = headerValue(headers, 'if-range');
    const range = rangeHeader === undefined || (ifRange !== undefined && ifRange.trim() !== etag) ? undefined : parseRange(rangeHeader, entry.size);
    if (range === 'unsatisfiable') {
      throw new TinyCloudError('RANGE_NOT_SATISFIABLE', 'Range Not Satisfiable', { headers: { 'content-range': `bytes */${entry.size}` } });
    }
    const body = await openValue(this.#blocks, { space: ticket.space, digest: entry.value, size: entry.size, inline: entry.inline }, range);
    if (!body) throw new TinyCloudError('INTERNAL', `Block ${etag} of ${ticket.space} is missing from the block store`);
    if (!range) return { status: 200, headers: { ...base, 'content-length': String(entry.size) }, body };
    return {
      status: 206,
      headers: { ...base, 'content-length': String(range.end - range.start + 1), 'content-range': `bytes ${range.start}-${range.end}/${entry.size}` },
      body,
    };
  }
}

function parseSignedUrlRequest(body: unknown): SignedUrlRequest {
  const bad = (why: string) => new TinyCloudError('BAD_REQUEST', why);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('The body must be a JSON object {space, path, ttlSeconds?}');
  const b = body as Record<string, unknown>;
  if (b.maxUses !== undefined && b.maxUses !== null) throw bad('maxUses is not supported');
  if (typeof b.space !== 'string') throw bad('space must be a string');
  if (typeof b.path !== 'string') throw bad('path must be a string');
  const ttl = b.ttlSeconds;
  if (ttl !== undefined && ttl !== null && !(typeof ttl === 'number' && Number.isInteger(ttl) && ttl >= 1)) {
    throw bad('ttlSeconds must be a positive integer');
  }
  for (const name of ['contentHash', 'etag'] as const) {
    if (b[name] !== undefined && b[name] !== null && typeof b[name] !== 'string') throw bad(`${name} must be a string`);
  }
  return {
    space: b.space,
    path: b.path,
    ...(typeof ttl === 'number' && { ttlSeconds: ttl }),
    ...(typeof b.contentHash === 'string' && { contentHash: b.contentHash }),
    ...(typeof b.etag === 'string' && { etag: b.etag }),
  };
}

/**
 * One `bytes=a-b | a- | -n` range (RFC 9110 §14.1.2). A header this server does not serve (another unit,
 * several ranges, bad syntax) is ignored and the whole object sent, as the RFC allows.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  // A first position at or past the end is unsatisfiable even when open (`bytes=<size>-`); a last position
  // past the end means the end (RFC 9110 §14.1.2), however many digits it has.
  const start = Number(match[1]);
  if (start >= size) return 'unsatisfiable';
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (end < start) return undefined;
  return { start, end };
}
