import type { FastifyInstance } from 'fastify';
import type { TinyCloudNode } from '../../core/node.js';
import { unwrap } from '../../core/result.js';
import { authorizationEnvelope } from '../auth-guard.js';

/** `POST /revoke` (WIRE §2.10): the revocation (UCAN or CACAO) is the `Authorization` header. */
export function registerRevokeRoute(app: FastifyInstance, node: TinyCloudNode): void {
  app.post('/revoke', async (request, reply) => {
    const envelope = await authorizationEnvelope(request);
    return reply.send(unwrap(await node.auth.revoke(envelope)));
  });
  node.enableFeature('sharing');
}
