import type { Transaction } from 'kysely';
import type { Engine } from '../../db/dialect.js';
import type { Database } from '../../db/schema.js';
import { err, ok, type Result } from '../../result.js';
import { verifyEnvelope } from '../envelope.js';
import type { DelegationInfo, SignedEnvelope } from '../types.js';
import type { ChainNode } from './chain-store.js';
import { idKey } from './chain-store.js';
import { dependentCapabilities } from './containment.js';
import { cidTextOf, type EngineContext } from './context.js';
import { checkParents, insertDelegationRows } from './delegate.js';
import { checkInvocationChain } from './invoke.js';
import { checkRevocation, insertRevocationRows, type RevocationTarget } from './revoke.js';
import { HostedSpaces } from './spaces.js';

interface Window {
  /** Earliest valid moment; -Infinity when unbounded. */
  readonly from: number;
  /** Latest valid moment; Infinity when unbounded. */
  readonly until: number;
}

const windowOf = (info: Pick<DelegationInfo, 'notBefore' | 'expiry'>): Window => ({
  from: info.notBefore ?? -Infinity,
  until: info.expiry ?? Infinity,
});

/** A moment inside an envelope's own window (its expiry when it has one), or undefined when the window is empty. */
function momentInWindow(env: SignedEnvelope): number | undefined {
  const { from, until } = windowOf(env.info);
  if (from > until) return undefined;
  if (Number.isFinite(until)) return until;
  return Number.isFinite(from) ? from + 1 : 0;
}

/**
 * Checks for events replayed from a history (a CAR import, docs/car-format.md) rather than received live. The
 * signature and the chain are checked exactly as for a live request, over the rows the import has written so far
 * (events are replayed in epoch order, so a parent is stored before its children). What only makes sense for a
 * live request is left out: the wall clock (an invocation passes if its own window and its whole chain's windows
 * overlap at some moment), the lifetime cap and single use. Works inside the importer's write transaction.
 */
export class HistoryVerifier {
  readonly #trx: Transaction<Database>;
  readonly #ctx: EngineContext;

  constructor(trx: Transaction<Database>, engine: Engine) {
    this.#trx = trx;
    this.#ctx = {
      metadata: { db: trx, engine, wrote: () => undefined, betweenWrites: () => undefined, close: async () => undefined },
      clock: () => {
        throw new Error('history checks never read the clock');
      },
      maxLifetimeSecs: Infinity,
      spaces: new HostedSpaces(),
      fetch,
    };
  }

  /** The envelope's signature, checked at a moment of its own window (an empty window fails as expired). */
  static signature(env: SignedEnvelope): Result<SignedEnvelope> {
    const at = momentInWindow(env);
    if (at === undefined) return err('AUTH_EXPIRED', 'Expired before it was valid (not-before after expiry)');
    return verifyEnvelope(env, at);
  }

  /** WIRE §2.7 steps 2–4 for a delegation whose signature was checked: the parent edges to store. */
  async delegation(env: SignedEnvelope): Promise<Result<Uint8Array[]>> {
    const dependent = dependentCapabilities(env.info.delegator, env.info.capabilities);
    if (dependent.length === 0) return ok([]);
    return checkParents(this.#ctx, env.info, dependent);
  }

  /** WIRE §2.8 for an invocation whose signature was checked, with the overlapping-windows rule for time. */
  async invocation(env: SignedEnvelope): Promise<Result<void>> {
    if (env.kind !== 'ucan') return err('AUTH_MALFORMED', 'Invocations must be UCANs');
    if (env.info.capabilities.length === 0) return err('AUTH_MALFORMED', 'Invocation grants nothing');
    const own = windowOf(env.info);
    return checkInvocationChain(this.#ctx, env.info, (lineage: readonly ChainNode[]) => {
      const from = Math.max(own.from, ...lineage.map((n) => n.notBefore ?? -Infinity));
      const until = Math.min(own.until, ...lineage.map((n) => n.expiry ?? Infinity));
      return from < until;
    });
  }

  /** WIRE §2.10 steps 2–4 for a revocation whose signature was checked, as of `at` (kept inside its window). */
  async revocation(env: SignedEnvelope, at: number): Promise<Result<RevocationTarget>> {
    const { from, until } = windowOf(env.info);
    return checkRevocation(this.#ctx, env, Math.min(Math.max(at, from), until));
  }

  /**
   * Store a checked delegation unless it is already stored. A different encoding of the same signed grant
   * (same signed digest, other CID) is a conflict, as on `/delegate`.
   */
  async recordDelegation(env: SignedEnvelope, edges: readonly Uint8Array[], receivedAt: number): Promise<Result<'stored' | 'existing'>> {
    const stored = await this.#trx
      .selectFrom('delegation')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', env.multihash), eb('signed_digest', '=', env.signedDigest)]))
      .execute();
    if (stored.some((row) => idKey(row.id) === idKey(env.multihash))) return ok('existing');
    if (stored.length > 0) return err('CONFLICT', `Delegation already registered as ${cidTextOf(new Uint8Array(stored[0]!.id))}`);
    await insertDelegationRows(this.#trx, this.#ctx, env, edges, receivedAt);
    return ok('stored');
  }

  async recordRevocation(env: SignedEnvelope, target: Uint8Array, revokedAt: number): Promise<'stored' | 'existing'> {
    const known = await this.#trx.selectFrom('revocation').select('id').where('id', '=', env.multihash).executeTakeFirst();
    if (known) return 'existing';
    await insertRevocationRows(this.#trx, this.#ctx, env, target, revokedAt);
    return 'stored';
  }

  /** The invocation row an event points at (as the services write it: `issued_at` falls back to `at`). */
  async recordInvocation(env: SignedEnvelope, at: number): Promise<'stored' | 'existing'> {
    const known = await this.#trx.selectFrom('invocation').select('id').where('id', '=', env.multihash).executeTakeFirst();
    if (known) return 'existing';
    const { info } = env;
    await this.#trx
      .insertInto('invocation')
      .values({
        id: env.multihash,
        invoker: info.delegator,
        issued_at: info.issuedAt ?? at,
        expiry: info.expiry ?? null,
        facts: info.facts.length ? JSON.stringify(info.facts) : null,
        serialization: env.bytes,
      })
      .execute();
    return 'stored';
  }
}
