import type { FastifyInstance } from 'fastify';

/** WIRE §1.1: permissive CORS on every response, and an empty 200 for every preflight. */
export function registerCors(app: FastifyInstance): void {
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('Access-Control-Allow-Origin', '*');
    reply.header('Access-Control-Allow-Methods', 'POST, PUT, GET, OPTIONS, DELETE');
    reply.header('Access-Control-Allow-Headers', '*, Authorization');
    reply.header('Access-Control-Expose-Headers', '*, Authorization');
    reply.header('Access-Control-Allow-Credentials', 'true');
  });
}
