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

/** `tinycloud:pkh:…:0xADDR://default/kv/x` → `tinycloud:pkh:…:0xADDR:default/kv/x`; other URIs unchanged. */
export function mapLegacyResource(uri: string): string {
  const m = ORBIT_RESOURCE.exec(uri);
  return m ? `tinycloud:${m[1]}:${m[2]}${m[3]}` : uri;
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
