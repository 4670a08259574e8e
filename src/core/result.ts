import { TinyCloudError, type ErrorCode } from './errors.js';

/** Checks return values, not booleans: callers see which rule failed and map it once, at the edge. */
export type Result<T, E = TinyCloudError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });

export const err = (code: ErrorCode, message: string): Result<never> => ({
  ok: false,
  error: new TinyCloudError(code, message),
});

export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw result.error;
}
