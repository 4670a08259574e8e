import { parseSpaceId } from './auth/resource.js';
import { TinyCloudError } from './errors.js';

/**
 * A SpaceId from a URL parameter, in canonical form (did:pkh addresses EIP-55), so `0xf39fd6…` and
 * `0xf39Fd6…` name the same space and derive the same host key. Throws the reference's 400 `Invalid space ID`.
 */
export function canonicalSpaceId(text: string): string {
  const parsed = parseSpaceId(text);
  if (!parsed.ok) throw new TinyCloudError('INVALID_SPACE_ID', 'Invalid space ID');
  return parsed.value.text;
}
