import { abilityMatches } from '../abilities.js';
import { parseResource, resourceExtends, rootAuthorityOf, type ParsedResource } from '../resource.js';
import type { Capability } from '../types.js';
import { caveatsContained } from './caveats.js';
import type { StoredAbility } from './chain-store.js';

/**
 * Whether `principal` (fragment-free, did:pkh canonical) owns the capability's resource outright: the space
 * owner, or the encryption network owner (WIRE §2.7 step 2). Such capabilities need no proof.
 */
export function isRootAuthority(principal: string, cap: Capability): boolean {
  const root = rootAuthorityOf(cap.target);
  return root !== undefined && root === principal;
}

/** Capabilities that `principal` can only hold through a parent delegation. */
export const dependentCapabilities = (principal: string, caps: readonly Capability[]): Capability[] =>
  caps.filter((c) => !isRootAuthority(principal, c));

// Stored resources were valid when delegated; parsing them again on every invocation is the hot path.
const parsed = new Map<string, ParsedResource | null>();
const MAX_PARSED = 8192;

function parseStored(resource: string): ParsedResource | null {
  let hit = parsed.get(resource);
  if (hit === undefined) {
    const result = parseResource(resource);
    hit = result.ok ? result.value : null;
    if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value as string);
    parsed.set(resource, hit);
  }
  return hit;
}

/** `covered`: some grant contains the capability; `caveats`: only the caveats fail; `none`: nothing matches. */
export type Coverage = 'covered' | 'caveats' | 'none';

/** Resource extends, ability matches, caveats contained (WIRE §2.9), against any one of `grants`. */
export function coverage(cap: Capability, grants: readonly StoredAbility[]): Coverage {
  let result: Coverage = 'none';
  for (const grant of grants) {
    if (!abilityMatches(grant.ability, cap.ability)) continue;
    const base = parseStored(grant.resource);
    if (!base || !resourceExtends(cap.target, base)) continue;
    if (caveatsContained(grant.caveats, cap.caveats)) return 'covered';
    result = 'caveats';
  }
  return result;
}

/** The canonical ids of the spaces a set of capabilities names, first-seen order. */
export function spacesOf(caps: readonly Capability[]): string[] {
  const spaces = new Set<string>();
  for (const cap of caps) if (cap.target.kind === 'tinycloud') spaces.add(cap.target.space.text);
  return [...spaces];
}
