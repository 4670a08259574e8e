import type { FastifyInstance } from 'fastify';
import type { TinyCloudNode } from '../../core/node.js';
import { spaceIdAtEdge } from '../legacy.js';

/**
 * The per-space host did:key as text (WIRE §1.4, §7): deterministic, derived, never stored. The old client asks
 * with the orbit form of the space id (`…://default`), which names the same space.
 */
export function registerPeerGenerateRoute(app: FastifyInstance, node: TinyCloudNode): void {
  app.get<{ Params: { space: string } }>('/peer/generate/:space', async (request, reply) => {
    const spaceId = spaceIdAtEdge(request.params.space);
    return reply.type('text/plain; charset=utf-8').send(node.keys.hostKey(spaceId).did);
  });
}
