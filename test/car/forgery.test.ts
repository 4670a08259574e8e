import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNote } from '../../src/core/car/format.js';
import { TinyCloudError } from '../../src/core/errors.js';
import { encodeEpoch, encodeKvOp } from '../../src/core/events/index.js';
import { blake3 } from '../../src/core/ids/blake3.js';
import type { CID } from '../../src/core/ids/cid.js';
import { alice, mallory, ucan, TestClock } from '../auth-engine/support.js';
import { tempDir, type TestNode } from '../support/test-node.js';
import { cborBlock, decoded, rawBlock, readCar, writeCar, type Block } from './forge.js';
import { KvClient, expectOk, exportToFile, importFile, startCarNode } from './support.js';

/** Rows and block files of the target: a refused import must leave both as they were. */
async function fingerprint(node: TestNode): Promise<string> {
  const db = node.node.metadata.db;
  const counts = [];
  for (const table of ['space', 'delegation', 'invocation', 'epoch', 'event_order', 'kv_write', 'current_kv', 'block'] as const) {
    counts.push(`${table}=${(await db.selectFrom(table).selectAll().execute()).length}`);
  }
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (!full.includes(`${path.sep}.tmp${path.sep}`)) files.push(full);
    }
  };
  walk((node.config.storage.blocks as { path: string }).path);
  return `${counts.join(' ')} files=${files.sort().join(',')}`;
}

describe('CAR import checks signatures and chains, not just hashes', () => {
  const clock = new TestClock();
  const dir = tempDir('tinycloud-car-forgery-');
  let source: TestNode;
  let target: TestNode;
  let a: KvClient;
  let original: Buffer;

  beforeAll(async () => {
    source = await startCarNode(clock);
    target = await startCarNode(clock);
    a = await KvClient.signIn(source, alice, clock);
    await expectOk(a.put('doc', 'original'));
    const file = path.join(dir, 'space.car');
    await exportToFile(source.node, a.space, file);
    original = readFileSync(file);
  }, 120_000);
  afterAll(async () => {
    await source?.destroy();
    await target?.destroy();
  });

  const refused = async (bytes: Buffer): Promise<string> => {
    const file = path.join(dir, `forged-${randomBytes(4).toString('hex')}.car`);
    writeFileSync(file, bytes);
    const before = await fingerprint(target);
    const error = await importFile(target.node, file).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TinyCloudError);
    expect((error as TinyCloudError).code).toBe('CAR_INVALID');
    expect(await fingerprint(target)).toBe(before);
    return (error as Error).message;
  };

  /** The blocks of the head epoch's group, and where they sit. */
  const headGroup = (blocks: Block[], head: CID) => {
    const at = blocks.findIndex((b) => b.cid.equals(head));
    return { at, epoch: blocks[at]!, note: blocks[at + 1]! };
  };

  it('an invocation whose signature was altered, with every hash above it recomputed, fails on its signature', async () => {
    const { manifest, blocks } = await readCar(original);
    const { at, epoch, note } = headGroup(blocks, manifest.heads[0]!);
    const { parents, events } = decoded<{ parents: CID[]; events: (CID | CID[])[] }>(epoch);
    const entry = events[0] as CID[];
    const invocationAt = blocks.findIndex((b) => b.cid.equals(entry[0]!));
    const token = Buffer.from(blocks[invocationAt]!.bytes).toString('latin1');
    const forgedToken = `${token.slice(0, -2)}${token.at(-2) === 'A' ? 'B' : 'A'}${token.at(-1)}`;
    const invocation = await rawBlock(Buffer.from(forgedToken, 'latin1'));
    const newEpoch = await cborBlock(encodeEpoch(parents, [[invocation.cid, ...entry.slice(1)]]));
    const n = decoded<{ seq: number; events: { kind: 'invocation'; at: number }[] }>(note);
    const newNote = await encodeNote({ epoch: newEpoch.cid, seq: n.seq, events: n.events });
    blocks[at] = newEpoch;
    blocks[at + 1] = newNote;
    blocks[invocationAt] = invocation;
    const message = await refused(await writeCar({ ...manifest, heads: [newEpoch.cid] }, blocks));
    expect(message).toContain(invocation.cid.toString());
    expect(message).toMatch(/signature/i);
  });

  it("mallory's self-signed write appended to alice's history fails on its chain, and its content is never stored", async () => {
    const { manifest, blocks } = await readCar(original);
    const head = manifest.heads[0]!;
    const headSeq = decoded<{ seq: number }>(headGroup(blocks, head).note).seq;
    const content = randomBytes(200_000);
    const digest = await blake3(content);
    const token = ucan(mallory.session, { att: { [a.resource('evil')]: { 'tinycloud.kv/put': [{}] } } }, clock.now);
    const invocation = await rawBlock(Buffer.from(token, 'utf8'));
    const op = await cborBlock(encodeKvOp({ kind: 'write', key: 'evil', value: digest, metadata: {} }));
    const epoch = await cborBlock(encodeEpoch([head], [[invocation.cid, op.cid]]));
    const note = await encodeNote({ epoch: epoch.cid, seq: headSeq + 1, events: [{ kind: 'invocation', at: clock.now }] });
    const blob = await rawBlock(content);
    // Content comes last, sorted by digest: insert the new epoch group before the first content block.
    const contentStart = blocks.length - manifest.counts.blobs;
    const contents = [...blocks.slice(contentStart), blob].sort((x, y) => Buffer.compare(x.cid.multihash.digest, y.cid.multihash.digest));
    const forged = [...blocks.slice(0, contentStart), epoch, note, invocation, op, ...contents];
    const counts = { ...manifest.counts, epochs: manifest.counts.epochs + 1, invocations: manifest.counts.invocations + 1, ops: manifest.counts.ops + 1, blobs: manifest.counts.blobs + 1, blobBytes: manifest.counts.blobBytes + content.length };
    const message = await refused(await writeCar({ ...manifest, heads: [epoch.cid], counts }, forged));
    expect(message).toContain(invocation.cid.toString());
    expect(message).toMatch(/AUTH_PARENT_NOT_FOUND|Unauthorized/);
  });

  it('an op that does not match its invocation capability is refused', async () => {
    const { manifest, blocks } = await readCar(original);
    const { at, epoch, note } = headGroup(blocks, manifest.heads[0]!);
    const { parents, events } = decoded<{ parents: CID[]; events: (CID | CID[])[] }>(epoch);
    const entry = events[0] as CID[];
    const opAt = blocks.findIndex((b) => b.cid.equals(entry[1]!));
    const opValue = decoded<{ value: CID }>(blocks[opAt]!).value;
    const op = await cborBlock(encodeKvOp({ kind: 'write', key: 'not-the-signed-key', value: opValue.multihash.digest, metadata: {} }));
    const newEpoch = await cborBlock(encodeEpoch(parents, [[entry[0]!, op.cid]]));
    const n = decoded<{ seq: number; events: { kind: 'invocation'; at: number }[] }>(note);
    blocks[at] = newEpoch;
    blocks[at + 1] = await encodeNote({ epoch: newEpoch.cid, seq: n.seq, events: n.events });
    blocks[opAt] = op;
    const message = await refused(await writeCar({ ...manifest, heads: [newEpoch.cid] }, blocks));
    expect(message).toContain(op.cid.toString());
    expect(message).toContain('not-the-signed-key');
  });

  it('a manifest that miscounts is refused', async () => {
    const { manifest, blocks } = await readCar(original);
    const message = await refused(await writeCar({ ...manifest, counts: { ...manifest.counts, invocations: manifest.counts.invocations + 1 } }, blocks));
    expect(message).toMatch(/counts \d+ invocations, the file holds \d+/);
  });

  it('an unknown optional section is skipped (its blocks still hash-checked); an unknown required one is refused', async () => {
    const { manifest, blocks } = await readCar(original);
    const extra = await rawBlock(Buffer.from('a future service'));
    const required = await refused(await writeCar({ ...manifest, sections: { 'sql.v9': { version: 9, required: true, blocks: 1 } } }, [...blocks, extra]));
    expect(required).toContain('sql.v9');
    const badExtra = { cid: extra.cid, bytes: Buffer.from('tampered future') };
    await refused(await writeCar({ ...manifest, sections: { later: { version: 1, required: false, blocks: 1 } } }, [...blocks, badExtra]));
    const missing = await refused(await writeCar({ ...manifest, sections: { later: { version: 1, required: false, blocks: 2 } } }, [...blocks, extra]));
    expect(missing).toMatch(/truncated/);

    const file = path.join(dir, 'optional-section.car');
    writeFileSync(file, await writeCar({ ...manifest, sections: { later: { version: 1, required: false, blocks: 1 } } }, [...blocks, extra]));
    const fresh = await startCarNode(clock);
    try {
      expect((await importFile(fresh.node, file)).added.invocations).toBe(1);
    } finally {
      await fresh.destroy();
    }
  });

  it('the original imports', async () => {
    const file = path.join(dir, 'ok.car');
    writeFileSync(file, original);
    expect((await importFile(target.node, file)).added.invocations).toBe(1);
  });
});
