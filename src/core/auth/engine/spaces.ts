import { blake2b } from '@noble/hashes/blake2.js';
import type { Kysely } from 'kysely';
import { base58btc } from 'multiformats/bases/base58';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import type { Database } from '../../db/schema.js';
import { err, ok, type Result } from '../../result.js';

const BLAKE2B_256 = 0xb220;
const RAW = 0x55;
const ALLOWLIST_TIMEOUT_MS = 5000;

/**
 * `SpaceId.get_cid()` of the reference node: CIDv1 raw over BLAKE2b-256 of the space id text, base58btc. The
 * allowlist is keyed by it, so an allowlist service written for a Rust node works unchanged.
 */
export function allowlistKey(spaceId: string): string {
  const digest = blake2b(Buffer.from(spaceId, 'utf8'), { dkLen: 32 });
  return CID.createV1(RAW, Digest.create(BLAKE2B_256, digest)).toString(base58btc);
}

/**
 * Asks `spaces.allowlist` whether a new space may be hosted: `GET <allowlist>/<allowlistKey(space)>`.
 * 200 with an empty body or a body equal to the space id = allowed; 403, 404 or 410 = refused (403
 * `Space not allowed`); anything else, a timeout or a network error = 503, so an allowlist outage never
 * opens the node.
 */
export async function checkAllowlist(allowlist: string, spaceId: string, fetchImpl: typeof fetch = fetch): Promise<Result<void>> {
  const url = `${allowlist.replace(/\/+$/, '')}/${allowlistKey(spaceId)}`;
  let response: Response;
  try {
    response = await fetchImpl(url, { signal: AbortSignal.timeout(ALLOWLIST_TIMEOUT_MS) });
  } catch {
    return err('SERVICE_UNAVAILABLE', 'Space allowlist unreachable');
  }
  if ([403, 404, 410].includes(response.status)) return err('SPACE_NOT_ALLOWED', `Space not allowed: ${spaceId}`);
  if (response.status !== 200) return err('SERVICE_UNAVAILABLE', `Space allowlist answered ${response.status}`);
  const body = (await response.text()).trim();
  if (body !== '' && body !== spaceId) return err('SPACE_NOT_ALLOWED', `Space not allowed: ${spaceId}`);
  return ok(undefined);
}

/**
 * Which spaces are hosted here. Spaces are never removed, so a positive answer is cached for the life of the
 * process and most invocations skip the look-up.
 */
export class HostedSpaces {
  readonly #known = new Set<string>();

  async existing(db: Kysely<Database>, spaces: readonly string[]): Promise<Set<string>> {
    const found = new Set(spaces.filter((s) => this.#known.has(s)));
    const missing = spaces.filter((s) => !found.has(s));
    if (missing.length > 0) {
      const rows = await db.selectFrom('space').select('id').where('id', 'in', missing).execute();
      for (const row of rows) {
        found.add(row.id);
        // Inside a transaction a row may be another writer's, uncommitted (writers share group commits).
        if (!db.isTransaction) this.#known.add(row.id);
      }
    }
    return found;
  }

  /** Call only after the transaction that inserted the space committed. */
  remember(space: string): void {
    this.#known.add(space);
  }
}
