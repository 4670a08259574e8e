import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AuthorizedInvocation, ControlInvocation } from '../core/auth/engine/types.js';
import type { SignedEnvelope } from '../core/auth/types.js';
import { TinyCloudError } from '../core/errors.js';
import type { TinyCloudNode } from '../core/node.js';
import { unwrap } from '../core/result.js';
import { decodeEitherDialect } from './legacy.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `invocationGuard` before the handler runs. */
    invocation?: AuthorizedInvocation;
    /** Set by `controlGuard` before the handler runs. */
    control?: ControlInvocation;
  }
}

/**
 * The `Authorization` value, refusing a request that carries the header twice: Node keeps the first and drops
 * the rest, while a proxy in front may have checked the last, so either choice would be a guess.
 */
export function authorizationHeader(request: FastifyRequest): string | undefined {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') count++;
  if (count > 1) throw new TinyCloudError('BAD_REQUEST', 'More than one Authorization header');
  return request.headers.authorization;
}

/**
 * The raw token from the one `Authorization` header (WIRE §2.1): no `Bearer ` prefix is stripped, since the
 * reference node would not accept one either; saying so beats an opaque decode error.
 */
function readAuthorization(request: FastifyRequest): string {
  const header = authorizationHeader(request);
  if (header === undefined || header.length === 0) throw new TinyCloudError('AUTH_MISSING', 'Missing Authorization header');
  if (/^bearer\s/i.test(header)) {
    throw new TinyCloudError('AUTH_MALFORMED', 'Authorization must be the raw token, without a Bearer prefix');
  }
  return header;
}

/** Decode (either dialect) the envelope in `Authorization`, for `/delegate` and `/revoke`; nothing is verified yet. */
export async function authorizationEnvelope(request: FastifyRequest): Promise<SignedEnvelope> {
  return unwrap(await decodeEitherDialect(readAuthorization(request)));
}

/**
 * preHandler for `/invoke` and every invocation route: the handler runs only for an authorized, first-use
 * invocation, available as `request.invocation`. Bodies are not read before this runs.
 */
export function invocationGuard(node: TinyCloudNode): preHandlerAsyncHookHandler {
  return async (request) => {
    const envelope = await authorizationEnvelope(request);
    request.invocation = unwrap(await node.auth.authorizeInvocation(envelope));
  };
}

/** preHandler for delegation-control routes (`/delegation/status`): one `action` on `urn:cid:…`, by control proof. */
export function controlGuard(node: TinyCloudNode, action: string): preHandlerAsyncHookHandler {
  return async (request) => {
    const envelope = await authorizationEnvelope(request);
    request.control = unwrap(await node.auth.authorizeControl(envelope, action));
  };
}

/** The invocation the guard attached; a route without the guard is a bug, not a client error. */
export function authorizedInvocation(request: FastifyRequest): AuthorizedInvocation {
  if (!request.invocation) throw new Error(`route ${request.routeOptions.url ?? request.url} is missing invocationGuard`);
  return request.invocation;
}

export function controlInvocation(request: FastifyRequest): ControlInvocation {
  if (!request.control) throw new Error(`route ${request.routeOptions.url ?? request.url} is missing controlGuard`);
  return request.control;
}
