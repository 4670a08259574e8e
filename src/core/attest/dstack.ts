import { bindingReportDataHex } from './binding.js';
import { bytesEqual, fromHex, isAllZero, toHex } from './bytes.js';
import { CheckList } from './checks.js';
import { parseEventLog, replayEventLog, type Replay, type RuntimeEvent } from './event-log.js';
import { parseQuote } from './quote.js';
import { verifyQuote, type QuoteVerification, type VerifyQuoteOptions } from './verify.js';

/** Values a verifier insists on; each given pin becomes a required check. Hex, case and `0x` ignored. */
export interface DstackPins {
  composeHash?: string;
  appId?: string;
  mrTd?: string;
  /** Compared with the quote's 64-byte report data; a shorter pin must match with zero padding. */
  reportData?: string;
}

export interface DstackInfo {
  appId: string | null;
  composeHash: string | null;
  instanceId: string | null;
  osImageHash: string | null;
  keyProvider: unknown;
  events: (RuntimeEvent & { text: string | null })[];
}

export interface DstackVerification extends QuoteVerification {
  dstack: DstackInfo | null;
}

export interface AttestationOptions extends VerifyQuoteOptions {
  expect?: DstackPins;
  /** The node and nonce the report data must bind (`tinycloud attest --node`); see binding.ts. */
  binding?: { nodeDid: string; nonce: string };
}

/**
 * Verify a quote (Intel rules) and, given a dstack event log, replay it against the quote's RTMRs and check
 * MRCONFIGID against the compose hash; then any pins and the node binding, each as its own check.
 */
export function verifyAttestation(
  quoteBytes: Uint8Array,
  eventLog: string | null,
  options: AttestationOptions,
): DstackVerification {
  const base = verifyQuote(quoteBytes, options);
  const checks = new CheckList();
  checks.items.push(...base.checks);
  if (!base.quote) return { ...base, dstack: null };
  const quote = parseQuote(quoteBytes);
  if (quote.body.kind === 'sgx') return { ...base, dstack: null };
  const td = quote.body.td;

  const replayed = eventLog === null ? null : replayLog(eventLog);
  const info = replayed && 'replay' in replayed ? describe(replayed.replay.runtimeEvents) : null;
  if (replayed) checks.run('event-log-replay', () => {
    if (!('replay' in replayed)) return { ok: false, detail: `event log does not parse: ${replayed.error}` };
    const { replay } = replayed;
    if (replay.problems.length) return { ok: false, detail: replay.problems.join('; ') };
    const mismatched = [0, 1, 2, 3].filter((i) => !bytesEqual(replay.rtmr[i], td.rtmr[i]));
    if (mismatched.length) {
      return { ok: false, detail: `replayed ${mismatched.map((i) => `RTMR${i}`).join(', ')} differ from the quote` };
    }
    return { ok: true, detail: `RTMR0–3 reproduced; ${replay.runtimeEvents.length} runtime events` };
  });

  if (replayed) checks.run('mr-config-id', () => {
    if (isAllZero(td.mrConfigId)) return { ok: true, detail: 'not set' };
    const compose = info?.composeHash;
    if (!compose) return { ok: false, detail: 'MRCONFIGID is set but the event log has no compose-hash' };
    const expected = new Uint8Array(48);
    expected[0] = 0x01;
    expected.set(fromHex(compose).subarray(0, 47), 1);
    const ok = bytesEqual(expected, td.mrConfigId);
    return { ok, detail: ok ? '01 ‖ compose hash' : `MRCONFIGID ${toHex(td.mrConfigId)} ≠ 01 ‖ compose hash` };
  });

  const pins = options.expect ?? {};
  const pin = (name: string, want: string | undefined, actual: string | null | undefined, pad = 0) => {
    if (want === undefined) return;
    checks.run(name, () => {
      const w = toHex(fromHex(want));
      const a = actual ?? '';
      const ok = a !== '' && (pad ? w.padEnd(pad * 2, '0') === a : w === a);
      return { ok, detail: ok ? w : `expected ${w}, got ${a || (replayed ? 'none' : 'no event log')}` };
    });
  };
  pin('expect-compose-hash', pins.composeHash, info?.composeHash);
  pin('expect-app-id', pins.appId, info?.appId);
  pin('expect-mrtd', pins.mrTd, toHex(td.mrTd));
  pin('expect-report-data', pins.reportData, toHex(td.reportData), 64);
  const binding = options.binding;
  if (binding) {
    checks.run('report-data-binding', () => {
      const expected = bindingReportDataHex(binding.nodeDid, binding.nonce);
      const ok = expected === toHex(td.reportData);
      return { ok, detail: ok ? `binds ${binding.nodeDid} and the nonce` : `report data does not bind ${binding.nodeDid} and nonce ${binding.nonce}` };
    });
  }

  return { ...base, ok: checks.ok, checks: checks.items, dstack: info };
}

function replayLog(eventLog: string): { replay: Replay } | { error: string } {
  try {
    return { replay: replayEventLog(parseEventLog(eventLog)) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

function describe(events: RuntimeEvent[]): DstackInfo {
  const last = (name: string) => events.filter((e) => e.event === name).at(-1)?.payloadHex ?? null;
  const keyProviderHex = last('key-provider');
  let keyProvider: unknown = null;
  if (keyProviderHex !== null) {
    const text = Buffer.from(keyProviderHex, 'hex').toString('utf8');
    try {
      keyProvider = JSON.parse(text);
    } catch {
      keyProvider = keyProviderHex;
    }
  }
  return {
    appId: last('app-id'),
    composeHash: last('compose-hash'),
    instanceId: last('instance-id'),
    osImageHash: last('os-image-hash'),
    keyProvider,
    events: events.map((e) => ({ ...e, text: printable(e.payloadHex) })),
  };
}

function printable(hex: string): string | null {
  if (!hex) return null;
  const text = Buffer.from(hex, 'hex').toString('utf8');
  return /^[\x20-\x7e]+$/.test(text) ? text : null;
}
