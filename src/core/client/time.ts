import { parseRfc3339 } from '../auth/time.js';
import { usageError } from './errors.js';

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const DURATION = /^(\d+(?:\.\d+)?)([smhdw])$/;

/** `90s`, `15m`, `2h`, `7d`, `1w` in seconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  return m ? Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number) : undefined;
}

/**
 * A point in time given as a duration from `now` (`90s`, `7d`) or an RFC 3339 timestamp, as epoch seconds
 * (whole seconds, so the SIWE text has no fraction).
 */
export function parseTimeSpec(text: string, flag: string, now: number): number {
  const duration = parseDuration(text);
  if (duration !== undefined) return Math.floor(now + duration);
  const at = parseRfc3339(text.trim());
  if (at === undefined) {
    throw usageError(`${flag} ${text} is neither a duration nor an RFC 3339 time`, 'Write e.g. 90s, 15m, 2h, 7d, 1w, or 2026-07-01T00:00:00Z.');
  }
  return at;
}

/** RFC 3339 in UTC without milliseconds, the way SIWE timestamps are usually written. */
export const rfc3339 = (seconds: number): string => new Date(Math.floor(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const nowSeconds = (): number => Date.now() / 1000;
