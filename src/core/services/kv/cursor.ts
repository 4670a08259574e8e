import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { TinyCloudError } from '../../errors.js';

/** What a cursor is bound to: who listed what, and how many per page. */
export interface CursorScope {
  invoker: string;
  space: string;
  prefix: string;
  action: string;
  limit: number;
}

interface CursorPayload {
  version: 1;
  subject_digest: string;
  space: string;
  prefix: string;
  action: string;
  limit: number;
  last: string;
}

const badCursor = () => new TinyCloudError('BAD_REQUEST', 'Invalid cursor');

/**
 * Opaque list cursors (WIRE §4): base64url-nopad JSON `{payload, mac}` where the MAC is HMAC-SHA256 over the
 * payload's JSON under a key derived from the node secret. A cursor is only good for the invoker, space,
 * prefix, action and page size it was issued for, so it cannot be replayed to widen a listing.
 */
export class ListCursors {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  #payload(scope: CursorScope, last: string): CursorPayload {
    return {
      version: 1,
      subject_digest: createHash('sha256').update(scope.invoker).digest('hex'),
      space: scope.space,
      prefix: scope.prefix,
      action: scope.action,
      limit: scope.limit,
      last,
    };
  }

  #mac(payload: CursorPayload): Buffer {
    return createHmac('sha256', this.#key).update(JSON.stringify(payload)).digest();
  }

  encode(scope: CursorScope, last: string): string {
    const payload = this.#payload(scope, last);
    return Buffer.from(JSON.stringify({ payload, mac: this.#mac(payload).toString('hex') })).toString('base64url');
  }

  /** The `last` key of a cursor issued for exactly this scope; 400 otherwise. */
  decode(cursor: string, scope: CursorScope): string {
    if (cursor.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw badCursor();
    let parsed: { payload?: Partial<CursorPayload>; mac?: unknown };
    try {
      parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      throw badCursor();
    }
    const last = parsed?.payload?.last;
    if (typeof last !== 'string' || typeof parsed.mac !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.mac)) throw badCursor();
    if (parsed.payload?.limit !== scope.limit) {
      throw new TinyCloudError('BAD_REQUEST', 'A cursor must be sent with the same x-tinycloud-limit');
    }
    const expected = this.#mac(this.#payload(scope, last));
    if (!timingSafeEqual(expected, Buffer.from(parsed.mac, 'hex'))) throw badCursor();
    return last;
  }
}
