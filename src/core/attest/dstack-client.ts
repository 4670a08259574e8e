import { request } from 'node:http';
import { toHex } from './bytes.js';
import type { DstackQuoteResponse } from './input.js';

/** Where the dstack guest agent listens inside a CVM. */
export const DSTACK_SOCKET = '/var/run/dstack.sock';
const TIMEOUT_MS = 30_000;

export interface DstackAppInfo {
  app_id?: string;
  instance_id?: string;
  compose_hash?: string;
  [field: string]: unknown;
}

/**
 * The dstack guest agent's HTTP API, over its unix socket or, for the simulator, an http(s) URL
 * (`DSTACK_SIMULATOR_ENDPOINT` may be either).
 */
export class DstackClient {
  constructor(readonly endpoint: string = DSTACK_SOCKET) {}

  /** A TDX quote whose REPORTDATA is `reportData` (at most 64 bytes; dstack zero-pads), plus the event log. */
  async getQuote(reportData: Uint8Array): Promise<DstackQuoteResponse> {
    if (reportData.length > 64) throw new Error('dstack report data is at most 64 bytes');
    const body = await this.call('POST', '/GetQuote', { report_data: toHex(reportData) });
    if (typeof body.quote !== 'string' || typeof body.event_log !== 'string') {
      throw new Error('dstack GetQuote answered without quote and event_log');
    }
    return body as unknown as DstackQuoteResponse;
  }

  async info(): Promise<DstackAppInfo> {
    return (await this.call('GET', '/Info')) as DstackAppInfo;
  }

  private async call(method: 'GET' | 'POST', path: string, json?: unknown): Promise<Record<string, unknown>> {
    const payload = json === undefined ? undefined : JSON.stringify(json);
    const text = /^https?:\/\//.test(this.endpoint)
      ? await this.viaFetch(method, path, payload)
      : await this.viaSocket(method, path, payload);
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object') throw new Error(`dstack ${path} did not answer a JSON object`);
    return parsed as Record<string, unknown>;
  }

  private async viaFetch(method: string, path: string, payload?: string): Promise<string> {
    const res = await fetch(new URL(path, this.endpoint.replace(/\/?$/, '/')), {
      method,
      body: payload,
      headers: payload ? { 'content-type': 'application/json' } : undefined,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`dstack ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return text;
  }

  private viaSocket(method: string, path: string, payload?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.endpoint,
          path,
          method,
          host: 'dstack',
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
          timeout: TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 500) >= 400) reject(new Error(`dstack ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
            else resolve(text);
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`dstack ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
