import { constants, createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Args } from '@oclif/core';
import { CAR_CONTENT_TYPE, importSpace, peekManifest, type ImportReport } from '../core/car/index.js';
import { NodeClient, usageError } from '../core/client/index.js';
import { CarCommand, carFlags } from './_shared/car-command.js';
import { formatBytes } from './_shared/ui/format.js';
import { startCarProgress } from './_shared/ui/car-progress.js';

export default class Import extends CarCommand {
  static override summary = 'Restore a space from a CAR file made by `tinycloud export`, verifying it first.';
  static override description = `Reads FILE (or stdin with -) once and verifies everything before writing anything: every block's hash, the epoch DAG with its ids recomputed, every KV op against its invocation's capabilities, every signature, and every delegation chain (in epoch order, through the same engine that authorizes live requests). Then it commits all of it in one transaction. A tampered or truncated file is refused with a message naming the bad block and what failed, and the node is left unchanged.

Importing the same file twice changes nothing. Importing into a node that already holds the space adds what is new (an incremental export on top of the one it continues, or the history of another node: KV values then resolve last-writer-wins by epoch position, and so does each SQL database as a whole: the file's snapshot replaces this node's copy only when no SQL write here is at or after it) and says what was new. The space is hosted with this node's own host key; delegations are the owner's, so their chains authorize here as they did before.

With --dir (or the configured data dir) the import runs in-process. With --node it streams to a running node over /invoke (capability tinycloud.space/import on <space>/space; the node must already host the space: \`tinycloud delegate host\`), as the owner or as a delegate (--as KEYFILE --proof TOKEN).

JSON output (--json): {space, root, createdSpace, added: {epochs, delegations, invocations, revocations, ops, proofs, blobs, blobBytes}, existing: {…}, heads, sql: [{name, size, seq, installed}], bytes, blocks}.`;
  static override examples = [
    '<%= config.bin %> import backup.car --dir ./data',
    'gunzip -c backup.car.gz | <%= config.bin %> import - --dir ./data --json',
    'TINYCLOUD_ETH_KEY=0x… <%= config.bin %> import backup.car --node http://127.0.0.1:8000',
  ];
  static override args = {
    file: Args.string({ name: 'FILE', required: true, description: 'The CAR file; - for stdin.' }),
  };
  static override flags = { ...carFlags };

  async run(): Promise<ImportReport> {
    const { args, flags } = await this.parse(Import);
    if (args.file === '-' && process.stdin.isTTY) throw usageError('Refusing to read a CAR from a terminal', 'Pipe it in, or give FILE.');
    if (args.file !== '-') {
      await access(args.file, constants.R_OK).catch((error: Error) => {
        throw usageError(`Cannot read ${args.file}: ${error.message}`);
      });
    }
    const input: Readable = args.file === '-' ? process.stdin : createReadStream(args.file, { highWaterMark: 1024 * 1024 });
    input.on('error', () => undefined);
    const progress = await startCarProgress('import', !this.jsonEnabled());
    let report: ImportReport;
    try {
      if (flags.node) {
        const node = new NodeClient(flags.node);
        const peeked = await peekManifest(input);
        const { invoker, space } = await this.carInvoker(node, flags, peeked.manifest.space, 'tinycloud.space/import');
        let bytes = 0;
        const body = Readable.from(
          (async function* () {
            for await (const chunk of peeked.source) {
              bytes += chunk.length;
              progress.update({ bytes });
              yield chunk;
            }
          })(),
          { objectMode: false },
        );
        const response = await node.invoke(invoker.invocation({ [`${space.text}/space`]: { 'tinycloud.space/import': [{}] } }), {
          action: `import ${space.text}`,
          space: { id: space.text, name: space.name },
          invoker: invoker.did,
          headers: { 'content-type': CAR_CONTENT_TYPE },
          body,
        });
        report = await node.readJson<ImportReport>(response, `import ${space.text}`);
      } else {
        const node = await this.openLocal(flags, { init: true });
        try {
          report = await importSpace(node, input, { onProgress: (p) => progress.update(p) });
        } finally {
          await node.close();
        }
      }
    } finally {
      progress.finish();
    }
    const a = report.added;
    const e = report.existing;
    this.note(
      `Imported ${report.space}${report.createdSpace ? ' (new here)' : ''}: ${a.epochs} new epochs (${e.epochs} already here), ` +
        `${a.delegations} delegations, ${a.invocations} invocations, ${a.revocations} revocations, ${a.ops} KV versions, ${a.blobs} blobs (${formatBytes(a.blobBytes)}) new`,
    );
    const sql = report.sql ?? [];
    if (sql.length > 0) {
      const kept = sql.filter((d) => !d.installed).map((d) => d.name);
      this.note(
        `SQL: ${sql.filter((d) => d.installed).map((d) => d.name).join(', ') || 'nothing'} installed` +
          (kept.length > 0 ? `; kept this node's ${kept.join(', ')} (written here at or after the file's snapshot)` : ''),
      );
    }
    if (!this.jsonEnabled()) this.log(`heads ${report.heads.join(', ') || '(none)'}`);
    return report;
  }
}
