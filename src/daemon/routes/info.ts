import type { FastifyInstance } from 'fastify';
import { teeContext } from '../../core/attest/tee.js';
import type { TinyCloudNode } from '../../core/node.js';

/** `/info` and `/version` answer the same JSON (WIRE §1.3); the SDK checks `protocol === 1`. */
export function registerInfoRoute(app: FastifyInstance, node: TinyCloudNode): void {
  const handler = async () => node.info(teeContext(node.config.tee).inTEE);
  app.get('/info', handler);
  app.get('/version', handler);
}
