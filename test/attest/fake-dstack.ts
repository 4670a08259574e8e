import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extend, runtimeEventDigest, DSTACK_RUNTIME_EVENT_TYPE } from '../../src/core/attest/event-log.js';
import { readVector } from '../support/vectors.js';
import type { syntheticPlatform } from './synthetic-dcap.js';

export interface FakeDstack {
  /** Socket path (or URL, for `listenOn: 'tcp'`) to give the node as its dstack endpoint. */
  endpoint: string;
  /** Every report_data the node asked a quote for, in order. */
  requested: string[];
  close(): Promise<void>;
}

export type QuoteSource =
  /** A recorded vector response: a genuine Intel-signed quote, whose report data is the vector's, not the one asked for. */
  | { vector: string }
  /** Fresh quotes over the requested report data, signed by a synthetic platform, with a consistent event log. */
  | { synthetic: ReturnType<typeof syntheticPlatform>; composeHash?: string };

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A real HTTP server on a unix socket (or TCP) speaking the dstack guest agent API. */
export async function startFakeDstack(
  source: QuoteSource = { vector: 'dstack_getquote_with_digests.json' },
  listenOn: 'socket' | 'tcp' = 'socket',
): Promise<FakeDstack> {
  const answer = 'vector' in source ? vectorAnswer(source.vector) : syntheticAnswer(source.synthetic, source.composeHash);
  const requested: string[] = [];
  const server = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/GetQuote') {
      const reportData = (JSON.parse(await body(req)) as { report_data: string }).report_data;
      requested.push(reportData);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer.quote(reportData)));
    } else if (req.method === 'GET' && req.url === '/Info') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer.info));
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

function vectorAnswer(file: string) {
  const response = JSON.parse(readVector('attestation', file).toString('utf8'));
  const events = JSON.parse(response.event_log) as { event: string; event_payload: string }[];
  const payload = (name: string) => events.find((e) => e.event === name)?.event_payload;
  return {
    quote: () => response,
    info: { app_id: payload('app-id'), compose_hash: payload('compose-hash'), instance_id: payload('instance-id') },
  };
}

function syntheticAnswer(platform: ReturnType<typeof syntheticPlatform>, composeHash = 'c0'.repeat(32)) {
  const appId = composeHash.slice(0, 40);
  const runtime = [
    ['system-preparing', ''],
    ['app-id', appId],
    ['compose-hash', composeHash],
    ['instance-id', '1d'.repeat(20)],
    ['boot-mr-done', ''],
    ['key-provider', Buffer.from('{"name":"kms","id":"30"}').toString('hex')],
    ['system-ready', ''],
  ];
  const events = [
    { imr: 0, event_type: 0x80000001, digest: 'a0'.repeat(48), event: '', event_payload: '' },
    { imr: 1, event_type: 0x80000003, digest: 'a1'.repeat(48), event: '', event_payload: '' },
    { imr: 2, event_type: 6, digest: 'a2'.repeat(48), event: '', event_payload: '' },
    ...runtime.map(([event, payload]) => ({ imr: 3, event_type: DSTACK_RUNTIME_EVENT_TYPE, digest: '', event, event_payload: payload })),
  ];
  const rtmr: Uint8Array[] = [0, 1, 2, 3].map(() => new Uint8Array(48));
  for (const e of events) {
    const digest = e.digest ? Buffer.from(e.digest, 'hex') : runtimeEventDigest(e.event_type, e.event, Buffer.from(e.event_payload, 'hex'));
    rtmr[e.imr] = extend(rtmr[e.imr], digest);
  }
  const mrConfigId = Buffer.concat([Buffer.from([1]), Buffer.from(composeHash, 'hex'), Buffer.alloc(15)]);
  return {
    quote: (reportData: string) => ({
      quote: Buffer.from(platform.quote({ reportData: Buffer.from(reportData, 'hex'), rtmr, mrConfigId })).toString('hex'),
      event_log: JSON.stringify(events),
      report_data: reportData,
      vm_config: '{"cpu_count":1}',
    }),
    info: { app_id: appId, compose_hash: composeHash, instance_id: '1d'.repeat(20) },
  };
}
