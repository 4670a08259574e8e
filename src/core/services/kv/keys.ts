import { TinyCloudError } from '../../errors.js';

/**
 * Longest KV key, in characters. MySQL's `varchar(512)` key column is the tightest of the three engines; every
 * engine gets the same cap so a space can move between them. Keys come from resource paths, which are ASCII
 * (anything else is percent-encoded as written), so characters and bytes coincide.
 */
export const MAX_KEY_LENGTH = 512;

// C0 controls and DEL never belong in a key; the resource grammar already refuses them and this is the
// second lock, for keys that arrive by other routes (multipart part names, signed-URL bodies).
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A KV key is an opaque string: it is never decoded, normalized or turned into a file path (blocks are
 * content-addressed), so `../x` and `%2e%2e/` are just names. This only enforces what storage can hold.
 */
export function checkKey(key: string): string {
  if (key.length === 0) throw new TinyCloudError('INVALID_KEY', 'Invalid key: empty');
  if (key.length > MAX_KEY_LENGTH) {
    throw new TinyCloudError('INVALID_KEY', `Invalid key: longer than ${MAX_KEY_LENGTH} characters`);
  }
  if (CONTROL.test(key)) throw new TinyCloudError('INVALID_KEY', 'Invalid key: control characters');
  if (LONE_SURROGATE.test(key)) throw new TinyCloudError('INVALID_KEY', 'Invalid key: unpaired surrogate');
  return key;
}

/** A list prefix may be empty (the whole space) but is otherwise held to the same rules as a key. */
export function checkPrefix(prefix: string): string {
  return prefix.length === 0 ? prefix : checkKey(prefix);
}
