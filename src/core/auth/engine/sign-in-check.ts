import { err, ok, type Result } from '../../result.js';
import { verifyEnvelope } from '../envelope.js';
import { parseResource } from '../resource.js';
import type { Capability, SignedEnvelope } from '../types.js';
import { coverage, dependentCapabilities } from './containment.js';
import { cidTextOf, dbOf, type EngineContext } from './context.js';
import { checkParents } from './delegate.js';
import { consumeInvocation } from './replay.js';

export interface SignInOperation {
  readonly resource: string;
  readonly ability: string;
}

export interface SignInVerdict {
  readonly cid: string;
  readonly delegator: string;
}

/**
 * The reference node's `tc-bench-v1` check (`POST /auth/verify`): a wallet-signed SIWE + ReCap, used directly as
 * a bearer of one operation. Verified like a delegation (signature, time, recap, statement; proofs for what the
 * signer does not own), the operation must fall within the recap (403 otherwise), and each signed message is
 * accepted once (409): the table and key are the invocations' (a CACAO's hash never equals a UCAN's).
 */
export async function verifySignIn(ctx: EngineContext, env: SignedEnvelope, op: SignInOperation): Promise<Result<SignInVerdict>> {
  if (env.kind !== 'cacao') return err('AUTH_MALFORMED', 'A sign-in is a SIWE (CACAO) message');
  const now = ctx.clock();
  const verified = verifyEnvelope(env, now);
  if (!verified.ok) return verified;
  const target = parseResource(op.resource);
  if (!target.ok) return err('BAD_REQUEST', target.error.message);
  const wanted: Capability = { resource: target.value.uri, target: target.value, ability: op.ability, caveats: [] };
  const grants = env.info.capabilities.map((c) => ({ delegation: env.multihash, resource: c.resource, ability: c.ability, caveats: c.caveats }));
  if (coverage(wanted, grants) !== 'covered') return err('FORBIDDEN', `Unauthorized Action: ${wanted.resource} / ${wanted.ability}`);
  const dependent = dependentCapabilities(env.info.delegator, env.info.capabilities);
  if (dependent.length > 0) {
    const parents = await checkParents(ctx, env.info, dependent);
    if (!parents.ok) return parents;
  }
  const fresh = await consumeInvocation(dbOf(ctx), ctx.metadata.engine, env.multihash, env.info.expiry ?? Number.MAX_SAFE_INTEGER);
  if (!fresh) return err('DUPLICATE_INVOCATION', 'duplicate sign-in');
  return ok({ cid: cidTextOf(env.multihash), delegator: env.info.delegator });
}
