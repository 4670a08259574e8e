/**
 * The 0.2.1 "orbit" dialect (WIRE §14), mapped to protocol 1 in this one place so the engine never sees it.
 * Only envelopes decoded with the `legacy` option go through here.
 */

// `tinycloud:<did-suffix>://<name>[/<service>…]`: the old space form with `://` before the name.
const ORBIT_RESOURCE = /^tinycloud:((?:[^:/?#]+:)+[^:/?#]+):\/\/([^/?#]+)(.*)$/s;

/** Namespaces the old client wrote without the `tinycloud.` prefix. */
const UNPREFIXED_NAMESPACES = new Set([
  'kv', 'capabilities', 'sql', 'duckdb', 'space', 'delegation', 'hooks', 'encryption',
]);

const ORBIT_HOST = 'orbit/host';

// `/<service>/` with nothing after the slash (before any query or fragment).
const WHOLE_SERVICE = /^(\/[^/?#]+)\/(?=$|[?#])/;

/**
 * `tinycloud:pkh:…:0xADDR://default/kv/x` → `tinycloud:pkh:…:0xADDR:default/kv/x`; other URIs unchanged.
 * The old node read `…/kv/` and `…/kv` alike as the whole service (paths were `/`-rooted and matched by string
 * prefix), and the old client writes `…/kv/` when its storage prefix is empty; in protocol 1 `…/kv/` is the
 * empty path, which covers almost nothing, so the trailing slash is dropped.
 */
export function mapLegacyResource(uri: string): string {
  const m = ORBIT_RESOURCE.exec(uri);
  return m ? `tinycloud:${m[1]}:${m[2]}${(m[3] as string).replace(WHOLE_SERVICE, '$1')}` : uri;
}

/** `kv/put` → `tinycloud.kv/put`; already prefixed or unknown namespaces unchanged. */
export function mapLegacyAbility(ability: string): string {
  const slash = ability.indexOf('/');
  return UNPREFIXED_NAMESPACES.has(ability.slice(0, slash)) ? `tinycloud.${ability}` : ability;
}

/**
 * One legacy capability in protocol-1 terms. `orbit/host` on the space itself becomes `tinycloud.space/host` on
 * `<space>/space`, the resource that creates a space.
 */
export function mapLegacyCapability(resource: string, ability: string): { resource: string; ability: string } {
  const mapped = mapLegacyResource(resource);
  if (ability === ORBIT_HOST) {
    const isBareSpace = mapped !== resource && !mapped.slice('tinycloud:'.length).includes('/');
    return { resource: isBareSpace ? `${mapped}/space` : mapped, ability: 'tinycloud.space/host' };
  }
  return { resource: mapped, ability: mapLegacyAbility(ability) };
}

/**
 * The wasm build of the old client writes a session DID as `did:key:XX` (the key twice, no `#`). That is the
 * verification method `did:key:X#X`.
 */
export function mapLegacyDidUrl(didUrl: string): string {
  const prefix = 'did:key:';
  if (!didUrl.startsWith(prefix) || didUrl.includes('#')) return didUrl;
  const id = didUrl.slice(prefix.length);
  const half = id.slice(0, id.length / 2);
  return id.length % 2 === 0 && half.startsWith('z') && half + half === id ? `${prefix}${half}#${half}` : didUrl;
}

/**
 * The reverse mapping, for answers to the old client: a protocol-1 capability as the old node reported it,
 * `{resource, action}` with the orbit resource form and unprefixed action (what the old client signed).
 * Resources that are not TinyCloud space URIs, and abilities of other namespaces, are reported unchanged.
 */
export function toLegacyCapability(resource: string, ability: string): { resource: string; action: string } {
  if (ability === 'tinycloud.space/host' && resource.endsWith('/space')) {
    const space = resource.slice(0, -'/space'.length);
    if (toOrbitForm(space) !== space && !space.includes('/')) return { resource: toOrbitForm(space), action: ORBIT_HOST };
  }
  const slash = ability.indexOf('/');
  const namespace = ability.slice(0, slash);
  const unprefixed = namespace.startsWith('tinycloud.') && UNPREFIXED_NAMESPACES.has(namespace.slice('tinycloud.'.length));
  return { resource: toOrbitForm(resource), action: unprefixed ? ability.slice('tinycloud.'.length) : ability };
}

/** `tinycloud:pkh:…:0xADDR:default/kv/x` → `tinycloud:pkh:…:0xADDR://default/kv/x`; other URIs unchanged. */
function toOrbitForm(uri: string): string {
  if (!uri.startsWith('tinycloud:') || uri.includes('://')) return uri;
  const end = uri.search(/[/?#]/);
  const space = end < 0 ? uri : uri.slice(0, end);
  const colon = space.lastIndexOf(':');
  if (colon <= 'tinycloud:'.length) return uri;
  return `${space.slice(0, colon)}://${space.slice(colon + 1)}${end < 0 ? '' : uri.slice(end)}`;
}
