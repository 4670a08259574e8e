import type { FastifyInstance } from 'fastify';
import { canonicalSpaceId } from '../../core/spaces.js';
import type { TinyCloudNode } from '../../core/node.js';

/** The per-space host did:key as text (WIRE §1.4, §7): deterministic, derived, never stored. */
export function registerPeerGenerateRoute(app: FastifyInstance, node: TinyCloudNode): void {
  app.get<{ Params: { space: string } }>('/peer/generate/:space', async (request, reply) => {
    const spaceId = canonicalSpaceId(request.params.space);
    return reply.type('text/plain; charset=utf-8').send(node.keys.hostKey(spaceId).did);
  });
}
