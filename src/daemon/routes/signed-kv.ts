import type { FastifyInstance } from 'fastify';
import type { TinyCloudNode } from '../../core/node.js';
import { authorizedInvocation, invocationGuard } from '../auth-guard.js';
import { sendKvResponse } from '../invoke/kv.js';
import { isJsonRequest, readJsonBody } from '../json-body.js';

/**
 * Signed KV URLs (WIRE §4.3). `POST /signed/kv` mints a ticket from an invocation holding `tinycloud.kv/get`
 * over `{space, path}` (and, like the reference, only exists for JSON requests); `GET /signed/kv/<ticket>`
 * serves the bound object to whoever holds the URL, with one `Range`.
 */
export function registerSignedKvRoutes(app: FastifyInstance, node: TinyCloudNode): void {
  app.post('/signed/kv', {
    onRequest: async (request, reply) => {
      if (!isJsonRequest(request)) return reply.callNotFound();
    },
    preHandler: invocationGuard(node),
    handler: async (request, reply) => {
      const body = await readJsonBody(request);
      return reply.type('application/json').send(await node.signedKv.mint(authorizedInvocation(request).envelope, body));
    },
  });
  app.get<{ Params: { ticket: string } }>('/signed/kv/:ticket', async (request, reply) =>
    sendKvResponse(reply, await node.signedKv.open(request.params.ticket, request.headers)),
  );
}
