import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Args, Flags } from '@oclif/core';
import { exportSpace, peekManifest, type ExportSummary } from '../core/car/index.js';
import { cidText, type Manifest } from '../core/car/format.js';
import { SQL_SECTION, SQL_SECTION_VERSION, decodeSqlSection } from '../core/car/sql-section.js';
import type { CID } from '../core/ids/cid.js';
import { NodeClient, usageError } from '../core/client/index.js';
import { CarCommand, carFlags } from './_shared/car-command.js';
import { formatBytes } from './_shared/ui/format.js';
import { startCarProgress } from './_shared/ui/car-progress.js';

export default class Export extends CarCommand {
  static override summary = 'Back a space up as a verifiable CAR file.';
  static override description = `Writes SPACE as a CARv1 file (docs/car-format.md): a manifest, every delegation, invocation and revocation as its exact signed bytes, every KV op and epoch with the ids the node computes, and every content blob. The same history always gives the same bytes, and \`tinycloud import\` verifies all of it before it writes anything.

With --dir (or the configured data dir) the export runs in-process, from a consistent snapshot of the metadata DB, even while \`serve\` runs on the same data dir; SPACE is then a full space id. With --node it streams from a running node over /invoke (capability tinycloud.space/export on <space>/space): as the owner (TINYCLOUD_ETH_KEY or --owner-key; SPACE may be a name of the owner's), or as a delegate with --as KEYFILE --proof TOKEN.

--since EPOCH (an epoch CID from a previous export's heads; repeat or comma-separate for several) writes only the epochs after it: an incremental backup, imported on top of the one it continues.

Output goes to -o FILE (written under a temporary name, renamed when complete), or to stdout with -o - . A progress line (bytes, blocks, rate) is drawn on stderr when it is a terminal.

JSON output (--json, needs -o FILE): {space, root, heads, since, createdAt, counts: {epochs, delegations, invocations, revocations, ops, blobs, blobBytes}, proofs, sql: [{name, size, seq}], bytes, blocks, file}.`;
  static override examples = [
    '<%= config.bin %> export tinycloud:pkh:eip155:1:0xAbC…:default -o backup.car --dir ./data',
    '<%= config.bin %> export tinycloud:pkh:eip155:1:0xAbC…:default -o incr.car --since bafyr4i… --json',
    'TINYCLOUD_ETH_KEY=0x… <%= config.bin %> export default --node http://127.0.0.1:8000 -o - | gzip > backup.car.gz',
  ];
  static override args = {
    space: Args.string({ name: 'SPACE', required: true, description: 'Full space id (tinycloud:…); with --node also a name of the owner\'s.' }),
  };
  static override flags = {
    output: Flags.string({ char: 'o', summary: 'Write the CAR to FILE; - for stdout.', helpValue: 'FILE|-' }),
    since: Flags.string({ summary: 'Only epochs after this one (incremental). Repeat or comma-separate.', helpValue: 'EPOCH', multiple: true }),
    ...carFlags,
  };

  async run(): Promise<ExportSummary & { file: string | null }> {
    const { args, flags } = await this.parse(Export);
    const file = flags.output === undefined || flags.output === '-' ? null : flags.output;
    if (file === null && this.jsonEnabled()) throw usageError('--json prints a summary on stdout, so the CAR needs -o FILE', 'Give -o FILE.');
    if (file === null && flags.output === undefined && process.stdout.isTTY) {
      throw usageError('Refusing to write a binary CAR to a terminal', 'Give -o FILE, or -o - to write to stdout on purpose.');
    }
    const since = (flags.since ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
    const progress = await startCarProgress('export', !this.jsonEnabled());
    try {
      let source: AsyncIterable<Uint8Array>;
      let summary: () => ExportSummary;
      let close = async () => {};
      if (flags.node) {
        const node = new NodeClient(flags.node);
        const { invoker, space } = await this.carInvoker(node, flags, args.space, 'tinycloud.space/export');
        const response = await node.invoke(invoker.invocation({ [`${space.text}/space`]: { 'tinycloud.space/export': [{}] } }), {
          action: `export ${space.text}`,
          space: { id: space.text, name: space.name },
          invoker: invoker.did,
          ...(since.length > 0 && { headers: { 'x-tinycloud-since': since.join(',') } }),
        });
        const peeked = await peekManifest(response.body);
        const m = peeked.manifest;
        let bytes = 0;
        source = (async function* () {
          for await (const chunk of peeked.source) {
            bytes += chunk.length;
            progress.update({ bytes, total: m.counts.blobBytes || undefined });
            yield chunk;
          }
        })();
        summary = () => ({
          space: m.space,
          root: cidText(peeked.root),
          heads: m.heads.map(cidText),
          since: m.since?.map(cidText) ?? null,
          createdAt: m.createdAt === null ? null : new Date(m.createdAt * 1000).toISOString(),
          counts: m.counts,
          proofs: m.proofs.length,
          sql: sqlDatabasesOf(m, peeked.root),
          bytes,
          blocks:
            1 + m.proofs.length + 2 * m.counts.epochs + m.counts.delegations + m.counts.invocations + m.counts.revocations + m.counts.ops + m.counts.blobs +
            Object.values(m.sections).reduce((n, section) => n + section.blocks, 0),
        });
      } else {
        const node = await this.openLocal(flags);
        close = () => node.close();
        const car = exportSpace(node, args.space, {
          since,
          onProgress: (p) => progress.update({ bytes: p.bytes, blocks: p.blocks, total: p.blobBytes || undefined }),
        });
        source = car;
        summary = () => car.summary!;
      }
      try {
        await writeOut(source, file);
      } finally {
        await close();
      }
      progress.finish();
      const result = { ...summary(), file };
      this.note(`Exported ${result.space}: ${result.counts.epochs} epochs, ${result.counts.invocations + result.counts.delegations + result.counts.revocations} events, ${result.counts.blobs} blobs, ${formatBytes(result.bytes)}${file ? ` to ${file}` : ''}`);
      this.note(`Root ${result.root}; heads ${result.heads.join(', ') || '(none)'}`);
      return result;
    } finally {
      progress.finish();
    }
  }
}

/** The SQL databases a manifest carries (already checked by the node that wrote it; re-checked on import). */
function sqlDatabasesOf(m: Manifest, root: CID): { name: string; size: number; seq: number }[] {
  const section = m.sections[SQL_SECTION];
  if (!section || section.version !== SQL_SECTION_VERSION) return [];
  return decodeSqlSection(section, root).map((d) => ({ name: d.name, size: d.size, seq: d.seq }));
}

/** To a temp file renamed when complete (never a half-written FILE), or to stdout. */
async function writeOut(source: AsyncIterable<Uint8Array>, file: string | null): Promise<void> {
  const body = Readable.from(source, { objectMode: false, highWaterMark: 1024 * 1024 });
  if (file === null) {
    await pipeline(body, process.stdout, { end: false }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
    return;
  }
  const partial = `${file}.${process.pid}.part`;
  try {
    await pipeline(body, createWriteStream(partial));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
