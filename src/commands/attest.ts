import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { parseCert } from '../core/attest/certs.js';
import { parseCollateralJson, type Collateral } from '../core/attest/collateral.js';
import { verifyAttestation, type DstackVerification } from '../core/attest/dstack.js';
import { decodeQuoteInput, dstackInput } from '../core/attest/input.js';
import { collateralFromPccs } from '../core/attest/pccs.js';
import { parseQuote } from '../core/attest/quote.js';
import { fetchNodeAttestation, type RemoteAttestation } from '../core/attest/remote.js';
import { TCB_STATUSES } from '../core/attest/tcb-info.js';
import { TinyCloudError } from '../core/errors.js';
import { TinyCloudCommand } from './_shared/base.js';
import { EXIT } from './_shared/exit-codes.js';

type AttestResult = Omit<DstackVerification, 'dstack'> & {
  dstack?: DstackVerification['dstack'];
  verifiedAt: string;
  node?: { url: string; nodeDid: string; nonce: string; inTEE: boolean };
};

const INTEL_PCS = 'https://api.trustedservices.intel.com';

export default class Attest extends TinyCloudCommand {
  static override summary = 'Verify an Intel TDX / dstack attestation quote, from a file or a running node.';
  static override description = `Checks the quote signature, the QE report and its binding to the attestation key, the PCK chain up to the pinned Intel SGX Root CA, the CRLs, the signed TCB info and QE identity, and the TCB status. For a dstack GetQuote JSON (or --node), it also replays the event log into RTMR0–3, checks MRCONFIGID = 01 ‖ compose hash, and reports app-id, compose-hash, instance-id, os-image-hash and key-provider.

QUOTE_FILE may be a binary quote, hex text (with or without 0x) or a dstack GetQuote JSON; the format is read from the content. With --node, the node's /info DID and a fresh random nonce must be bound in the quote's report data (docs/attestation.md).

Collateral comes from --collateral (dcap-qvl QuoteCollateralV3 JSON) or is fetched from --pccs (default Intel PCS) and cached per FMSPC. Collateral expires after about 30 days: use --at to verify as of an earlier time.

Exit status: 0 only when every check passes; 1 otherwise. JSON output (--json): {ok, tcbStatus, advisoryIds, checks: [{name, ok, detail}], measurements: {mrTd, rtmr0…rtmr3, reportData, …}, quote, collateral, dstack?, node?, verifiedAt}`;
  static override examples = [
    '<%= config.bin %> attest quote.bin --collateral collateral.json --at 2025-07-01T00:00:00Z',
    '<%= config.bin %> attest getquote.json --expect-compose-hash 86b0e55f…caa9 --json',
    '<%= config.bin %> attest --node https://node.example --pccs https://pccs.phala.network',
    '<%= config.bin %> attest quote.hex --pccs https://localhost:8081 --cache-dir ./collateral',
  ];
  static override args = {
    file: Args.string({ name: 'QUOTE_FILE', description: 'Binary quote, hex text or dstack GetQuote JSON.' }),
  };
  static override flags = {
    node: Flags.string({ summary: 'Fetch a fresh attestation from this node URL instead of a file.' }),
    collateral: Flags.string({ summary: 'Collateral file (dcap-qvl QuoteCollateralV3 JSON).', exclusive: ['pccs'] }),
    pccs: Flags.string({ summary: `PCCS or Intel PCS base URL for collateral (default ${INTEL_PCS}).` }),
    'cache-dir': Flags.string({ summary: 'Collateral cache directory (default ~/.cache/tinycloud/collateral).' }),
    at: Flags.string({ summary: 'Verify as of this time (ISO 8601; default now).' }),
    'expect-compose-hash': Flags.string({ summary: 'Required dstack compose hash (hex).' }),
    'expect-app-id': Flags.string({ summary: 'Required dstack app id (hex).' }),
    'expect-mrtd': Flags.string({ summary: 'Required MRTD (hex, 48 bytes).' }),
    'expect-report-data': Flags.string({ summary: 'Required report data (hex; shorter values are zero-padded).' }),
    'up-to-date': Flags.boolean({ summary: 'Accept only TCB status UpToDate.', default: false }),
    'root-ca': Flags.string({ summary: 'Trust this root CA (PEM or DER file) instead of the Intel SGX Root CA: test platforms only.' }),
  };

  async run(): Promise<AttestResult> {
    const { args, flags } = await this.parse(Attest);
    if (!args.file === !flags.node) throw new TinyCloudError('BAD_REQUEST', 'Give a QUOTE_FILE or --node URL (one of them).');
    const at = flags.at ? new Date(flags.at) : new Date();
    if (Number.isNaN(at.getTime())) throw new TinyCloudError('BAD_REQUEST', `--at ${flags.at} is not a date; write e.g. 2025-07-01T00:00:00Z`);

    let quote: Uint8Array;
    let eventLog: string | null = null;
    let remote: RemoteAttestation | undefined;
    if (flags.node) {
      remote = await fetchNodeAttestation(flags.node).catch((error: Error) => {
        throw new TinyCloudError('SERVICE_UNAVAILABLE', `Cannot get an attestation from ${flags.node}: ${error.message}`);
      });
      if (remote.attestation.mode !== 'dstack') {
        throw new TinyCloudError('SERVICE_UNAVAILABLE', `${remote.url} is not running in a TEE: ${remote.attestation.message}`);
      }
      const input = guard(() => dstackInput(remote!.attestation));
      quote = input.quote;
      eventLog = input.response.event_log;
    } else {
      const bytes = await readFile(args.file!).catch((error: Error) => {
        throw new TinyCloudError('NOT_FOUND', `Cannot read ${args.file}: ${error.message}`);
      });
      const input = guard(() => decodeQuoteInput(bytes));
      quote = input.quote;
      if (input.kind === 'dstack') eventLog = input.response.event_log;
    }

    const base = { verifiedAt: at.toISOString(), ...(remote ? { node: { url: remote.url, nodeDid: remote.nodeDid, nonce: remote.nonce, inTEE: remote.inTEE } } : {}) };
    try {
      parseQuote(quote);
    } catch (error) {
      const checks = [{ name: 'quote-format', ok: false, detail: (error as Error).message }];
      return this.finish({ ok: false, tcbStatus: null, advisoryIds: [], checks, measurements: null, quote: null, collateral: null, ...base });
    }

    const collateral = await this.collateral(quote, flags, at);
    const rootCaDer = flags['root-ca'] ? await readRootCa(flags['root-ca']) : undefined;
    const result = verifyAttestation(quote, eventLog, {
      collateral,
      at,
      rootCaDer,
      expect: {
        composeHash: flags['expect-compose-hash'],
        appId: flags['expect-app-id'],
        mrTd: flags['expect-mrtd'],
        reportData: flags['expect-report-data'],
      },
      binding: remote ? { nodeDid: remote.nodeDid, nonce: remote.nonce } : undefined,
      acceptedTcbStatuses: flags['up-to-date'] ? ['UpToDate'] : TCB_STATUSES.filter((s) => s !== 'Revoked'),
    });
    const { dstack, ...rest } = result;
    return this.finish({ ...rest, ...(dstack ? { dstack } : {}), ...base });
  }

  private async collateral(quote: Uint8Array, flags: { collateral?: string; pccs?: string; 'cache-dir'?: string }, at: Date): Promise<Collateral> {
    try {
      if (flags.collateral) return parseCollateralJson(await readFile(flags.collateral, 'utf8'));
      const cacheDir = flags['cache-dir'] ?? path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'tinycloud', 'collateral');
      return await collateralFromPccs(quote, { pccsUrl: flags.pccs ?? INTEL_PCS, cacheDir, at });
    } catch (error) {
      throw new TinyCloudError('SERVICE_UNAVAILABLE', `Collateral: ${(error as Error).message}`);
    }
  }

  private finish(result: AttestResult): AttestResult {
    if (!result.ok) process.exitCode = EXIT.FAILURE;
    if (!this.jsonEnabled()) this.log(render(result));
    return result;
  }
}

async function readRootCa(file: string): Promise<Uint8Array> {
  const bytes = await readFile(file).catch((error: Error) => {
    throw new TinyCloudError('NOT_FOUND', `Cannot read ${file}: ${error.message}`);
  });
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(bytes.toString('latin1'));
  const der = new Uint8Array(pem ? Buffer.from(pem[1].replace(/\s+/g, ''), 'base64') : bytes);
  guard(() => parseCert(der));
  return der;
}

/** Input that is not a quote at all is a usage error, reported in one line. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw new TinyCloudError('BAD_REQUEST', (error as Error).message);
  }
}

function render(r: AttestResult): string {
  const lines: string[] = [];
  const q = r.quote;
  if (q) lines.push(`${q.teeType} quote v${q.version}${q.fmspc ? `, FMSPC ${q.fmspc}` : ''}; verified as of ${r.verifiedAt}`);
  if (r.node) lines.push(`Node ${r.node.url} (${r.node.nodeDid}), nonce ${r.node.nonce}`);
  const width = Math.max(...r.checks.map((c) => c.name.length));
  for (const c of r.checks) lines.push(`  ${c.ok ? '✓' : '✗'} ${c.name.padEnd(width)}  ${c.detail}`);
  if (r.tcbStatus) lines.push(`TCB status: ${r.tcbStatus}${r.advisoryIds.length ? ` (advisories: ${r.advisoryIds.join(', ')})` : ''}`);
  if (r.measurements) {
    lines.push('Measurements:');
    for (const [k, v] of Object.entries(r.measurements)) lines.push(`  ${k.padEnd(15)} ${v}`);
  }
  if (r.dstack) {
    lines.push('dstack:');
    const d = r.dstack;
    const rows: [string, unknown][] = [['app-id', d.appId], ['compose-hash', d.composeHash], ['instance-id', d.instanceId], ['os-image-hash', d.osImageHash], ['key-provider', d.keyProvider]];
    for (const [k, v] of rows) if (v !== null && v !== undefined) lines.push(`  ${k.padEnd(15)} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    const others = d.events.filter((e) => !['app-id', 'compose-hash', 'instance-id', 'os-image-hash', 'key-provider'].includes(e.event));
    lines.push(`  events          ${others.map((e) => (e.text ? `${e.event}=${e.text}` : e.event)).join(', ')}`);
  }
  const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
  lines.push(failed.length ? `✗ NOT verified: ${failed.join(', ')} failed` : '✓ verified');
  return lines.join('\n');
}
