import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** Streamed with backpressure; a string or bytes is sent with its length. */
  readonly body?: Readable | string | Uint8Array;
  /** Abort when the socket is idle this long (connect included). */
  readonly idleTimeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The response body, not yet read: stream it, or read it with `readText`. */
  readonly body: IncomingMessage;
}

const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

/**
 * One HTTP exchange over node:http(s), streaming both ways: a request body is piped with backpressure, and the
 * response body is handed back unread. When the node answers before the body is sent (it authorizes before it
 * reads), the rest of the body is not sent and the answer is returned.
 */
export function send(request: HttpRequest): Promise<HttpResponse> {
  const transport = request.url.protocol === 'https:' ? https : http;
  return new Promise<HttpResponse>((resolve, reject) => {
    let answered = false;
    const req = transport.request(request.url, { method: request.method, headers: { ...request.headers } });
    const body = request.body;
    const fail = (error: Error) => {
      if (answered) return;
      if (body && typeof body === 'object' && 'destroy' in body) body.destroy();
      reject(error);
    };
    req.setTimeout(request.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => {
      req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    });
    req.on('error', fail);
    req.on('response', (res) => {
      answered = true;
      if (body && typeof body === 'object' && 'unpipe' in body && !req.writableFinished) {
        body.unpipe(req);
        body.destroy();
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    if (body === undefined) {
      req.end();
    } else if (typeof body === 'string' || body instanceof Uint8Array) {
      req.end(body);
    } else {
      body.on('error', (error) => {
        req.destroy(error);
        fail(error);
      });
      body.pipe(req);
    }
  });
}

/** Read a (small) response body as text, refusing more than `limit` bytes. */
export async function readText(body: Readable, limit = 16 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new Error(`response larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Discard a response body so the connection can be reused or closed. */
export function drain(body: Readable): void {
  body.resume();
}

export const headerText = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
};
