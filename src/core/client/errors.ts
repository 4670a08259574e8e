/**
 * What went wrong talking to a node, in the terms a caller acts on. `kind` picks the remedy (and the CLI's exit
 * code); `hint` says what to do next; `missing` names the capability a 401/403 `Unauthorized Action` lacked.
 */
export type ClientErrorKind =
  /** The caller's input cannot work (bad flag value, unreadable key file, malformed token). */
  | 'usage'
  /** The node refused the authorization (bad signature, missing capability, revoked or expired delegation). */
  | 'auth'
  /** The space, key or delegation does not exist there. */
  | 'not-found'
  /** The node failed, or could not be reached. */
  | 'server'
  /** Anything else the node refused (quota, precondition, conflict). */
  | 'failure';

export interface Capability {
  readonly resource: string;
  readonly ability: string;
}

export class ClientError extends Error {
  readonly kind: ClientErrorKind;
  /** Stable machine-readable code, e.g. `UNAUTHORIZED_ACTION`, `SPACE_NOT_FOUND`, `NETWORK`. */
  readonly code: string;
  /** HTTP status, when a node answered. */
  readonly status?: number;
  readonly hint?: string;
  readonly missing?: Capability;

  constructor(kind: ClientErrorKind, code: string, message: string, extra: { status?: number; hint?: string; missing?: Capability } = {}) {
    super(message);
    this.name = 'ClientError';
    this.kind = kind;
    this.code = code;
    this.status = extra.status;
    this.hint = extra.hint;
    this.missing = extra.missing;
  }
}

export const usageError = (message: string, hint?: string): ClientError => new ClientError('usage', 'USAGE', message, { hint });

/** The regex the SDK uses on 401/403 bodies (WIRE §0). */
const UNAUTHORIZED_ACTION = /^Unauthorized Action:\s*(.+?)\s*\/\s*(tinycloud\.\S+)$/;

/** Context that turns a bare status line into advice. */
export interface FailureContext {
  /** What was being attempted, e.g. `kv put photos/a.jpg`. */
  readonly action: string;
  readonly node: string;
  /** The space the request addressed, for the `delegate host` hint. */
  readonly space?: { readonly id: string; readonly name: string };
  /** Who signed: the key that would need the grant. */
  readonly invoker?: string;
}

/** Map a node's error answer (status + `text/plain` body) to a typed failure (WIRE §0 status map). */
export function failureFromResponse(status: number, body: string, context: FailureContext): ClientError {
  const text = body.trim().slice(0, 2000) || `HTTP ${status}`;
  const at = `${context.action} on ${context.node}`;
  if (status === 401 || status === 403) {
    const m = UNAUTHORIZED_ACTION.exec(text);
    if (m) {
      const missing = { resource: m[1] as string, ability: m[2] as string };
      const who = context.invoker ? `${context.invoker} does not hold` : 'missing capability';
      return new ClientError('auth', 'UNAUTHORIZED_ACTION', `${at}: ${who} ${missing.ability} on ${missing.resource}`, {
        status,
        missing,
        hint: `Ask the space owner for a delegation, e.g. tinycloud delegate --to <your DID> --ability ${shortAbility(missing.ability)} --path <prefix>`,
      });
    }
    const revoked = /^delegation-(?:revoked|ancestor-revoked|parent-revoked)(?::\s*(\S+))?/.exec(text);
    if (revoked) {
      const which = revoked[1] ? `delegation ${revoked[1]}` : 'a delegation in the chain';
      return new ClientError('auth', 'REVOKED', `${at}: ${which} has been revoked`, { status, hint: 'Ask the delegator for a new delegation.' });
    }
    if (/expired|not yet valid/i.test(text)) {
      return new ClientError('auth', 'EXPIRED', `${at}: ${text}`, { status, hint: 'A delegation in the chain is outside its validity window; check --expires/--not-before and the clocks.' });
    }
    if (/Cannot find parent delegation/.test(text)) {
      return new ClientError('auth', 'PROOF_NOT_FOUND', `${at}: ${text}`, {
        status,
        hint: 'The node does not know the proof: pass the delegation token itself with --proof (it is registered first), or register it with tinycloud delegate … --node.',
      });
    }
    return new ClientError('auth', 'UNAUTHORIZED', `${at}: ${text}`, { status });
  }
  if (status === 404) {
    if (/space not found/i.test(text)) {
      const space = context.space;
      return new ClientError('not-found', 'SPACE_NOT_FOUND', `${at}: space ${space?.id ?? ''} is not hosted on this node`.replace(/ {2}/g, ' '), {
        status,
        hint: `The owner hosts it with: tinycloud delegate host --node ${context.node}${space && space.name !== 'default' ? ` --space ${space.name}` : ''}`,
      });
    }
    if (/^No Such Key/i.test(text)) return new ClientError('not-found', 'KEY_NOT_FOUND', `${at}: ${text}`, { status });
    return new ClientError('not-found', 'NOT_FOUND', `${at}: ${text}`, { status });
  }
  if (status === 400) return new ClientError('usage', 'BAD_REQUEST', `${at}: ${text}`, { status });
  if (status === 402 || status === 413) {
    return new ClientError('failure', status === 402 ? 'QUOTA_EXHAUSTED' : 'TOO_LARGE', `${at}: ${text}`, { status });
  }
  if (status === 409) return new ClientError('failure', 'CONFLICT', `${at}: ${text}`, { status });
  if (status === 412) return new ClientError('failure', 'PRECONDITION_FAILED', `${at}: ${text}`, { status });
  if (status >= 500) return new ClientError('server', 'SERVER_ERROR', `${at}: the node answered ${status}: ${text}`, { status });
  return new ClientError('failure', 'HTTP_ERROR', `${at}: the node answered ${status}: ${text}`, { status });
}

/** `tinycloud.kv/put` → `kv/put`: the form the CLI's --ability accepts. */
export const shortAbility = (ability: string): string => (ability.startsWith('tinycloud.') ? ability.slice('tinycloud.'.length) : ability);

/** A socket-level failure (refused, reset, DNS, timeout). */
export function networkFailure(error: Error & { code?: string }, node: string, action: string): ClientError {
  const why = error.code ? `${error.code}${error.message && !error.message.includes(error.code) ? ` (${error.message})` : ''}` : error.message;
  return new ClientError('server', 'NETWORK', `${action}: cannot reach ${node}: ${why}`, {
    hint: 'Check --node and that the node is running.',
  });
}
