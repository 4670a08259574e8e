import type { FastifyInstance } from 'fastify';
import type { TinyCloudNode } from '../../core/node.js';
import { registerAttestationRoute } from './attestation.js';
import { registerHealthzRoute } from './healthz.js';
import { registerInfoRoute } from './info.js';
import { registerOptionsRoute } from './options.js';
import { registerPeerGenerateRoute } from './peer-generate.js';

export type RouteRegistration = (app: FastifyInstance, node: TinyCloudNode) => void;

/** Every route the daemon serves, one module each. */
export const ROUTES: RouteRegistration[] = [
  registerOptionsRoute,
  registerHealthzRoute,
  registerInfoRoute,
  registerPeerGenerateRoute,
  registerAttestationRoute,
];
