import type { FastifyInstance } from 'fastify';
import { isDatabaseHealthy } from '../../core/db/database.js';
import type { TinyCloudNode } from '../../core/node.js';

/** 200 with an empty body when the metadata DB answers, 500 otherwise. */
export function registerHealthzRoute(app: FastifyInstance, node: TinyCloudNode): void {
  app.get('/healthz', async (_request, reply) => {
    const healthy = await isDatabaseHealthy(node.metadata);
    return reply.code(healthy ? 200 : 500).send('');
  });
}
