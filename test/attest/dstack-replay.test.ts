import { describe, expect, test } from 'vitest';
import { toHex } from '../../src/core/attest/bytes.js';
import { verifyAttestation, type DstackPins } from '../../src/core/attest/dstack.js';
import { parseEventLog, replayEventLog, runtimeEventDigest } from '../../src/core/attest/event-log.js';
import { decodeQuoteInput } from '../../src/core/attest/input.js';
import { parseQuote } from '../../src/core/attest/quote.js';
import { readVector } from '../support/vectors.js';
import { caseFor, collateral } from './support.js';

const load = (file: string) => {
  const input = decodeQuoteInput(readVector('attestation', file));
  if (input.kind !== 'dstack') throw new Error('not a dstack file');
  return input;
};
const failing = (r: { checks: { name: string; ok: boolean }[] }) => r.checks.filter((x) => !x.ok).map((x) => x.name);

describe.each(['dstack_getquote_with_digests.json', 'dstack_getquote_tdx_lite.json'])('%s', (file) => {
  const c = caseFor(file);
  const input = load(file);
  const events = parseEventLog(input.response.event_log);
  const td = (parseQuote(input.quote).body as { td: { rtmr: Uint8Array[] } }).td;

  test('replaying every event reproduces RTMR0–3 of the quote exactly', () => {
    const replay = replayEventLog(events);
    expect(events.length).toBe((c.eventLog as { events: number }).events);
    expect(replay.problems).toEqual([]);
    expect(replay.rtmr.map(toHex)).toEqual(td.rtmr.map(toHex));
    expect(replay.rtmr.map(toHex)).toEqual([c.rtmr0, c.rtmr1, c.rtmr2, c.rtmr3]);
  });

  test('runtime events are the expected names and payloads', () => {
    const expected = (c.eventLog as { runtimeEvents: { event: string; payloadHex: string; digestGiven: boolean }[] })
      .runtimeEvents;
    expect(replayEventLog(events).runtimeEvents).toEqual(
      expected.map(({ event, payloadHex, digestGiven }) => ({ event, payloadHex, digestGiven })),
    );
  });

  test('given runtime digests equal the recomputed ones', () => {
    for (const e of events.filter((x) => x.imr === 3 && x.digest)) {
      expect(toHex(runtimeEventDigest(e.event_type, e.event, Buffer.from(e.event_payload, 'hex')))).toBe(e.digest);
    }
  });

  test('changing one runtime payload breaks the replay against the quote', () => {
    const tampered = events.map((e) => (e.event === 'compose-hash' ? { ...e, event_payload: e.event_payload.replace(/^./, (d) => (d === '0' ? '1' : '0')), digest: '' } : e));
    const r = verifyAttestation(input.quote, JSON.stringify(tampered), {
      collateral: collateral(c.collateral),
      at: new Date(c.verifyAt),
    });
    expect(failing(r)).toContain('event-log-replay');
    expect(r.checks.find((x) => x.name === 'event-log-replay')?.detail).toMatch(/RTMR3 differ/);
  });
});

test('with digests: the full verification passes and reports the dstack identity', () => {
  const c = caseFor('dstack_getquote_with_digests.json');
  const input = load(c.quote);
  const r = verifyAttestation(input.quote, input.response.event_log, {
    collateral: collateral(c.collateral),
    at: new Date(c.verifyAt),
    expect: { reportData: '1234', appId: '3763bc34552cf3a27ff71ad5f7a90471562a1a2d', mrTd: c.mrTd as string },
  });
  expect(failing(r)).toEqual([]);
  expect(r.ok).toBe(true);
  expect(r.tcbStatus).toBe('UpToDate');
  expect(r.dstack).toMatchObject({
    appId: '3763bc34552cf3a27ff71ad5f7a90471562a1a2d',
    composeHash: '3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7',
    instanceId: 'c3714eb66990eace777b4e664c16e09375dec4c9',
    osImageHash: null,
    keyProvider: { name: 'local-sgx' },
  });
  expect(r.dstack?.events.at(-1)).toMatchObject({ event: 'LIUM_MINER_HOTKEY', text: expect.stringMatching(/^5D33/) });
  expect(r.checks.find((x) => x.name === 'mr-config-id')?.detail).toBe('not set');
});

describe('tdx-lite: recomputed digests, MRCONFIGID and pins', () => {
  const c = caseFor('dstack_getquote_tdx_lite.json');
  const input = load(c.quote);
  const compose = '86b0e55f2fa8e4fb69d890f14f54d5612707646e2573d54e0d2ddaaade77caa9';
  const run = (expect?: DstackPins, eventLog: string = input.response.event_log) =>
    verifyAttestation(input.quote, eventLog, { collateral: collateral(c.collateral), at: new Date(c.verifyAt), expect });

  test('only the PCK certificate date fails; dstack checks pass and the identity is reported', () => {
    const r = run({ composeHash: compose, appId: '0x86b0e55f2fa8e4fb69d890f14f54d5612707646e', reportData: c.reportData as string });
    expect(failing(r)).toEqual(['certificate-validity']);
    expect(r.checks.find((x) => x.name === 'mr-config-id')).toMatchObject({ ok: true, detail: '01 ‖ compose hash' });
    expect(r.dstack).toMatchObject({
      appId: '86b0e55f2fa8e4fb69d890f14f54d5612707646e',
      composeHash: compose,
      instanceId: '050bf89570575fe8fab4cb8f0a62a9e64efe8ead',
      osImageHash: '07a2388c7a6a1b6a646d443f1517990a4ec294471d63146cda9d56972765051d',
      keyProvider: { name: 'kms' },
    });
    expect(Buffer.from(c.reportData as string, 'hex').toString()).toBe('dip1::secp256k1c-pk:A55pWmteJIJOj8_pI7-pzeDxy1G2q18GDv88HNRdBXkQ');
  });

  test('pins that do not match each fail under their own name', () => {
    const r = run({ composeHash: '00'.repeat(32), appId: '11'.repeat(20), mrTd: '22'.repeat(48), reportData: '1234' });
    expect(failing(r)).toEqual(['certificate-validity', 'expect-compose-hash', 'expect-app-id', 'expect-mrtd', 'expect-report-data']);
  });

  test('a compose-hash event that disagrees with MRCONFIGID fails the MRCONFIGID check', () => {
    const events = parseEventLog(input.response.event_log).map((e) =>
      e.event === 'compose-hash' ? { ...e, event_payload: '00'.repeat(32) } : e,
    );
    const r = run(undefined, JSON.stringify(events));
    expect(failing(r)).toEqual(expect.arrayContaining(['event-log-replay', 'mr-config-id']));
  });

  test('a given runtime digest that disagrees with its payload is named', () => {
    const events = parseEventLog(input.response.event_log).map((e) =>
      e.event === 'app-id' ? { ...e, digest: 'ab'.repeat(48) } : e,
    );
    const r = run(undefined, JSON.stringify(events));
    expect(r.checks.find((x) => x.name === 'event-log-replay')?.detail).toMatch(/\(app-id\): digest does not match its payload/);
  });

  test('an unparseable event log fails the replay check, not the run', () => {
    expect(failing(run(undefined, 'not json'))).toContain('event-log-replay');
  });
});

describe('a plain quote (no event log)', () => {
  const c = caseFor('tdx_v4_quote.bin');
  const bytes = decodeQuoteInput(readVector('attestation', c.quote)).quote;
  const run = (options: Omit<Parameters<typeof verifyAttestation>[2], 'collateral'>) =>
    verifyAttestation(bytes, null, { collateral: collateral(c.collateral), at: new Date(c.verifyAt), ...options });

  test('MRTD and report data pins apply; event-log pins fail for want of a log', () => {
    const r = run({ expect: { mrTd: `0x${(c.mrTd as string).toUpperCase()}`, reportData: c.reportData as string, composeHash: '00'.repeat(32) } });
    expect(failing(r)).toEqual(['expect-compose-hash']);
    expect(r.checks.find((x) => x.name === 'expect-compose-hash')?.detail).toMatch(/no event log/);
    expect(r.checks.some((x) => x.name === 'event-log-replay')).toBe(false);
  });

  test('the node binding check fails for a quote made for other report data', () => {
    const r = run({ binding: { nodeDid: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', nonce: 'abc' } });
    expect(failing(r)).toEqual(['report-data-binding']);
  });
});
