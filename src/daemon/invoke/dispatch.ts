import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthorizedInvocation } from '../../core/auth/engine/types.js';
import { TinyCloudError } from '../../core/errors.js';
import type { TinyCloudNode } from '../../core/node.js';
import { capabilitiesReadHandler } from './capabilities.js';
import { kvHandler } from './kv.js';
import { spaceCarHandler } from './space-car.js';
import { sqlHandler } from './sql.js';

/** What a service handler gets: the invocation is already authorized and consumed (single use). */
export interface InvokeContext {
  readonly node: TinyCloudNode;
  readonly invocation: AuthorizedInvocation;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

export interface InvokeHandler {
  readonly name: string;
  /** Claims the invocation; the first handler that matches serves it. */
  matches(invocation: AuthorizedInvocation): boolean;
  handle(ctx: InvokeContext): Promise<unknown>;
}

/**
 * `/invoke` dispatch (WIRE §1.6), tried in order: encryption decrypt, then SQL, then DuckDB, then KV and
 * capabilities. Services add their entry here in that order.
 */
export const INVOKE_HANDLERS: InvokeHandler[] = [spaceCarHandler, capabilitiesReadHandler, sqlHandler, kvHandler];

/** Services only a registered handler may answer: without one, the node says so instead of faking success. */
const SERVED_BY_HANDLERS = new Set(['kv', 'sql', 'duckdb']);

/**
 * Serve an authorized invocation. Nothing matched and no data service named: answer 200 with an empty body,
 * as the reference does for the `tinycloud.space/*` probes (the space is known to exist by now).
 */
export async function dispatchInvocation(ctx: InvokeContext): Promise<unknown> {
  // One invocation, one outcome: KV and SQL together would have one of them silently ignored (WIRE §0: 501).
  const services = new Set(ctx.invocation.capabilities.flatMap((c) => (c.target.kind === 'tinycloud' && SERVED_BY_HANDLERS.has(c.target.service) ? [c.target.service] : [])));
  if (services.size > 1) {
    throw new TinyCloudError('NOT_IMPLEMENTED', `One invocation cannot combine the ${[...services].sort().join(' and ')} services; send one invocation per service`);
  }
  const handler = INVOKE_HANDLERS.find((h) => h.matches(ctx.invocation));
  if (handler) return handler.handle(ctx);
  const unserved = ctx.invocation.capabilities.find((c) => c.target.kind === 'tinycloud' && SERVED_BY_HANDLERS.has(c.target.service));
  if (unserved && unserved.target.kind === 'tinycloud') {
    throw new TinyCloudError('NOT_IMPLEMENTED', `The ${unserved.target.service} service is not available on this node`);
  }
  return ctx.reply.code(200).send();
}
