import type { Attenuations } from '../../src/core/auth/index.js';
import type { CID } from '../../src/core/ids/cid.js';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { signIn, ucan, type Principal, type TestClock } from '../auth-engine/support.js';
import type { Driver } from './support.js';

export const ADMIN_SECRET = 'correct horse battery staple';

/**
 * A node over real HTTP on the given block store driver, with the admin routes enabled; over `dataDir` when given
 * (an initialised data dir, kept when the node is destroyed), else a fresh one.
 */
export async function startKvNode(driver: Driver, clock: TestClock, s3?: S3TestServer, env: Record<string, string> = {}, dataDir?: string): Promise<TestNode> {
  return startTestNode({
    clock: clock.read,
    ...(dataDir !== undefined && { dataDir }),
    env: {
      TINYCLOUD_ADMIN_SECRET: ADMIN_SECRET,
      ...(driver === 'S3' && {
        TINYCLOUD_STORAGE_BLOCKS_TYPE: 'S3',
        TINYCLOUD_STORAGE_BLOCKS_BUCKET: s3!.bucket,
        TINYCLOUD_STORAGE_BLOCKS_ENDPOINT: s3!.endpoint,
      }),
      ...env,
    },
  });
}

export { startS3Server, type S3TestServer };

export interface InvokeOptions {
  body?: RequestInit['body'];
  headers?: Record<string, string>;
  facts?: Record<string, unknown>[];
  /** Sign as someone else than the session owner (with `prf` proving a grant). */
  as?: Principal;
  prf?: CID[];
}

/** A signed-in principal that can send KV invocations to one space. */
export class KvClient {
  constructor(
    readonly node: TestNode,
    readonly owner: Principal,
    readonly space: string,
    readonly sessionCid: CID,
    readonly clock: TestClock,
  ) {}

  static async signIn(node: TestNode, owner: Principal, clock: TestClock, spaceName = 'default'): Promise<KvClient> {
    const session = await signIn(node, owner, spaceName, sessionAtt(owner.space(spaceName)));
    return new KvClient(node, owner, session.space, session.sessionCid, clock);
  }

  resource(key: string): string {
    return `${this.space}/kv/${key}`;
  }

  /** A fresh signed invocation for these capabilities (one use). */
  token(att: Attenuations, options: Pick<InvokeOptions, 'facts' | 'as' | 'prf'> = {}): string {
    const signer = options.as ?? this.owner;
    return ucan(signer.session, { att, prf: options.prf ?? [this.sessionCid], ...(options.facts && { facts: options.facts }) }, this.clock.now);
  }

  async invoke(att: Attenuations, options: InvokeOptions = {}): Promise<Response> {
    return fetch(`${this.node.url}/invoke`, {
      method: 'POST',
      headers: { authorization: this.token(att, options), ...options.headers },
      ...(options.body !== undefined && { body: options.body, duplex: 'half' }),
    } as RequestInit);
  }

  kv(ability: string, key: string, options: InvokeOptions = {}): Promise<Response> {
    return this.invoke({ [this.resource(key)]: { [ability]: [{}] } }, options);
  }

  put(key: string, body: RequestInit['body'], headers: Record<string, string> = {}): Promise<Response> {
    return this.kv('tinycloud.kv/put', key, { body, headers });
  }

  get(key: string, headers: Record<string, string> = {}, facts?: Record<string, unknown>[]): Promise<Response> {
    return this.kv('tinycloud.kv/get', key, { headers, ...(facts && { facts }) });
  }
}

/** The SDK's default session abilities over the whole KV service of a space, plus versions. */
export function sessionAtt(space: string): Attenuations {
  return {
    [`${space}/kv`]: {
      'tinycloud.kv/del': [{}],
      'tinycloud.kv/get': [{}],
      'tinycloud.kv/list': [{}],
      'tinycloud.kv/metadata': [{}],
      'tinycloud.kv/put': [{}],
    },
    [`${space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] },
    [`${space}/space`]: { 'tinycloud.space/info': [{}] },
  };
}

export function admin(node: TestNode, method: string, path: string, body?: unknown, secret = ADMIN_SECRET): Promise<Response> {
  return fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

/** A body of `size` bytes sent in chunks with no Content-Length (chunked transfer encoding). */
export function streamedBody(size: number, chunk = 16 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      const n = Math.min(chunk, size - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n).fill(0x61 + (sent % 26)));
    },
  });
}
