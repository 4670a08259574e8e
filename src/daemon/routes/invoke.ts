import type { FastifyInstance } from 'fastify';
import type { TinyCloudNode } from '../../core/node.js';
import { authorizedInvocation, invocationGuard } from '../auth-guard.js';
import { dispatchInvocation } from '../invoke/dispatch.js';

/** `POST /invoke` (WIRE §1.6): authorized by the guard, then served by the first matching service. */
export function registerInvokeRoute(app: FastifyInstance, node: TinyCloudNode): void {
  app.post('/invoke', { preHandler: invocationGuard(node) }, async (request, reply) =>
    dispatchInvocation({ node, invocation: authorizedInvocation(request), request, reply }),
  );
}
