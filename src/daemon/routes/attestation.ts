import type { FastifyInstance } from 'fastify';
import { attestNode } from '../../core/attest/node-attestation.js';
import { teeContext } from '../../core/attest/tee.js';
import type { TinyCloudNode } from '../../core/node.js';

/** `GET /attestation?nonce=N`: a dstack quote binding the node DID and N, or `{mode: "classic"}` (docs/attestation.md). */
export function registerAttestationRoute(app: FastifyInstance, node: TinyCloudNode): void {
  app.get<{ Querystring: { nonce?: string } }>('/attestation', async (request) =>
    attestNode(teeContext(node.config.tee), node.nodeDid, request.query.nonce ?? ''),
  );
}
