import { isValidAbility } from '../auth/abilities.js';
import { parseResource, parseSpaceId, spaceIdFor, type SpaceId } from '../auth/resource.js';
import type { Attenuations } from '../auth/recap.js';
import { usageError } from './errors.js';

/** `kv/get` → `tinycloud.kv/get`; full names (`tinycloud.kv/get`, `my.app/x`) are kept as written. */
export function normalizeAbility(text: string): string {
  const trimmed = text.trim();
  const namespace = trimmed.slice(0, Math.max(0, trimmed.indexOf('/')));
  const ability = namespace && !namespace.includes('.') ? `tinycloud.${trimmed}` : trimmed;
  if (!isValidAbility(ability)) {
    throw usageError(`--ability ${text} is not an ability`, 'Write service/action, e.g. kv/get, kv/put, kv/list, kv/del, kv/metadata, or a full name like tinycloud.kv/get.');
  }
  return ability;
}

/** The TinyCloud service an ability acts on (`tinycloud.kv/get` → `kv`), or undefined for a foreign namespace. */
export function serviceOf(ability: string): string | undefined {
  const namespace = ability.slice(0, ability.indexOf('/'));
  return namespace.startsWith('tinycloud.') ? namespace.slice('tinycloud.'.length) : undefined;
}

// Services whose capabilities are granted on `<space>/<service>` exactly (WIRE §2.10, §2.7.6): a path would
// make them mean nothing to the node.
const PATHLESS_SERVICES = new Set(['space', 'delegation']);

const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;

/**
 * A KV key or prefix as it goes into a resource URI. Keys are kept exactly as written in the URI (WIRE §3), so
 * only characters a URI path cannot hold are percent-encoded (`my file` → `my%20file`); existing `%XX` stay.
 */
export function encodeKvPath(key: string): string {
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const ch = key[i] as string;
    if (ch === '%' && /^[0-9A-Fa-f]{2}$/.test(key.slice(i + 1, i + 3))) {
      out += `%${key.slice(i + 1, i + 3).toUpperCase()}`;
      i += 2;
    } else if (PATH_CHAR.test(ch)) {
      out += ch;
    } else {
      out += [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    }
  }
  return out;
}

/** The resource an ability is granted on within a space: `<space>/<service>[/<path>]`. */
export function resourceFor(space: string, ability: string, path?: string): string {
  const service = serviceOf(ability);
  if (!service) throw usageError(`${ability} is not a tinycloud.* ability, so it names no resource in a space`);
  const uri = PATHLESS_SERVICES.has(service) || path === undefined ? `${space}/${service}` : `${space}/${service}/${encodeKvPath(path)}`;
  const parsed = parseResource(uri);
  if (!parsed.ok) throw usageError(parsed.error.message);
  return parsed.value.uri;
}

/** `{resource: {ability: [{}]}}` for abilities over one space and optional path (ReCap / UCAN `att`). */
export function attenuationsFor(space: string, abilities: readonly string[], path?: string): Attenuations {
  const att: Record<string, Record<string, [Record<string, never>]>> = {};
  for (const ability of abilities) {
    const resource = resourceFor(space, ability, path);
    (att[resource] ??= {})[ability] = [{}];
  }
  return att;
}

/** `att` for one invocation: a single (resource, ability). */
export const invocationAtt = (resource: string, ability: string): Attenuations => ({ [resource]: { [ability]: [{}] } });

/**
 * `--space`: a full space id (`tinycloud:pkh:eip155:1:0x…:photos`) is taken as is; a bare name is the owner's
 * space of that name, so it needs the owner's DID.
 */
export function resolveSpace(text: string, ownerDid?: string): SpaceId {
  if (text.startsWith('tinycloud:')) {
    const parsed = parseSpaceId(text);
    if (!parsed.ok) throw usageError(parsed.error.message);
    return parsed.value;
  }
  if (!ownerDid) {
    throw usageError(`--space ${text} is a name, and there is no owner to resolve it against`, 'Give the full space id (tinycloud:pkh:eip155:1:0x…:name), or a proof token that names it.');
  }
  const space = spaceIdFor(ownerDid, text);
  if (!space.ok) throw usageError(`--space ${text}: ${space.error.message}`);
  return space.value;
}
