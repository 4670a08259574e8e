import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { exportSpace, importSpace, type ExportOptions, type ExportSummary, type ImportReport } from '../../src/core/car/index.js';
import type { TinyCloudNode } from '../../src/core/node.js';
import { cidOfHeader, post, ucan, type Principal, type TestClock } from '../auth-engine/support.js';
import { KvClient, startKvNode } from '../kv/http-support.js';
import type { TestNode } from '../support/test-node.js';
import type { CID } from '../../src/core/ids/cid.js';
import type { Attenuations } from '../../src/core/auth/index.js';

export { KvClient };

export const startCarNode = (clock: TestClock, env: Record<string, string> = {}): Promise<TestNode> => startKvNode('Local', clock, undefined, env);

export async function exportToFile(node: TinyCloudNode, space: string, file: string, options: ExportOptions = {}): Promise<ExportSummary> {
  const car = exportSpace(node, space, options);
  await pipeline(Readable.from(car), createWriteStream(file));
  return car.summary!;
}

export function importFile(node: TinyCloudNode, file: string): Promise<ImportReport> {
  return importSpace(node, createReadStream(file, { highWaterMark: 1024 * 1024 }));
}

export async function expectOk(response: Response | Promise<Response>): Promise<Response> {
  const r = await response;
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  return r;
}

/** A UCAN delegation from `from`'s session key to `to`'s session key, posted to the node; returns its CID. */
export async function delegateTo(node: TestNode, client: KvClient, to: Principal, att: Attenuations, clock: TestClock): Promise<CID> {
  const token = ucan(client.owner.session, { att, prf: [client.sessionCid], audience: to.sessionDid, exp: clock.now + 600 }, clock.now);
  const answer = await post(node, '/delegate', token);
  if (answer.status !== 200) throw new Error(`delegate: ${answer.status} ${answer.text}`);
  return cidOfHeader(token);
}

/** Everything a space is, as the node serves and stores it: compared before and after a round trip. */
export async function spaceState(node: TestNode, client: KvClient) {
  const db = node.node.metadata.db;
  const space = client.space;
  const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('hex'));
  const keys = (await (await expectOk(client.kv('tinycloud.kv/list', ''))).json()) as string[];
  const objects: Record<string, unknown> = {};
  for (const key of keys) {
    const got = await expectOk(client.get(key));
    const body = Buffer.from(await got.arrayBuffer());
    const headers = Object.fromEntries([...got.headers.entries()].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name)));
    const versions = (await (await expectOk(client.kv('tinycloud.kv/versions', key))).json()) as unknown;
    objects[key] = { headers, body: body.toString('base64'), versions };
  }
  const rows = async (table: 'epoch' | 'epoch_order' | 'event_order' | 'kv_write' | 'kv_delete' | 'current_kv' | 'block') =>
    (await db.selectFrom(table).selectAll().where('space', '=', space).execute())
      .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Uint8Array ? hex(v) : typeof v === 'number' ? v : v])))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const delegations = (await db.selectFrom('delegation').select(['id', 'serialization', 'delegator', 'delegatee', 'expiry', 'not_before', 'issued_at', 'facts', 'terminal', 'received_at']).execute())
    .map((r) => ({ ...r, id: hex(r.id), serialization: hex(r.serialization) }))
    .sort((a, b) => a.id!.localeCompare(b.id!));
  const abilities = (await db.selectFrom('ability').selectAll().execute()).map((r) => ({ ...r, delegation: hex(r.delegation) })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const parents = (await db.selectFrom('parent_delegation').selectAll().execute()).map((r) => `${hex(r.parent)}>${hex(r.child)}`).sort();
  const invocations = (await db.selectFrom('invocation').select(['id', 'serialization', 'invoker', 'issued_at', 'expiry', 'facts']).innerJoin('event_order', 'event_order.event', 'invocation.id').execute())
    .map((r) => ({ ...r, id: hex(r.id), serialization: hex(r.serialization) }))
    .sort((a, b) => a.id!.localeCompare(b.id!));
  const revocations = (await db.selectFrom('revocation').selectAll().execute()).map((r) => ({ ...r, id: hex(r.id), revoked: hex(r.revoked), serialization: hex(r.serialization) }));
  return {
    objects,
    epochs: await rows('epoch'),
    epochOrder: await rows('epoch_order'),
    eventOrder: await rows('event_order'),
    kvWrites: (await rows('kv_write')).map(({ metadata, ...rest }) => ({ ...rest, metadata: JSON.parse(metadata as string) as unknown })),
    kvDeletes: await rows('kv_delete'),
    current: (await rows('current_kv')).map(({ metadata, ...rest }) => ({ ...rest, metadata: JSON.parse(metadata as string) as unknown })),
    blocks: await rows('block'),
    delegations,
    abilities,
    parents,
    invocations,
    revocations,
  };
}
