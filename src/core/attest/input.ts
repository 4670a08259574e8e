import { fromHex, isHexText } from './bytes.js';

/** A dstack guest agent `GetQuote` response. `event_log` is a JSON string holding the event array. */
export interface DstackQuoteResponse {
  quote: string;
  event_log: string;
  report_data?: string;
  vm_config?: string;
}

export type QuoteInput =
  | { kind: 'binary' | 'hex'; quote: Uint8Array }
  | { kind: 'dstack'; quote: Uint8Array; response: DstackQuoteResponse };

export class QuoteInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuoteInputError';
  }
}

/**
 * Tell a quote file's format from its content: dstack GetQuote JSON, hex text (optional `0x`, surrounding
 * whitespace allowed), or the raw binary quote.
 */
export function decodeQuoteInput(bytes: Uint8Array): QuoteInput {
  const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, 64))).toString('latin1').trimStart();
  if (head.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      throw new QuoteInputError('input looks like JSON but does not parse');
    }
    return dstackInput(json);
  }
  if (bytes.length >= 2 && bytes[1] === 0 && bytes[0] >= 3 && bytes[0] <= 5) return { kind: 'binary', quote: bytes };
  const text = Buffer.from(bytes).toString('latin1');
  if (isHexText(text)) return { kind: 'hex', quote: fromHex(text) };
  throw new QuoteInputError('input is neither a binary quote, hex text, nor dstack GetQuote JSON');
}

export function dstackInput(json: unknown): QuoteInput & { kind: 'dstack' } {
  const r = json as Partial<DstackQuoteResponse> | null;
  if (!r || typeof r.quote !== 'string' || !isHexText(r.quote)) {
    throw new QuoteInputError('GetQuote JSON needs a hex "quote" field');
  }
  if (r.event_log !== undefined && typeof r.event_log !== 'string') {
    throw new QuoteInputError('GetQuote "event_log" must be a JSON string');
  }
  return { kind: 'dstack', quote: fromHex(r.quote), response: { ...r, quote: r.quote, event_log: r.event_log ?? '[]' } };
}
