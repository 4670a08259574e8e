import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { didKeyFromEd25519 } from '../core/auth/did.js';
import { generateEd25519Key, type Ed25519KeyPair } from '../core/auth/ed25519.js';
import { decodeUcanEnvelope } from '../core/auth/envelope.js';
import type { Attenuations } from '../core/auth/recap.js';
import { signUcan } from '../core/auth/ucan.js';
import { exportSpace, importSpace } from '../core/car/index.js';
import { loadConfig } from '../core/config/load.js';
import { initDataDir } from '../core/datadir.js';
import { TinyCloudNode } from '../core/node.js';
import { unwrap } from '../core/result.js';
import type { BenchRow, BenchSuite } from './run.js';

export interface CarBenchOptions {
  /** Content in the exported space (the target is 5 GiB: TINYCLOUD_BENCH_CAR_MIB=5120). */
  readonly contentBytes?: number;
  /** Size of each value. */
  readonly valueBytes?: number;
}

const MB = 1e6;
const MiB = 1024 * 1024;
const CHUNK = randomBytes(MiB);

async function openNode(dir: string): Promise<TinyCloudNode> {
  await initDataDir(dir);
  return TinyCloudNode.open(loadConfig({ env: { TINYCLOUD_LOG_LEVEL: 'silent' }, flags: { 'storage.datadir': dir } }));
}

/** A did:key-owned space on `node`: its owner is root authority, so its UCANs need no proofs. */
async function hostSpace(node: TinyCloudNode): Promise<{ space: string; owner: Ed25519KeyPair; sign(att: Attenuations): string }> {
  const owner = generateEd25519Key();
  const did = didKeyFromEd25519(owner.publicKey);
  const space = `tinycloud:${did.slice('did:'.length)}:bench`;
  const sign = (att: Attenuations, audience = did) => signUcan({ issuerKey: owner, audience, att, exp: Date.now() / 1000 + 240, nonce: `urn:uuid:${randomUUID()}` });
  const host = unwrap(await decodeUcanEnvelope(sign({ [`${space}/space`]: { 'tinycloud.space/host': [{}] } }, node.keys.hostKey(space).did)));
  unwrap(await node.auth.delegate(host));
  return { space, owner, sign };
}

async function* bytesOf(size: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < size; sent += MiB) yield sent + MiB <= size ? CHUNK : CHUNK.subarray(0, size - sent);
}

/** Fill a space with `total` bytes of values through the KV service, as authorized puts would. */
async function fill(node: TinyCloudNode, total: number, valueBytes: number): Promise<string> {
  const { space, sign } = await hostSpace(node);
  for (let i = 0, written = 0; written < total; i++, written += valueBytes) {
    const size = Math.min(valueBytes, total - written);
    const token = sign({ [`${space}/kv/bench/${i}`]: { 'tinycloud.kv/put': [{}] } });
    const invocation = unwrap(await node.auth.authorizeInvocation(unwrap(await decodeUcanEnvelope(token))));
    // Distinct content per value: the first bytes carry the index.
    const head = Buffer.from(`value ${i}:`);
    const body = Readable.from((async function* () {
      yield head;
      yield* bytesOf(size - head.length);
    })());
    const response = await node.kv.invoke(invocation.envelope, { headers: { 'content-length': String(size) }, body });
    if (response.status !== 200) throw new Error(`bench: put answered ${response.status}`);
  }
  return space;
}

const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

/**
 * Export a space of `contentBytes` to a file and import that file into a fresh node, beside a plain copy of the
 * same file (read, write, fsync) measured in the same run.
 */
export async function benchCar(options: CarBenchOptions = {}): Promise<BenchRow[]> {
  const contentBytes = options.contentBytes ?? Number(process.env.TINYCLOUD_BENCH_CAR_MIB ?? 512) * MiB;
  const valueBytes = options.valueBytes ?? 64 * MiB;
  const scratch = await mkdtemp(path.join(tmpdir(), 'tinycloud-bench-car-'));
  try {
    const source = await openNode(path.join(scratch, 'source'));
    const car = path.join(scratch, 'space.car');
    let exportSeconds: number;
    let space: string;
    try {
      space = await fill(source, contentBytes, valueBytes);
      const started = process.hrtime.bigint();
      await pipeline(Readable.from(exportSpace(source, space)), createWriteStream(car, { flush: true }));
      exportSeconds = seconds(started);
    } finally {
      await source.close();
    }
    const carBytes = (await stat(car)).size;

    const copyStarted = process.hrtime.bigint();
    await pipeline(createReadStream(car, { highWaterMark: MiB }), createWriteStream(path.join(scratch, 'copy.car'), { flush: true }));
    const copySeconds = seconds(copyStarted);
    await rm(path.join(scratch, 'copy.car'), { force: true });

    const target = await openNode(path.join(scratch, 'target'));
    let importSeconds: number;
    try {
      const started = process.hrtime.bigint();
      const report = await importSpace(target, createReadStream(car, { highWaterMark: MiB }));
      importSeconds = seconds(started);
      if (report.added.blobBytes !== contentBytes) throw new Error(`bench: import added ${report.added.blobBytes} of ${contentBytes} content bytes`);
    } finally {
      await target.close();
    }

    const copyMBps = carBytes / MB / copySeconds;
    const exportMBps = carBytes / MB / exportSeconds;
    const importMBps = carBytes / MB / importSeconds;
    const label = contentBytes >= 1024 * MiB ? `${(contentBytes / (1024 * MiB)).toFixed(1)} GiB` : `${contentBytes / MiB} MiB`;
    return [
      { name: `plain file copy of the CAR, ${label} (read, write, fsync)`, value: copyMBps, unit: 'MB/s' },
      { name: `export ${label} space to a CAR file`, value: exportMBps, unit: 'MB/s', ratio: exportMBps / copyMBps, baseline: 'plain file copy', target: '≥ 50%' },
      { name: `import ${label} CAR into a fresh node (verify + commit)`, value: importMBps, unit: 'MB/s', ratio: importMBps / copyMBps, baseline: 'plain file copy', target: '≥ 50%' },
      { name: 'peak RSS of the bench process (both nodes)', value: process.resourceUsage().maxRSS / 1024, unit: 'MiB', target: '< 300 MiB at 5 GiB' },
    ];
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const suite: BenchSuite = () => benchCar();
export default suite;
