import type { Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import { writeTransaction } from '../../db/write-transaction.js';
import { appendEpoch } from '../../events/epochs.js';
import { err, ok, type Result } from '../../result.js';
import { verifyEnvelope } from '../envelope.js';
import type { SignedEnvelope } from '../types.js';
import { idKey, loadLineages } from './chain-store.js';
import { cidOfUrn, controllersOf, controlPrincipal, REVOKE_ABILITY } from './control.js';
import { dbOf, insertActors, type EngineContext } from './context.js';
import { parseCid, type CID } from '../../ids/cid.js';
import type { RevokeOutcome } from './types.js';

export interface RevocationTarget {
  readonly cid: CID;
  /** As the revoker wrote it: echoed in the answer. */
  readonly text: string;
}

/** UCAN: the `urn:cid:` resource of a `tinycloud.delegation/revoke` capability, else `prf[0]`. CACAO: `ucan:<cid>`. */
function targetOf(env: SignedEnvelope): RevocationTarget | undefined {
  if (env.kind === 'ucan') {
    for (const cap of env.info.capabilities) {
      const cid = cap.ability === REVOKE_ABILITY ? cidOfUrn(cap.resource) : undefined;
      if (cid) return { cid, text: cap.resource.slice('urn:cid:'.length) };
    }
    const first = env.info.parentCids[0];
    return first ? { cid: first, text: first.toString() } : undefined;
  }
  const uri = env.info.audience;
  if (!uri.startsWith('ucan:')) return undefined;
  const cid = parseCid(uri.slice('ucan:'.length));
  return cid ? { cid, text: uri.slice('ucan:'.length) } : undefined;
}

/**
 * `POST /revoke` (WIRE §2.10): whoever controls the target (its delegator or delegatee, any delegator above it
 * in the chain, or the owner of a space it names), directly or through one live control proof, marks it revoked.
 * Every invocation re-checks revocation up the whole chain, so all descendants stop with the commit. One epoch
 * is appended in each space where the target has an event.
 */
export async function revoke(ctx: EngineContext, env: SignedEnvelope): Promise<Result<RevokeOutcome>> {
  const now = ctx.clock();
  const verified = verifyEnvelope(env, now);
  if (!verified.ok) return verified;
  const checked = await checkRevocation(ctx, env, now);
  if (!checked.ok) return checked;
  const target = checked.value;
  const targetId = target.cid.multihash.bytes;

  await writeTransaction(ctx.metadata, async (trx) => {
    const known = await trx.selectFrom('revocation').select('id').where('id', '=', env.multihash).executeTakeFirst();
    if (known) return;
    await insertRevocationRows(trx, ctx, env, targetId, now);
    const spaces = await trx.selectFrom('event_order').select('space').distinct().where('event', '=', targetId).execute();
    for (const { space } of spaces) {
      await appendEpoch(trx, space, [{ kind: 'revocation', multihash: env.multihash }]);
    }
  });
  return ok({ revoked: true, cid: target.text });
}

/**
 * Whether a (signature-checked) revocation may revoke its target at `now` (WIRE §2.10 steps 2–4): the target is
 * stored, and the signer, directly or through one control proof live at `now`, controls it.
 */
export async function checkRevocation(ctx: EngineContext, env: SignedEnvelope, now: number): Promise<Result<RevocationTarget>> {
  const target = targetOf(env);
  if (!target) return err('REVOKE_FORBIDDEN', 'No delegation to revoke');
  const targetId = target.cid.multihash.bytes;
  const db = dbOf(ctx);
  const lineage = (await loadLineages(db, [targetId])).get(idKey(targetId));
  if (!lineage) return err('REVOKE_FORBIDDEN', 'Cannot find parent delegation');

  const signer = env.info.delegator;
  const proofs = env.kind === 'ucan' ? env.info.parents : [];
  const principal = await controlPrincipal(db, now, signer, proofs, targetId, REVOKE_ABILITY);
  if (!principal.ok) return principal;
  const ancestors = lineage.nodes.filter((n) => idKey(n.id) !== idKey(targetId));
  const controllers = await controllersOf(db, lineage.parent, ancestors);
  if (!controllers.has(principal.value)) return err('REVOKE_FORBIDDEN', `Unauthorized Revoker: ${principal.value}`);
  return ok(target);
}

/** The `revocation` row and the revoker's actor row, inside the caller's transaction. */
export async function insertRevocationRows(
  trx: Transaction<Database>,
  ctx: EngineContext,
  env: SignedEnvelope,
  target: Uint8Array,
  revokedAt: number,
): Promise<void> {
  const signer = env.info.delegator;
  await trx.insertInto('revocation').values({ id: env.multihash, revoker: signer, revoked: target, serialization: env.bytes, revoked_at: revokedAt }).execute();
  await insertActors(trx, ctx, [signer]);
}
