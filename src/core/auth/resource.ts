import { parseCid, type CID } from '../ids/cid.js';
import { LruCache } from '../lru.js';
import { err, ok, type Result } from '../result.js';
import { canonicalDid, isDid, parseDidPkh } from './did.js';
import { isUri, URI_RULES } from './uri.js';

/** `tinycloud:<did-suffix>:<name>` (WIRE §3), with its DID canonical. */
export interface SpaceId {
  /** Canonical text, e.g. `tinycloud:pkh:eip155:1:0xf39F…2266:default`. */
  readonly text: string;
  /** The owner: `did:` + suffix, did:pkh canonical. */
  readonly did: string;
  readonly name: string;
}

/** `<space>/<service>[/<path>][?query][#fragment]`; the path is kept exactly as written (no decoding). */
export interface TinyCloudResource {
  readonly kind: 'tinycloud';
  readonly uri: string;
  readonly space: SpaceId;
  readonly service: string;
  /** Undefined for `…/kv`, `""` for `…/kv/`. */
  readonly path?: string;
  readonly query?: string;
  readonly fragment?: string;
}

/** `urn:tinycloud:encryption:<ownerDid>:<name>` (WIRE §8.2). */
export interface EncryptionNetworkResource {
  readonly kind: 'encryption-network';
  readonly uri: string;
  readonly owner: string;
  readonly name: string;
}

/** `urn:cid:<cid>`: a delegation as the object of revoke/status. */
export interface CidResource {
  readonly kind: 'cid';
  readonly uri: string;
  readonly cid: CID;
}

export interface OtherResource {
  readonly kind: 'other';
  readonly uri: string;
}

export type ParsedResource = TinyCloudResource | EncryptionNetworkResource | CidResource | OtherResource;

const SPACE_SCHEME = 'tinycloud:';
const NETWORK_PREFIX = 'urn:tinycloud:encryption:';
const CID_PREFIX = 'urn:cid:';
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const SERVICE = /^[A-Za-z0-9._-]+$/;
const PATH = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;

/** RFC 3986 normal form for percent-escapes: upper-case hex, and never for an unreserved character. */
function hasNormalEscapes(text: string): boolean {
  for (const m of text.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    const hex = m[1] as string;
    if (hex !== hex.toUpperCase()) return false;
    if (UNRESERVED.test(String.fromCharCode(parseInt(hex, 16)))) return false;
  }
  return true;
}

// Parsed forms are immutable and every request parses its resources (and their space ids) again: valid ones are
// kept. Rejections are not, so garbage never displaces a live session's entries for longer than one miss.
const parsedSpaces = new LruCache<string, Result<SpaceId>>(4096);
const parsedResources = new LruCache<string, Result<ParsedResource>>(8192);

const remembered = <T>(cache: LruCache<string, Result<T>>, text: string, parse: (text: string) => Result<T>): Result<T> => {
  const hit = cache.get(text);
  if (hit) return hit;
  const parsed = parse(text);
  if (parsed.ok) cache.set(text, parsed);
  return parsed;
};

/**
 * Parse a SpaceId. The last `:` separates the name; the name is non-empty without `/`, `:`, `?` or `#`; the DID
 * is syntactically valid and a did:pkh:eip155 one is canonicalized (lower-case addresses accepted).
 */
export const parseSpaceId = (text: string): Result<SpaceId> => remembered(parsedSpaces, text, parseSpaceIdUncached);

function parseSpaceIdUncached(text: string): Result<SpaceId> {
  const bad = (why: string) => err('INVALID_SPACE_ID', `invalid space id ${JSON.stringify(text)}: ${why}`);
  if (!text.startsWith(SPACE_SCHEME)) return bad('must start with tinycloud:');
  const lastColon = text.lastIndexOf(':');
  const name = text.slice(lastColon + 1);
  const did = `did:${text.slice(SPACE_SCHEME.length, lastColon)}`;
  if (name.length === 0) return bad('empty name');
  if (!URI_RULES['segment-nz'].test(name) || /[/:?#]/.test(name)) return bad('name has reserved characters');
  if (!hasNormalEscapes(text)) return bad('percent-escapes must be upper-case and only where needed');
  if (!isDid(did)) return bad('not a DID');
  let owner = did;
  if (did.startsWith('did:pkh:eip155:')) {
    const pkh = parseDidPkh(did);
    if (!pkh.ok) return bad(pkh.error.message);
    owner = pkh.value.did;
  }
  return ok({ text: `${SPACE_SCHEME}${owner.slice('did:'.length)}:${name}`, did: owner, name });
}

/** `tinycloud:<did-suffix>:<name>` for a DID and a name (the SDK's `makeSpaceId`). */
export function spaceIdFor(did: string, name: string): Result<SpaceId> {
  return parseSpaceId(`${SPACE_SCHEME}${canonicalDid(did).slice('did:'.length)}:${name}`);
}

const isDotSegment = (segment: string): boolean => /^(?:\.|%2[Ee]){1,2}$/.test(segment);

function parseTinyCloudResource(uri: string): Result<TinyCloudResource> {
  const bad = (why: string) => err('INVALID_RESOURCE', `invalid resource ${JSON.stringify(uri)}: ${why}`);
  if (!isUri(uri)) return bad('not an RFC 3986 URI');
  const hash = uri.indexOf('#');
  const fragment = hash < 0 ? undefined : uri.slice(hash + 1);
  const beforeFragment = hash < 0 ? uri : uri.slice(0, hash);
  const question = beforeFragment.indexOf('?');
  const query = question < 0 ? undefined : beforeFragment.slice(question + 1);
  const hier = question < 0 ? beforeFragment : beforeFragment.slice(0, question);

  const spaceEnd = hier.indexOf('/');
  if (spaceEnd < 0) return bad('no service');
  const space = parseSpaceId(hier.slice(0, spaceEnd));
  if (!space.ok) return bad(space.error.message);
  const rest = hier.slice(spaceEnd + 1);
  const serviceEnd = rest.indexOf('/');
  const service = serviceEnd < 0 ? rest : rest.slice(0, serviceEnd);
  const path = serviceEnd < 0 ? undefined : rest.slice(serviceEnd + 1);
  if (!SERVICE.test(service)) return bad('bad service name');
  if (path !== undefined) {
    if (!PATH.test(path)) return bad('bad path characters');
    // `a/../b` would be a different KV key than `b` yet pass a prefix check for `a/`: refuse it outright.
    if (path.split('/').some(isDotSegment)) return bad('dot segments are not allowed in paths');
  }
  const canonical =
    `${space.value.text}/${service}` +
    (path === undefined ? '' : `/${path}`) +
    (query === undefined ? '' : `?${query}`) +
    (fragment === undefined ? '' : `#${fragment}`);
  return ok({ kind: 'tinycloud', uri: canonical, space: space.value, service, path, query, fragment });
}

function parseNetworkResource(uri: string): Result<EncryptionNetworkResource> {
  const bad = (why: string) => err('INVALID_RESOURCE', `invalid encryption network ${JSON.stringify(uri)}: ${why}`);
  const rest = uri.slice(NETWORK_PREFIX.length);
  const lastColon = rest.lastIndexOf(':');
  if (lastColon < 0) return bad('no name');
  const name = rest.slice(lastColon + 1);
  const ownerText = rest.slice(0, lastColon);
  if (name.length === 0 || name.includes('/')) return bad('bad name');
  if (!isDid(ownerText)) return bad('owner is not a DID');
  let owner = ownerText;
  if (ownerText.startsWith('did:pkh:eip155:')) {
    const pkh = parseDidPkh(ownerText);
    if (!pkh.ok) return bad(pkh.error.message);
    owner = pkh.value.did;
  }
  return ok({ kind: 'encryption-network', uri: `${NETWORK_PREFIX}${owner}:${name}`, owner, name });
}

/**
 * Parse any capability resource. A `tinycloud:` URI must be a valid ResourceId (it is never demoted to a plain
 * URI, whose prefix matching would be looser); other URIs must be RFC 3986 and are kept verbatim.
 */
export const parseResource = (uri: string): Result<ParsedResource> => remembered(parsedResources, uri, parseResourceUncached);

function parseResourceUncached(uri: string): Result<ParsedResource> {
  const lower = uri.toLowerCase();
  const miscased = (prefix: string) => lower.startsWith(prefix) && !uri.startsWith(prefix);
  if (miscased(SPACE_SCHEME) || miscased(NETWORK_PREFIX)) {
    return err('INVALID_RESOURCE', `invalid resource ${JSON.stringify(uri)}: scheme must be lower-case`);
  }
  if (uri.startsWith(SPACE_SCHEME)) return parseTinyCloudResource(uri);
  if (uri.startsWith(NETWORK_PREFIX)) return parseNetworkResource(uri);
  if (!isUri(uri)) return err('INVALID_RESOURCE', `invalid resource ${JSON.stringify(uri)}: not an RFC 3986 URI`);
  if (uri.startsWith(CID_PREFIX)) {
    const cid = parseCid(uri.slice(CID_PREFIX.length));
    if (!cid) return err('INVALID_RESOURCE', `invalid resource ${JSON.stringify(uri)}: bad CID`);
    return ok({ kind: 'cid', uri, cid });
  }
  return ok({ kind: 'other', uri });
}

/** `base path` covers `child path` on segment boundaries: `docs` covers `docs` and `docs/a`, not `docsX`. */
function pathExtends(child: string | undefined, base: string | undefined): boolean {
  if (base === undefined) return true;
  if (child === undefined) return false;
  if (!child.startsWith(base)) return false;
  return base.endsWith('/') || child.length === base.length || child[base.length] === '/';
}

/**
 * Whether `child` is within `base` (`ResourceId::extends`, WIRE §2.9): same space, service and fragment, path
 * containment on segment boundaries, query ignored. Encryption networks match exactly; other URIs (including
 * `urn:cid:`) by plain string prefix.
 */
export function resourceExtends(child: ParsedResource, base: ParsedResource): boolean {
  if (child.kind === 'tinycloud' || base.kind === 'tinycloud') {
    if (child.kind !== 'tinycloud' || base.kind !== 'tinycloud') return false;
    return (
      child.space.text === base.space.text &&
      child.service === base.service &&
      child.fragment === base.fragment &&
      pathExtends(child.path, base.path)
    );
  }
  if (child.kind === 'encryption-network' || base.kind === 'encryption-network') {
    return child.kind === base.kind && child.uri === base.uri;
  }
  return child.uri.startsWith(base.uri);
}

/** The DID that is root authority over a resource: the space owner, or the encryption network owner. */
export function rootAuthorityOf(resource: ParsedResource): string | undefined {
  if (resource.kind === 'tinycloud') return resource.space.did;
  if (resource.kind === 'encryption-network') return resource.owner;
  return undefined;
}
