import { TinyCloudError } from '../errors.js';

// Deliberately narrower than the SpaceId grammar (WIRE §3): these strings become directory names and S3 key
// prefixes, so only characters that are inert in both are let through. A valid SpaceId always passes.
const DID_SUFFIX = /^[a-z0-9]+:[A-Za-z0-9._%:-]+$/;
const SPACE_NAME = /^[A-Za-z0-9._~%!$&'()*+,;=@-]+$/;
const MAX_SEGMENT_BYTES = 200;

/** The two path segments of a space, `[<did suffix>, <name>]`, or an `INVALID_SPACE_ID` error. */
export function spaceSegments(space: string): [suffix: string, name: string] {
  const refuse = (): never => {
    throw new TinyCloudError('INVALID_SPACE_ID', 'Invalid space id');
  };
  if (typeof space !== 'string' || !space.startsWith('tinycloud:')) refuse();
  const rest = space.slice('tinycloud:'.length);
  const cut = rest.lastIndexOf(':');
  if (cut <= 0) refuse();
  const suffix = rest.slice(0, cut);
  const name = rest.slice(cut + 1);
  if (!DID_SUFFIX.test(suffix) || !SPACE_NAME.test(name) || name === '.' || name === '..') refuse();
  if (suffix.length > MAX_SEGMENT_BYTES || name.length > MAX_SEGMENT_BYTES) refuse();
  return [suffix, name];
}
