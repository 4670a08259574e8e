import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVector } from '../support/vectors.js';

export interface FakeDstack {
  /** Socket path (or URL, for `listenOn: 'tcp'`) to give the node as its dstack endpoint. */
  endpoint: string;
  /** Every report_data the node asked a quote for, in order. */
  requested: string[];
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A real HTTP server on a unix socket speaking the dstack guest agent API, answering GetQuote with a recorded
 * vector response (a genuine quote, so its report data is the vector's, not the one asked for).
 */
export async function startFakeDstack(vector = 'dstack_getquote_with_digests.json', listenOn: 'socket' | 'tcp' = 'socket'): Promise<FakeDstack> {
  const response = readVector('attestation', vector).toString('utf8');
  const events = JSON.parse(JSON.parse(response).event_log) as { event: string; event_payload: string }[];
  const payload = (name: string) => events.find((e) => e.event === name)?.event_payload;
  const requested: string[] = [];
  const server = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/GetQuote') {
      requested.push((JSON.parse(await body(req)) as { report_data: string }).report_data);
      res.writeHead(200, { 'content-type': 'application/json' }).end(response);
    } else if (req.method === 'GET' && req.url === '/Info') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ app_id: payload('app-id'), compose_hash: payload('compose-hash'), instance_id: payload('instance-id') }));
    } else {
      res.writeHead(404).end('no such method');
    }
  });
  const dir = mkdtempSync(join(tmpdir(), 'fake-dstack-'));
  let endpoint: string;
  if (listenOn === 'socket') {
    endpoint = join(dir, 'dstack.sock');
    server.listen(endpoint);
    await once(server, 'listening');
  } else {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  return {
    endpoint,
    requested,
    close: async () => {
      server.close();
      await once(server, 'close');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
