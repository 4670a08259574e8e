import type { FastifyInstance } from 'fastify';
import type { TinyCloudNode } from '../../core/node.js';
import { unwrap } from '../../core/result.js';
import { authorizationEnvelope } from '../auth-guard.js';
import { isLegacy, replyLegacyDelegate } from '../legacy.js';

/** `POST /delegate` (WIRE §1.5): the delegation is the `Authorization` header; the body is ignored. */
export function registerDelegateRoute(app: FastifyInstance, node: TinyCloudNode): void {
  app.post('/delegate', async (request, reply) => {
    const envelope = await authorizationEnvelope(request);
    const outcome = unwrap(await node.auth.delegate(envelope));
    if (isLegacy(envelope)) return replyLegacyDelegate(reply, outcome);
    return reply.send({ cid: outcome.cid, activated: outcome.activated, skipped: outcome.skipped });
  });
  node.enableFeature('delegation');
}
