import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { didKeyFromEd25519 } from '../core/auth/did.js';
import { generateEd25519Key, type Ed25519KeyPair } from '../core/auth/ed25519.js';
import { decodeUcanEnvelope } from '../core/auth/envelope.js';
import type { Attenuations } from '../core/auth/recap.js';
import { signUcan } from '../core/auth/ucan.js';
import { exportSpace, importSpace, type ExportSummary, type ImportReport } from '../core/car/index.js';
import { loadConfig } from '../core/config/load.js';
import { initDataDir } from '../core/datadir.js';
import { TinyCloudNode } from '../core/node.js';
import { unwrap } from '../core/result.js';
import { canWatchRss, runWatched } from './child-rss.js';
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

/** The CLI as an operator runs it (it always runs the compiled dist/). */
const CLI = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

interface InProcess {
  space: string;
  /** The manifest CID of the in-process export: the CLI's export must write the same file. */
  root: string;
  carBytes: number;
  copySeconds: number;
  exportSeconds: number;
  importSeconds: number;
}

/** Fill a space on a node over `scratch/source` and export it to `car` in-process; the node is closed after. */
async function exportInProcess(scratch: string, car: string, contentBytes: number, valueBytes: number) {
  const source = await openNode(path.join(scratch, 'source'));
  try {
    const space = await fill(source, contentBytes, valueBytes);
    const started = process.hrtime.bigint();
    const stream = exportSpace(source, space);
    await pipeline(Readable.from(stream), createWriteStream(car, { flush: true }));
    return { space, root: stream.summary!.root, exportSeconds: seconds(started) };
  } finally {
    await source.close();
  }
}

async function copySeconds(scratch: string, car: string): Promise<number> {
  const copy = path.join(scratch, 'copy.car');
  const started = process.hrtime.bigint();
  await pipeline(createReadStream(car, { highWaterMark: MiB }), createWriteStream(copy, { flush: true }));
  const elapsed = seconds(started);
  await rm(copy, { force: true });
  return elapsed;
}

async function importInProcess(dir: string, car: string, contentBytes: number): Promise<number> {
  const target = await openNode(dir);
  try {
    const started = process.hrtime.bigint();
    const report = await importSpace(target, createReadStream(car, { highWaterMark: MiB }));
    if (report.added.blobBytes !== contentBytes) throw new Error(`bench: import added ${report.added.blobBytes} of ${contentBytes} content bytes`);
    return seconds(started);
  } finally {
    await target.close();
  }
}

async function measureInProcess(scratch: string, contentBytes: number, valueBytes: number): Promise<InProcess> {
  const car = path.join(scratch, 'space.car');
  const { space, root, exportSeconds } = await exportInProcess(scratch, car, contentBytes, valueBytes);
  const carBytes = (await stat(car)).size;
  const copy = await copySeconds(scratch, car);
  const target = path.join(scratch, 'target');
  const importSeconds = await importInProcess(target, car, contentBytes);
  // Only the source data dir is needed from here on: at 5 GiB the copies are disk the CLI runs need.
  await rm(car, { force: true });
  await rm(target, { recursive: true, force: true });
  return { space, root, carBytes, copySeconds: copy, exportSeconds, importSeconds };
}

/** Run `tinycloud <args> --json`, check it exited 0 and printed JSON; the JSON and the child's peak RSS. */
async function tinycloud<T>(args: string[]): Promise<{ json: T; peakRss: number }> {
  const command = `tinycloud ${args.join(' ')} --json`;
  const run = await runWatched(process.execPath, [CLI, ...args, '--json'], { ...process.env, TINYCLOUD_LOG_LEVEL: 'silent' });
  if (run.code !== 0) throw new Error(`bench: ${command} exited ${run.code ?? run.signal}\n${run.stderr.trim()}\n${run.stdout.trim()}`);
  if (run.peakRss === null) throw new Error(`bench: no /proc reading of the peak RSS of ${command}`);
  try {
    return { json: JSON.parse(run.stdout) as T, peakRss: run.peakRss };
  } catch {
    throw new Error(`bench: ${command} printed no JSON:\n${run.stdout.trim()}`);
  }
}

/**
 * What an operator's `tinycloud export` and `tinycloud import` cost, each in its own process: export the filled
 * space from the (closed) source data dir to a file, import that file into a fresh data dir. Peak RSS in bytes.
 */
async function measureCli(scratch: string, measured: InProcess, contentBytes: number): Promise<{ exportRss: number; importRss: number }> {
  const car = path.join(scratch, 'cli.car');
  const exported = await tinycloud<ExportSummary>(['export', measured.space, '--dir', path.join(scratch, 'source'), '-o', car]);
  if (exported.json.root !== measured.root || exported.json.counts.blobBytes !== contentBytes) {
    throw new Error(`bench: tinycloud export wrote root ${exported.json.root} with ${exported.json.counts.blobBytes} content bytes, expected ${measured.root} with ${contentBytes}`);
  }
  const imported = await tinycloud<ImportReport>(['import', car, '--dir', path.join(scratch, 'cli-target')]);
  if (imported.json.root !== measured.root || imported.json.added.blobBytes !== contentBytes) {
    throw new Error(`bench: tinycloud import added root ${imported.json.root} with ${imported.json.added.blobBytes} content bytes, expected ${measured.root} with ${contentBytes}`);
  }
  return { exportRss: exported.peakRss, importRss: imported.peakRss };
}

const sizeLabel = (bytes: number) => (bytes >= 1024 * MiB ? `${(bytes / (1024 * MiB)).toFixed(1)} GiB` : `${bytes / MiB} MiB`);

function throughputRows(m: InProcess, label: string): BenchRow[] {
  const copyMBps = m.carBytes / MB / m.copySeconds;
  const exportMBps = m.carBytes / MB / m.exportSeconds;
  const importMBps = m.carBytes / MB / m.importSeconds;
  return [
    { name: `plain file copy of the CAR, ${label} (read, write, fsync)`, value: copyMBps, unit: 'MB/s' },
    { name: `export ${label} space to a CAR file`, value: exportMBps, unit: 'MB/s', ratio: exportMBps / copyMBps, baseline: 'plain file copy', target: '≥ 50%' },
    { name: `import ${label} CAR into a fresh node (verify + commit)`, value: importMBps, unit: 'MB/s', ratio: importMBps / copyMBps, baseline: 'plain file copy', target: '≥ 50%' },
  ];
}

/**
 * Export a space of `contentBytes` to a file and import that file into a fresh node, beside a plain copy of the
 * same file (read, write, fsync) measured in the same run; then the peak RSS of the CLI doing the same, each
 * command in its own process (Linux only: without /proc those rows are left out).
 */
export async function benchCar(options: CarBenchOptions = {}): Promise<BenchRow[]> {
  const contentBytes = options.contentBytes ?? Number(process.env.TINYCLOUD_BENCH_CAR_MIB ?? 512) * MiB;
  const valueBytes = options.valueBytes ?? 64 * MiB;
  const label = sizeLabel(contentBytes);
  const scratch = await mkdtemp(path.join(tmpdir(), 'tinycloud-bench-car-'));
  try {
    const measured = await measureInProcess(scratch, contentBytes, valueBytes);
    const rows = throughputRows(measured, label);
    if (!canWatchRss()) return rows;
    const { exportRss, importRss } = await measureCli(scratch, measured, contentBytes);
    return [
      ...rows,
      { name: `peak RSS of \`tinycloud export\` (${label} space, own process)`, value: exportRss / MiB, unit: 'MiB', target: '< 300 MiB at 5 GiB' },
      { name: `peak RSS of \`tinycloud import\` (${label} CAR, fresh data dir)`, value: importRss / MiB, unit: 'MiB', target: '< 300 MiB at 5 GiB' },
    ];
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const suite: BenchSuite = () => benchCar();
export default suite;
