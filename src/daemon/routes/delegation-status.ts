import type { FastifyInstance } from 'fastify';
import { STATUS_ABILITY } from '../../core/auth/engine/index.js';
import { TinyCloudError } from '../../core/errors.js';
import type { TinyCloudNode } from '../../core/node.js';
import { unwrap } from '../../core/result.js';
import { controlGuard, controlInvocation } from '../auth-guard.js';
import { isJsonRequest, readJsonBody } from '../json-body.js';

/**
 * `POST /delegation/status` (WIRE §2.10): `{cid}` → the delegation's lifecycle, 404 `not_found` when it is
 * missing or the caller may not see it. Like the reference, it only exists for `Content-Type: application/json`.
 */
export function registerDelegationStatusRoute(app: FastifyInstance, node: TinyCloudNode): void {
  app.post('/delegation/status', {
    onRequest: async (request, reply) => {
      if (!isJsonRequest(request)) return reply.callNotFound();
    },
    preHandler: controlGuard(node, STATUS_ABILITY),
    handler: async (request, reply) => {
      const body = (await readJsonBody(request)) as { cid?: unknown } | null;
      if (typeof body?.cid !== 'string') throw new TinyCloudError('BAD_REQUEST', 'Body must be {"cid": "<cid>"}');
      const status = unwrap(await node.auth.delegationStatus(controlInvocation(request), body.cid));
      return reply.code(status.exists ? 200 : 404).send(status);
    },
  });
}
