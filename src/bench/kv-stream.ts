import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/**
 * The single-stream client of the KV bench, in a worker thread so the node under test keeps the main
 * thread to itself: one authorized put of `size` bytes streamed from a reused 1 MiB buffer, then one get.
 */
export interface StreamJob {
  readonly port: number;
  readonly size: number;
  /** Pre-signed `Authorization` headers. */
  readonly putAuthorization: string;
  readonly getAuthorization: string;
}

export interface StreamResult {
  readonly putSeconds: number;
  readonly getSeconds: number;
}

const MiB = 1024 * 1024;

export function runStream(job: StreamJob): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { kvStream: job } });
    worker.once('message', (message: StreamResult | { error: string }) =>
      'error' in message ? reject(new Error(message.error)) : resolve(message),
    );
    worker.once('error', reject);
  });
}

async function stream(job: StreamJob): Promise<StreamResult> {
  const agent = new Agent({ keepAlive: false });
  const chunk = randomBytes(MiB);
  const putStarted = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: job.port,
        path: '/invoke',
        method: 'POST',
        agent,
        headers: { authorization: job.putAuthorization, 'content-length': String(job.size), 'content-type': 'application/octet-stream' },
      },
      (res) => {
        let answer = '';
        res.on('data', (data: Buffer) => (answer += data.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`bench: large put answered ${res.statusCode} ${answer}`))));
      },
    );
    req.on('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < job.size) {
        const n = Math.min(MiB, job.size - sent);
        sent += n;
        if (!req.write(n === MiB ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  const putSeconds = Number(process.hrtime.bigint() - putStarted) / 1e9;

  const getStarted = process.hrtime.bigint();
  const received = await new Promise<number>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: job.port, path: '/invoke', method: 'POST', agent, headers: { authorization: job.getAuthorization } },
      (res) => {
        let bytes = 0;
        res.on('data', (data: Buffer) => (bytes += data.length));
        res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`bench: large get answered ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end();
  });
  if (received !== job.size) throw new Error(`bench: large get returned ${received} of ${job.size} bytes`);
  return { putSeconds, getSeconds: Number(process.hrtime.bigint() - getStarted) / 1e9 };
}

const job = (workerData as { kvStream?: StreamJob } | null)?.kvStream;
if (!isMainThread && parentPort && job) {
  parentPort.postMessage(await stream(job).catch((error: Error) => ({ error: error.message })));
}
