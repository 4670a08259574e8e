import { connect, type Socket } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/**
 * The bench's HTTP load generator. It runs in a worker thread, so the node under test keeps the main thread's
 * core to itself, and it speaks HTTP/1.1 over raw keep-alive sockets with pre-encoded requests: node:http's
 * client costs more per request than a bare fastify server, and would make every baseline a client benchmark.
 */

export interface LoadOptions {
  readonly port: number;
  readonly host?: string;
  /** Raw HTTP/1.1 requests (see `encodeRequest`), each sent once, in order, over `concurrency` connections. */
  readonly requests: readonly Uint8Array[];
  /** Keep-alive connections, each with one request in flight. */
  readonly concurrency: number;
  /** Status every response must have; anything else counts as a failure. Default 200. */
  readonly expectStatus?: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly failures: number;
  /** Status line and first bytes of the first unexpected response. */
  readonly firstFailure?: string;
}

/** One request as bytes: `Host`, `Content-Length` and keep-alive are added. */
export function encodeRequest(method: string, path: string, headers: Readonly<Record<string, string>> = {}, body?: Uint8Array): Uint8Array {
  const lines = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1', 'connection: keep-alive'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined || method !== 'GET') lines.push(`content-length: ${body?.length ?? 0}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body ? Buffer.concat([head, body]) : head;
}

/**
 * Sends `requests` from a worker thread; resolves when every response has been read. Loaded from TypeScript
 * source (the bench's smoke tests under vitest), where a worker cannot import this file, it runs in-process.
 */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (!import.meta.url.endsWith('.js')) return generate(options);
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: options });
    worker.once('message', (result: LoadResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`bench load worker exited with ${code}`));
    });
  });
}

interface Response {
  readonly status: number;
  readonly head: string;
}

/**
 * Reads HTTP/1.1 responses off one socket: `Content-Length` or chunked bodies, which are skipped. `onResponse`
 * fires once per complete response.
 */
class ResponseReader {
  #buffer: Buffer = Buffer.alloc(0);
  #head: Response | undefined;
  #remaining = 0;
  #chunked = false;

  constructor(private readonly onResponse: (response: Response) => void) {}

  push(data: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    for (;;) {
      if (!this.#head) {
        const end = this.#buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.#buffer.toString('latin1', 0, end);
        this.#buffer = this.#buffer.subarray(end + 4);
        const status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        this.#chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
        this.#remaining = length ? Number(length[1]) : 0;
        this.#head = { status, head };
      }
      if (this.#chunked) {
        if (!this.#skipChunks()) return;
      } else {
        const take = Math.min(this.#remaining, this.#buffer.length);
        this.#buffer = this.#buffer.subarray(take);
        this.#remaining -= take;
        if (this.#remaining > 0) return;
      }
      const done = this.#head;
      this.#head = undefined;
      this.onResponse(done);
    }
  }

  /** Consumes chunks; true once the terminating zero-length chunk and its trailer are consumed. */
  #skipChunks(): boolean {
    for (;;) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, this.#buffer.length);
        this.#buffer = this.#buffer.subarray(take);
        this.#remaining -= take;
        if (this.#remaining > 0) return false;
      }
      const line = this.#buffer.indexOf('\r\n');
      if (line < 0) return false;
      const size = parseInt(this.#buffer.toString('latin1', 0, line), 16);
      if (size === 0) {
        // Fastify sends no trailers: the last chunk is "0\r\n\r\n".
        if (this.#buffer.length < line + 4) return false;
        this.#buffer = this.#buffer.subarray(line + 4);
        return true;
      }
      this.#buffer = this.#buffer.subarray(line + 2);
      this.#remaining = size + 2; // the chunk and its CRLF
    }
  }
}

async function generate(options: LoadOptions): Promise<LoadResult> {
  const { requests, concurrency, port } = options;
  const expect = options.expectStatus ?? 200;
  const latencies = new Float64Array(requests.length);
  let next = 0;
  let done = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const started = process.hrtime.bigint();
  const sockets: Socket[] = [];
  await new Promise<void>((resolve, reject) => {
    const open = (): void => {
      const socket: Socket = connect({ host: options.host ?? '127.0.0.1', port, noDelay: true });
      sockets.push(socket);
      let current = -1;
      let sentAt = 0n;
      const send = () => {
        if (next >= requests.length) return;
        current = next++;
        sentAt = process.hrtime.bigint();
        socket.write(requests[current] as Uint8Array);
      };
      const reader = new ResponseReader((response) => {
        latencies[current] = Number(process.hrtime.bigint() - sentAt) / 1e6;
        if (response.status !== expect) {
          failures++;
          firstFailure ??= response.head.split('\r\n')[0];
        }
        if (++done === requests.length) resolve();
        else send();
      });
      socket.on('data', (data: Buffer) => reader.push(data));
      socket.on('error', reject);
      socket.on('end', () => {
        if (done < requests.length && next > 0) reject(new Error(`bench: the server closed a connection (${done}/${requests.length} answered)`));
      });
      socket.on('connect', send);
    };
    for (let i = 0; i < Math.min(concurrency, requests.length); i++) open();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const socket of sockets) socket.destroy();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    requests: requests.length,
    seconds,
    perSecond: requests.length / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    failures,
    ...(firstFailure !== undefined && { firstFailure }),
  };
}

if (!isMainThread && parentPort) {
  parentPort.postMessage(await generate(workerData as LoadOptions));
}
