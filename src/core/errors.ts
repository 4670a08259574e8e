/**
 * The one error registry. Every failure the engine reports has a stable code, an HTTP status the daemon maps
 * it to, and a plain-text message safe to show a client. Codes are never reused once retired.
 */
export const ERRORS = {
  // 400
  BAD_REQUEST: 400,
  INVALID_SPACE_ID: 400,
  INVALID_RESOURCE: 400,
  INVALID_KEY: 400,
  MISSING_INPUT: 400,
  SQL_INVALID: 400,
  /** A CAR import refused: a block fails its hash, the history does not verify, the file is truncated. */
  CAR_INVALID: 400,
  // 401
  AUTH_MISSING: 401,
  AUTH_MALFORMED: 401,
  AUTH_BAD_SIGNATURE: 401,
  AUTH_TIME_INVALID: 401,
  AUTH_EXPIRED: 401,
  AUTH_NOT_YET_VALID: 401,
  AUTH_INVALID_RECAP: 401,
  AUTH_UNSUPPORTED: 401,
  AUTH_LIFETIME_EXCEEDED: 401,
  AUTH_UNAUTHORIZED_ACTION: 401,
  AUTH_PARENT_NOT_FOUND: 401,
  AUTH_UNAUTHORIZED_DELEGATOR: 401,
  AUTH_UNAUTHORIZED_INVOKER: 401,
  AUTH_UNAUTHORIZED_CAPABILITY: 401,
  AUTH_EXPIRY_EXCEEDS_PARENT: 401,
  AUTH_REVOKED: 401,
  AUTH_TERMINAL_PARENT: 401,
  AUTH_CAVEAT_ESCALATION: 401,
  AUTH_CHAIN_TOO_LONG: 401,
  AUTH_NOT_BEFORE_PARENT: 401,
  SIGNED_URL_INVALID: 401,
  ADMIN_UNAUTHORIZED: 401,
  // 402
  QUOTA_EXHAUSTED: 402,
  // 403
  FORBIDDEN: 403,
  SQL_PERMISSION_DENIED: 403,
  REVOKE_FORBIDDEN: 403,
  SPACE_NOT_ALLOWED: 403,
  // 404
  SPACE_NOT_FOUND: 404,
  KV_NOT_FOUND: 404,
  NOT_FOUND: 404,
  DELEGATION_NOT_FOUND: 404,
  // 408
  /** An SQL invocation's statements ran past `storage.sql.timeout_secs` and were stopped (their executor killed). */
  SQL_TIMEOUT: 408,
  // 409
  DUPLICATE_INVOCATION: 409,
  CONFLICT: 409,
  // 412
  PRECONDITION_FAILED: 412,
  // 413
  QUOTA_EXCEEDED: 413,
  TOO_LARGE: 413,
  // 416
  RANGE_NOT_SATISFIABLE: 416,
  // 429
  RATE_LIMITED: 429,
  // 500
  INTERNAL: 500,
  STORAGE_UNAVAILABLE: 500,
  // 501
  NOT_IMPLEMENTED: 501,
  // 503
  SERVICE_UNAVAILABLE: 503,
  ADMIN_DISABLED: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERRORS;

export class TinyCloudError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers or fields a route may expose (never secrets). */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'TinyCloudError';
    this.code = code;
    this.status = ERRORS[code];
    this.details = details;
  }
}

export function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new TinyCloudError(code, message, details);
}

export function isTinyCloudError(err: unknown): err is TinyCloudError {
  return err instanceof TinyCloudError;
}
