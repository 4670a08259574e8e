import type { Readable } from 'node:stream';
import { ClientError, failureFromResponse, networkFailure, usageError, type FailureContext } from './errors.js';
import { readText, send, type HttpResponse } from './http.js';

/** `GET /info` (WIRE §1.3). */
export interface NodeInfo {
  readonly protocol: number;
  readonly version?: string;
  readonly features?: readonly string[];
  readonly nodeId?: string;
  readonly inTEE?: boolean;
}

/** `POST /delegate` answer (WIRE §1.5). */
export interface DelegateAnswer {
  readonly cid: string;
  readonly activated: readonly string[];
  readonly skipped: readonly string[];
}

export interface InvokeRequest {
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Readable;
  /** For messages: what is being attempted (`kv get photos/a.jpg`). */
  readonly action: string;
  readonly space?: FailureContext['space'];
  readonly invoker?: string;
  /** Statuses that are answers rather than failures (e.g. 304). */
  readonly accept?: readonly number[];
}

export const PROTOCOL = 1;
const INFO_TIMEOUT_MS = 5_000;

/** Parse `--node`: an http(s) URL; a path prefix is kept (a node behind a reverse proxy). */
export function parseNodeUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `http://${text}`);
  } catch {
    throw usageError(`--node ${text} is not a URL`, 'Write e.g. --node http://127.0.0.1:8000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--node ${text}: only http and https are supported`);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

/** The protocol-1 HTTP surface of one node. Errors come back as `ClientError`s with advice. */
export class NodeClient {
  readonly url: URL;

  constructor(url: URL | string) {
    this.url = typeof url === 'string' ? parseNodeUrl(url) : url;
  }

  /** The node as the user wrote it, for messages and hints. */
  get display(): string {
    return this.url.href.replace(/\/$/, '');
  }

  #endpoint(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.url);
  }

  async #send(action: string, request: Parameters<typeof send>[0]): Promise<HttpResponse> {
    try {
      return await send(request);
    } catch (error) {
      if (error instanceof ClientError) throw error;
      throw networkFailure(error as Error, this.display, action);
    }
  }

  async #fail(response: HttpResponse, context: FailureContext): Promise<never> {
    const body = await readText(response.body, 64 * 1024).catch(() => '');
    throw failureFromResponse(response.status, body, context);
  }

  async #json<T>(response: HttpResponse, action: string): Promise<T> {
    const text = await readText(response.body);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ClientError('server', 'BAD_RESPONSE', `${action} on ${this.display}: the node answered something other than JSON`);
    }
  }

  /** `GET /info`, and refuse a node that does not speak protocol 1 (as the SDK's `checkNodeInfo`). */
  async info(): Promise<NodeInfo> {
    const action = 'GET /info';
    const response = await this.#send(action, { method: 'GET', url: this.#endpoint('info'), idleTimeoutMs: INFO_TIMEOUT_MS });
    if (response.status !== 200) return this.#fail(response, { action, node: this.display });
    const info = await this.#json<NodeInfo>(response, action);
    if (info.protocol !== PROTOCOL) {
      throw new ClientError('server', 'PROTOCOL_MISMATCH', `${this.display} speaks protocol ${String(info.protocol)}, not ${PROTOCOL}`, {
        hint: 'Use a TinyCloud node of protocol 1.',
      });
    }
    return info;
  }

  /** `GET /peer/generate/<space>`: the per-space host did:key (WIRE §1.4). */
  async peerDid(space: string): Promise<string> {
    const action = 'GET /peer/generate';
    const response = await this.#send(action, { method: 'GET', url: this.#endpoint(`peer/generate/${encodeURIComponent(space)}`) });
    if (response.status !== 200) return this.#fail(response, { action, node: this.display });
    const did = (await readText(response.body, 4096)).trim();
    if (!did.startsWith('did:')) throw new ClientError('server', 'BAD_RESPONSE', `${action} on ${this.display} answered no DID`);
    return did;
  }

  /** `POST /delegate` with the delegation in `Authorization` (WIRE §1.5). */
  async delegate(token: string, context: Omit<FailureContext, 'node'> = { action: 'register delegation' }): Promise<DelegateAnswer> {
    const response = await this.#send(context.action, { method: 'POST', url: this.#endpoint('delegate'), headers: { authorization: token } });
    if (response.status !== 200) return this.#fail(response, { ...context, node: this.display });
    const answer = await this.#json<Partial<DelegateAnswer>>(response, context.action);
    return { cid: String(answer.cid ?? ''), activated: answer.activated ?? [], skipped: answer.skipped ?? [] };
  }

  /** `POST /revoke` (WIRE §2.10). */
  async revoke(token: string, action = 'revoke'): Promise<{ revoked: boolean; cid: string }> {
    const response = await this.#send(action, { method: 'POST', url: this.#endpoint('revoke'), headers: { authorization: token } });
    if (response.status === 403 || response.status === 404) {
      const body = await readText(response.body, 64 * 1024).catch(() => '');
      if (/Cannot find parent delegation|not found/i.test(body)) {
        throw new ClientError('not-found', 'DELEGATION_NOT_FOUND', `${action} on ${this.display}: no such delegation there`, {
          status: response.status,
          hint: 'Check the CID, and that the delegation was registered on this node (tinycloud delegate … --node).',
        });
      }
      throw failureFromResponse(response.status, body, { action, node: this.display });
    }
    if (response.status !== 200) return this.#fail(response, { action, node: this.display });
    return this.#json(response, action);
  }

  /**
   * `POST /invoke`: the response body comes back unread on success (stream it); any other status becomes a
   * `ClientError`. A request body streams with backpressure and is never buffered.
   */
  async invoke(token: string, request: InvokeRequest): Promise<HttpResponse> {
    const response = await this.#send(request.action, {
      method: 'POST',
      url: this.#endpoint('invoke'),
      headers: { ...request.headers, authorization: token },
      ...(request.body && { body: request.body }),
    });
    const ok = (response.status >= 200 && response.status < 300) || request.accept?.includes(response.status);
    if (!ok) {
      return this.#fail(response, { action: request.action, node: this.display, space: request.space, invoker: request.invoker });
    }
    return response;
  }

  async readJson<T>(response: HttpResponse, action: string): Promise<T> {
    return this.#json<T>(response, action);
  }
}
