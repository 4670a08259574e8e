import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTransaction } from '../../src/core/db/write-transaction.js';
import { TinyCloudError } from '../../src/core/errors.js';
import { KvReader, compareEpochPosition, multipartBoundary, parseRange, readMultipart } from '../../src/core/services/kv/index.js';
import { applyCurrent } from '../../src/core/services/kv/store.js';
import { chunks, multipartBody, openCoreKv, type CoreKv } from './support.js';

async function parts(body: Buffer, boundary: string, chunkSize: number) {
  const out: { name: string; headers: Record<string, string>; value: Buffer }[] = [];
  for await (const part of readMultipart(chunks(body, chunkSize), boundary)) {
    const pieces: Buffer[] = [];
    for await (const piece of part.body) pieces.push(Buffer.from(piece));
    out.push({ name: part.name, headers: part.headers, value: Buffer.concat(pieces) });
  }
  return out;
}

describe('streaming multipart reader', () => {
  const big = randomBytes(300_000);
  const tricky = Buffer.from('\r\n--almost-the-boundary\r\n--');
  const { body, contentType } = multipartBody([
    ['a', 'alpha', { 'content-type': 'text/plain' }],
    ['b%2Fc', big],
    ['empty', ''],
    ['tricky', tricky, { 'x-tinycloud-meta-k': 'v' }],
  ]);
  const boundary = multipartBoundary(contentType)!;

  it.each([1, 7, 70, 4096, 1 << 20])('yields the same parts whatever the chunking (%i-byte chunks)', async (size) => {
    const read = await parts(Buffer.concat([Buffer.from('preamble\r\n'), body, Buffer.from('epilogue')]), boundary, size);
    expect(read.map((p) => p.name)).toEqual(['a', 'b%2Fc', 'empty', 'tricky']);
    expect(read[0]!.value.toString()).toBe('alpha');
    expect(read[0]!.headers['content-type']).toBe('text/plain');
    expect(read[1]!.value.equals(big)).toBe(true);
    expect(read[2]!.value.length).toBe(0);
    expect(read[3]!.value.equals(tricky)).toBe(true);
    expect(read[3]!.headers['x-tinycloud-meta-k']).toBe('v');
  });

  it('skips a part the consumer does not read', async () => {
    const names: string[] = [];
    for await (const part of readMultipart(chunks(body, 1000), boundary)) names.push(part.name);
    expect(names).toEqual(['a', 'b%2Fc', 'empty', 'tricky']);
  });

  it('refuses truncated and malformed bodies with 400', async () => {
    const fail = async (bytes: Buffer, b = boundary) => {
      const error = await parts(bytes, b, 100).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(TinyCloudError);
      expect((error as TinyCloudError).status).toBe(400);
    };
    await fail(body.subarray(0, body.length - 10));
    await fail(body.subarray(0, 200));
    await fail(Buffer.from('no boundary at all'));
    await fail(Buffer.from(`--${boundary}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${boundary}--`));
    expect(() => multipartBoundary('multipart/form-data')).toThrow(TinyCloudError);
    expect(multipartBoundary('text/plain')).toBeUndefined();
    expect(multipartBoundary('multipart/form-data; boundary="quoted boundary"')).toBe('quoted boundary');
  });
});

describe('byte ranges', () => {
  it('parses one range and ignores what it does not serve', () => {
    expect(parseRange('bytes=0-0', 10)).toEqual({ start: 0, end: 0 });
    expect(parseRange('bytes=5-', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=-30', 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=8-100', 10)).toEqual({ start: 8, end: 9 });
    expect(parseRange('bytes=10-12', 10)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 10)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,3-4', 10)).toBeUndefined();
    expect(parseRange('items=0-1', 10)).toBeUndefined();
    expect(parseRange('bytes=5-2', 10)).toBeUndefined();
  });
});

describe('last writer wins', () => {
  let core: CoreKv;
  beforeAll(async () => {
    core = await openCoreKv('Local');
  });
  afterAll(() => core?.close());

  const space = 'tinycloud:key:z6MkLww:default';
  const version = (seq: number, epochSeq: number, id: number) => ({
    space,
    key: 'k',
    invocation: new Uint8Array([0x1e, 0x20, ...new Uint8Array(32).fill(id)]),
    seq,
    epoch: new Uint8Array([0x1e, 0x20, ...new Uint8Array(32).fill(100 + seq)]),
    epochSeq,
    value: new Uint8Array(32).fill(id),
    size: id,
    metadata: '{}',
    deleted: false,
  });

  it('orders by seq, then epoch_seq, then the invocation multihash', () => {
    const a = version(1, 0, 9);
    expect(compareEpochPosition(version(2, 0, 1), a)).toBeGreaterThan(0);
    expect(compareEpochPosition(version(1, 1, 1), a)).toBeGreaterThan(0);
    expect(compareEpochPosition(version(1, 0, 10), a)).toBeGreaterThan(0);
    expect(compareEpochPosition(version(1, 0, 8), a)).toBeLessThan(0);
  });

  it('picks the same live version whatever order the versions arrive in', async () => {
    const versions = [version(3, 0, 5), version(3, 0, 7), version(2, 4, 9), version(3, 0, 6), version(1, 0, 1)];
    const winners: number[] = [];
    for (const order of [versions, [...versions].reverse(), [versions[2]!, versions[1]!, versions[4]!, versions[0]!, versions[3]!]]) {
      await writeTransaction(core.metadata, (trx) => trx.deleteFrom('current_kv').where('space', '=', space).execute());
      for (const v of order) await writeTransaction(core.metadata, (trx) => applyCurrent(trx, v));
      const live = await new KvReader(core.metadata.db, core.metadata.engine).current(space, 'k');
      winners.push(live!.size);
    }
    // (3, 0) is the latest position; three versions share it and the largest multihash (fill 7) wins.
    expect(winners).toEqual([7, 7, 7]);
  });
});
