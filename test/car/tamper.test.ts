import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CarIndexer } from '@ipld/car/indexer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TinyCloudError } from '../../src/core/errors.js';
import { alice, bob, TestClock } from '../auth-engine/support.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { KvClient, expectOk, exportToFile, importFile, startCarNode } from './support.js';

const RAW = 0x55;
const DAG_CBOR = 0x71;

/** Every row of every table and every stored block file: "unchanged" means all of it. */
async function dump(node: TestNode): Promise<unknown> {
  const db = node.node.metadata.db;
  const tables = ['space', 'actor', 'delegation', 'invocation', 'revocation', 'ability', 'parent_delegation', 'epoch', 'epoch_order', 'event_order', 'kv_write', 'kv_delete', 'current_kv', 'block'] as const;
  const rows: Record<string, string[]> = {};
  for (const table of tables) {
    rows[table] = (await db.selectFrom(table).selectAll().execute()).map((r) => JSON.stringify(r, (_, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v))).sort();
  }
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === '.tmp') continue;
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.push(path.relative(node.config.storage.blocks.type === 'Local' ? node.config.storage.blocks.path : '', full));
    }
  };
  if (node.config.storage.blocks.type === 'Local') walk(node.config.storage.blocks.path);
  return { rows, files: files.sort() };
}

describe('CAR import refuses tampered and truncated files and changes nothing', () => {
  const clock = new TestClock();
  const dir = tempDir('tinycloud-car-tamper-');
  let source: TestNode;
  let target: TestNode;
  let a: KvClient;
  let file: string;
  let original: Buffer;
  let blocks: { cid: string; codec: number; offset: number; blockOffset: number; blockLength: number; cidBytes: Uint8Array }[];

  beforeAll(async () => {
    source = await startCarNode(clock);
    target = await startCarNode(clock);
    a = await KvClient.signIn(source, alice, clock);
    await expectOk(a.put('big', randomBytes(2 * 1024 * 1024)));
    await expectOk(a.put('small', 'tiny value'));
    await expectOk(a.kv('tinycloud.kv/del', 'small'));
    // The target already holds a space of its own: tampering must leave it exactly as it was.
    const other = await KvClient.signIn(target, bob, clock);
    await expectOk(other.put('mine', 'untouched'));
    file = path.join(dir, 'space.car');
    await exportToFile(source.node, a.space, file);
    original = readFileSync(file);
    const indexer = await CarIndexer.fromBytes(original);
    blocks = [];
    for await (const b of indexer) blocks.push({ cid: b.cid.toString(), codec: b.cid.code, offset: b.offset, blockOffset: b.blockOffset, blockLength: b.blockLength, cidBytes: b.cid.bytes });
  }, 120_000);
  afterAll(async () => {
    await source?.destroy();
    await target?.destroy();
  });

  const attempt = async (name: string, bytes: Buffer) => {
    const tampered = path.join(dir, `${name}.car`);
    writeFileSync(tampered, bytes);
    const before = await dump(target);
    const error = await importFile(target.node, tampered).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TinyCloudError);
    expect((error as TinyCloudError).code).toBe('CAR_INVALID');
    expect(await dump(target)).toEqual(before);
    return (error as TinyCloudError).message;
  };
  const flip = (offset: number) => {
    const copy = Buffer.from(original);
    copy[offset] ^= 0x01;
    return copy;
  };

  it('a flipped byte in a content blob names the blob', async () => {
    const blob = blocks.filter((b) => b.codec === RAW).sort((x, y) => y.blockLength - x.blockLength)[0]!;
    const message = await attempt('blob', flip(blob.blockOffset + 12345));
    expect(message).toContain(blob.cid);
    expect(message).toMatch(/hash/);
  });

  it('a flipped byte in an event names the event', async () => {
    const event = blocks.find((b) => b.codec === RAW && b.blockLength < 4096)!;
    const message = await attempt('event', flip(event.blockOffset + Math.floor(event.blockLength / 2)));
    expect(message).toContain(event.cid);
    expect(message).toMatch(/hash/);
  });

  it('a flipped byte in an epoch block names the epoch', async () => {
    const epoch = blocks[1]!;
    expect(epoch.codec).toBe(DAG_CBOR);
    const message = await attempt('epoch', flip(epoch.blockOffset + epoch.blockLength - 3));
    expect(message).toContain(epoch.cid);
  });

  it('a flipped byte in the manifest names the manifest', async () => {
    const message = await attempt('manifest', flip(blocks[0]!.blockOffset + 10));
    expect(message).toContain(blocks[0]!.cid);
  });

  it('a file truncated inside a block, or at a block boundary, says so', async () => {
    const cut = original.length - 1000;
    const cutBlock = blocks.find((b) => b.offset <= cut && cut < b.blockOffset + b.blockLength)!;
    const inside = await attempt('truncated-inside', original.subarray(0, cut));
    expect(inside).toMatch(/truncated: the file ends inside block \S+/);
    expect(inside).toContain(cutBlock.cid);
    const boundary = blocks[Math.floor(blocks.length / 2)]!;
    const atBoundary = await attempt('truncated-boundary', original.subarray(0, boundary.offset));
    expect(atBoundary).toMatch(/truncated: the file ends after block/);
    const headerOnly = await attempt('header-only', original.subarray(0, blocks[0]!.offset));
    expect(headerOnly).toMatch(/truncated/);
  });

  it('two blocks with their CIDs swapped are both refused by hash', async () => {
    const [x, y] = [blocks[1]!, blocks[2]!];
    expect(x.cidBytes.length).toBe(y.cidBytes.length);
    const copy = Buffer.from(original);
    copy.set(y.cidBytes, x.blockOffset - x.cidBytes.length);
    copy.set(x.cidBytes, y.blockOffset - y.cidBytes.length);
    const message = await attempt('swapped', copy);
    expect(message).toMatch(/hash|not the note|expected/);
    expect(message).toContain(y.cid);
  });

  it('the untampered file imports', async () => {
    const report = await importFile(target.node, file);
    expect(report.added.epochs).toBeGreaterThan(0);
  });
});
