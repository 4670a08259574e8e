import { fromHex, sha384, toHex } from './bytes.js';

/** dstack's own event type for runtime events (RTMR3); not a TCG type. */
export const DSTACK_RUNTIME_EVENT_TYPE = 0x08000001;
const MR_LEN = 48;

/** One entry of a dstack event log (the `event_log` JSON of GetQuote). */
export interface DstackEvent {
  imr: number;
  event_type: number;
  digest: string;
  event: string;
  event_payload: string;
  version?: number;
}

export interface RuntimeEvent {
  event: string;
  payloadHex: string;
  digestGiven: boolean;
}

export interface Replay {
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  runtimeEvents: RuntimeEvent[];
  /** Events that could not be replayed faithfully; non-empty means the replay is not trustworthy. */
  problems: string[];
}

export function parseEventLog(text: string): DstackEvent[] {
  const events = JSON.parse(text) as unknown;
  if (!Array.isArray(events)) throw new Error('event log is not a JSON array');
  return events.map((e: any, i) => {
    const imr = Number(e?.imr);
    if (!Number.isInteger(imr) || imr < 0 || imr > 3) throw new Error(`event ${i}: imr must be 0..3`);
    return {
      imr,
      event_type: Number(e.event_type),
      digest: typeof e.digest === 'string' ? e.digest : '',
      event: typeof e.event === 'string' ? e.event : '',
      event_payload: typeof e.event_payload === 'string' ? e.event_payload : '',
      ...(e.version !== undefined ? { version: Number(e.version) } : {}),
    };
  });
}

/** dstack's runtime event digest: SHA-384(le32(event_type) ‖ ":" ‖ name ‖ ":" ‖ payload). */
export function runtimeEventDigest(eventType: number, name: string, payload: Uint8Array): Uint8Array {
  const type = Buffer.alloc(4);
  type.writeUInt32LE(eventType >>> 0);
  return sha384(type, Buffer.from(`:${name}:`, 'utf8'), payload);
}

/** RTMR extend: rtmr = SHA-384(rtmr ‖ digest), with the digest zero-padded to 48 bytes. */
export function extend(mr: Uint8Array, digest: Uint8Array): Uint8Array {
  if (digest.length > MR_LEN) throw new Error('digest longer than 48 bytes');
  const padded = new Uint8Array(MR_LEN);
  padded.set(digest);
  return sha384(mr, padded);
}

/**
 * Replay the log into RTMR0–3 from zero. Runtime events are measured from their payloads (a given digest must
 * agree), so the names and payloads reported are exactly what RTMR3 commits to.
 */
export function replayEventLog(events: DstackEvent[]): Replay {
  const rtmr = [0, 1, 2, 3].map(() => new Uint8Array(MR_LEN)) as Replay['rtmr'];
  const runtimeEvents: RuntimeEvent[] = [];
  const problems: string[] = [];
  events.forEach((e, i) => {
    let digest: Uint8Array;
    try {
      if (e.event_type === DSTACK_RUNTIME_EVENT_TYPE) {
        if (e.version !== undefined && e.version !== 1) {
          problems.push(`event ${i} (${e.event}): unknown runtime event version ${e.version}`);
          return;
        }
        const payload = fromHex(e.event_payload);
        digest = runtimeEventDigest(e.event_type, e.event, payload);
        if (e.digest && toHex(fromHex(e.digest)) !== toHex(digest)) {
          problems.push(`event ${i} (${e.event}): digest does not match its payload`);
        }
        if (e.imr === 3) runtimeEvents.push({ event: e.event, payloadHex: toHex(payload), digestGiven: e.digest !== '' });
      } else {
        if (!e.digest) {
          problems.push(`event ${i} (RTMR${e.imr}, type ${e.event_type}) has no digest`);
          return;
        }
        digest = fromHex(e.digest);
      }
      rtmr[e.imr] = extend(rtmr[e.imr], digest);
    } catch (err) {
      problems.push(`event ${i}: ${(err as Error).message}`);
    }
  });
  return { rtmr, runtimeEvents, problems };
}
