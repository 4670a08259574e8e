import type { FastifyInstance } from 'fastify';

/** CORS preflight on any path: 200 with an empty body. */
export function registerOptionsRoute(app: FastifyInstance): void {
  app.options('/*', async (_request, reply) => reply.code(200).send(''));
}
