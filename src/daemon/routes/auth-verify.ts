import type { FastifyInstance } from 'fastify';
import { SiweMessage } from 'siwe';
import { decodeCacaoEnvelope } from '../../core/auth/envelope.js';
import { cacaoPayloadOfSiwe, encodeCacao } from '../../core/auth/cacao.js';
import { TinyCloudError } from '../../core/errors.js';
import type { TinyCloudNode } from '../../core/node.js';
import { unwrap } from '../../core/result.js';
import { isJsonRequest, readJsonBody } from '../json-body.js';

interface VerifyBody {
  siwe?: unknown;
  signature?: unknown;
  operation?: { space?: unknown; path?: unknown; action?: unknown; resource?: unknown };
}

/** `{space, path: "<name>/<service>/<key…>", action}` (the golden vectors' shape) or `{resource, action}`. */
function resourceOf(op: NonNullable<VerifyBody['operation']>): string {
  if (typeof op.resource === 'string') return op.resource;
  if (typeof op.space !== 'string' || typeof op.path !== 'string') throw new TinyCloudError('BAD_REQUEST', 'operation needs resource, or space and path');
  return `${op.space}/${op.path.split('/').slice(1).join('/')}`;
}

/**
 * `POST /auth/verify` of the reference's `tc-bench-v1` build: body `{siwe, signature, operation}`; the SIWE text
 * is turned into the CACAO it stands for (never trusted as text: the signature must match the re-rendered
 * message) and checked by the engine. 200 `{ok, cid, delegator}`; 401 bad signature/time/recap; 403 operation
 * outside the recap; 409 the same signed message twice. Mounted only with the `bench` server option.
 */
export function registerAuthVerifyRoute(app: FastifyInstance, node: TinyCloudNode): void {
  app.post('/auth/verify', async (request, reply) => {
    if (!isJsonRequest(request)) throw new TinyCloudError('BAD_REQUEST', 'Content-Type must be application/json');
    const body = (await readJsonBody(request)) as VerifyBody | null;
    if (typeof body?.siwe !== 'string' || typeof body.signature !== 'string' || !body.operation || typeof body.operation.action !== 'string') {
      throw new TinyCloudError('BAD_REQUEST', 'Body must be {siwe, signature, operation: {space, path, action}}');
    }
    let message: SiweMessage;
    try {
      message = new SiweMessage(body.siwe);
    } catch {
      throw new TinyCloudError('AUTH_MALFORMED', 'Not an EIP-4361 message');
    }
    const signature = Buffer.from(body.signature.replace(/^0x/, ''), 'hex');
    if (signature.length !== 65) throw new TinyCloudError('AUTH_MALFORMED', 'signature must be 65 bytes of hex');
    const bytes = encodeCacao(
      cacaoPayloadOfSiwe({
        scheme: message.scheme,
        domain: message.domain,
        address: message.address,
        statement: message.statement,
        uri: message.uri,
        chainId: message.chainId,
        nonce: message.nonce,
        issuedAt: message.issuedAt as string,
        expirationTime: message.expirationTime,
        notBefore: message.notBefore,
        requestId: message.requestId,
        resources: message.resources,
      }),
      signature,
    );
    const envelope = unwrap(await decodeCacaoEnvelope(bytes));
    const verdict = unwrap(await node.auth.verifySignIn(envelope, { resource: resourceOf(body.operation), ability: body.operation.action }));
    return reply.send({ ok: true, ...verdict });
  });
}
