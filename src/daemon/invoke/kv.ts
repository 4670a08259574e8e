import type { FastifyReply } from 'fastify';
import type { KvResponse } from '../../core/services/kv/index.js';
import { KvService } from '../../core/services/kv/index.js';
import type { InvokeHandler } from './dispatch.js';

/** Send a service's HTTP-shaped answer; a Readable body streams straight from the block store. */
export function sendKvResponse(reply: FastifyReply, response: KvResponse): FastifyReply {
  void reply.code(response.status).headers(response.headers);
  return response.body === undefined ? reply.send() : reply.send(response.body);
}

/** `tinycloud.kv/*` over `/invoke` (WIRE §4); the body is the raw request stream, never buffered. */
export const kvHandler: InvokeHandler = {
  name: 'kv',
  matches: (invocation) => KvService.handles(invocation.envelope),
  // A refused upload (413 half way) closes its connection: the server's onSend hook (unread-body.ts).
  handle: async ({ node, invocation, request, reply }) =>
    sendKvResponse(reply, await node.kv.invoke(invocation.envelope, { headers: request.headers, body: request.raw })),
};
