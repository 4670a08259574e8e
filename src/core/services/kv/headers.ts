import { TinyCloudError } from '../../errors.js';

/** Request headers as Node delivers them: lower-case names, repeated headers as arrays. */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** The object headers a put stores and a get returns (WIRE §4), besides `x-tinycloud-meta-*`. */
export const STORED_HEADERS = ['content-type', 'content-encoding', 'content-language', 'content-disposition'] as const;
export const META_PREFIX = 'x-tinycloud-meta-';
/**
 * The stored size of a value, on get and metadata answers: a metadata answer has no body, so its
 * `Content-Length` is 0 and cannot say it.
 */
export const SIZE_HEADER = 'x-tinycloud-content-length';
/** Stored headers of one object, names and values together. Larger sets are refused with 400. */
export const MAX_METADATA_BYTES = 8 * 1024;

// What Node itself accepts in an outgoing header value: a stored value must be sendable back unchanged.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const META_NAME = /^x-tinycloud-meta-[!#$%&'*+.^_`|~0-9a-z-]+$/;

export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The stored object headers of a put, from the request (or a multipart part's) headers. */
export function objectMetadataOf(headers: HeaderBag): Record<string, string> {
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [rawName, rawValue] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    const stored = (STORED_HEADERS as readonly string[]).includes(name) || name.startsWith(META_PREFIX);
    if (!stored || rawValue === undefined) continue;
    if (name.startsWith(META_PREFIX) && !META_NAME.test(name)) {
      throw new TinyCloudError('BAD_REQUEST', `Invalid metadata header name: ${name}`);
    }
    const value = Array.isArray(rawValue) ? rawValue.join(', ') : rawValue;
    if (!HEADER_VALUE.test(value)) throw new TinyCloudError('BAD_REQUEST', `Invalid value for header ${name}`);
    bytes += name.length + value.length;
    metadata[name] = value;
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw new TinyCloudError('BAD_REQUEST', `Object headers exceed ${MAX_METADATA_BYTES} bytes`);
  }
  return metadata;
}

export function parseMetadata(json: string): Record<string, string> {
  const value: unknown = JSON.parse(json);
  return value && typeof value === 'object' ? (value as Record<string, string>) : {};
}

/** `"blake3-<64 hex>"`, quotes included (WIRE §0). */
export function etagOf(digest: Uint8Array): string {
  return `"blake3-${Buffer.from(digest).toString('hex')}"`;
}

/** The digest an ETag or content hash names: `"blake3-<hex>"`, `blake3-<hex>` or bare hex; else undefined. */
export function digestOfEtag(text: string): Uint8Array | undefined {
  const hex = /^(?:W\/)?"?(?:blake3-)?([0-9a-fA-F]{64})"?$/.exec(text.trim())?.[1];
  return hex ? new Uint8Array(Buffer.from(hex, 'hex')) : undefined;
}

/**
 * An `If-Match` / `If-None-Match` value: `*`, or a comma-separated list of quoted entity tags (weak `W/`
 * prefixes dropped, RFC 9110 §13.1). Anything else is a 400: a misspelt precondition must not pass silently.
 */
export function parseEntityTags(header: string, name: string): '*' | string[] {
  const text = header.trim();
  if (text === '*') return '*';
  const tags: string[] = [];
  const pattern = /\s*(?:W\/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(,|$)/y;
  let offset = 0;
  while (offset < text.length) {
    pattern.lastIndex = offset;
    const match = pattern.exec(text);
    if (!match) throw new TinyCloudError('BAD_REQUEST', `Invalid ${name} header`);
    tags.push(match[1]!);
    offset = pattern.lastIndex;
    if (match[2] === '') break;
  }
  if (tags.length === 0) throw new TinyCloudError('BAD_REQUEST', `Invalid ${name} header`);
  return tags;
}

export const tagsMatch = (tags: '*' | string[], etag: string): boolean => tags === '*' || tags.includes(etag);

/** The stored headers to send back with an object, `content-type` defaulted. */
export function objectResponseHeaders(metadata: Record<string, string>): Record<string, string> {
  return { 'content-type': 'application/octet-stream', ...metadata };
}
