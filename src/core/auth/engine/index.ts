import type { Config } from '../../config/load.js';
import type { MetadataDb } from '../../db/database.js';
import type { Result } from '../../result.js';
import type { SignedEnvelope } from '../types.js';
import { Ed25519VerifyPool } from '../verify-pool.js';
import type { EngineContext } from './context.js';
import { delegate } from './delegate.js';
import { authorizeInvocation } from './invoke.js';
import { authorizeControl, capabilitiesRead, delegationStatus } from './read.js';
import { sweepReplays } from './replay.js';
import { revoke } from './revoke.js';
import { verifySignIn, type SignInOperation, type SignInVerdict } from './sign-in-check.js';
import { HostedSpaces } from './spaces.js';
import type {
  AuthorizedInvocation,
  Clock,
  ControlInvocation,
  DelegateOutcome,
  DelegationRecord,
  DelegationStatus,
  RevokeOutcome,
} from './types.js';

export * from './types.js';
export { CAVEAT_RULES, type CaveatRule } from './caveats.js';
export { allowlistKey } from './spaces.js';
export { HOST_ABILITY, hostedSpaceOf } from './delegate.js';
export { REVOKE_ABILITY, STATUS_ABILITY } from './control.js';
export { CAPABILITIES_READ } from './read.js';
export type { SignInOperation, SignInVerdict } from './sign-in-check.js';

const SWEEP_INTERVAL_MS = 60_000;

export interface AuthEngineOptions {
  /** Defaults to the wall clock. */
  readonly clock?: Clock;
  /** For the allowlist look-up; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
}

export const systemClock: Clock = () => Date.now() / 1000;

/**
 * The DB-backed authorization engine (WIRE §2): delegations, invocations, revocations, and the reads over them.
 * Every check returns a Result with a named failure; the daemon maps failures to HTTP once.
 */
export class AuthEngine {
  readonly #ctx: EngineContext;
  #sweeper?: NodeJS.Timeout;

  constructor(metadata: MetadataDb, config: Pick<Config, 'invocation' | 'spaces'>, options: AuthEngineOptions = {}) {
    const threads = config.invocation.verifyThreads;
    this.#ctx = {
      metadata,
      clock: options.clock ?? systemClock,
      maxLifetimeSecs: config.invocation.maxLifetimeSecs,
      ...(config.spaces.allowlist !== undefined && { allowlist: config.spaces.allowlist }),
      spaces: new HostedSpaces(),
      fetch: options.fetch ?? fetch,
      ...(threads > 0 && { verifyPool: new Ed25519VerifyPool(threads) }),
    };
  }

  /** The engine's clock reading (epoch seconds). */
  now(): number {
    return this.#ctx.clock();
  }

  /** Register a delegation (CACAO or UCAN); creates spaces it hosts and appends epochs (WIRE §2.7). */
  delegate(envelope: SignedEnvelope): Promise<Result<DelegateOutcome>> {
    return delegate(this.#ctx, envelope);
  }

  /** Authorize and consume one invocation (WIRE §2.8, §2.12). */
  authorizeInvocation(envelope: SignedEnvelope): Promise<Result<AuthorizedInvocation>> {
    return authorizeInvocation(this.#ctx, envelope);
  }

  /** Authorize and consume a delegation-control invocation (`/delegation/status`). */
  authorizeControl(envelope: SignedEnvelope, action: string): Promise<Result<ControlInvocation>> {
    return authorizeControl(this.#ctx, envelope, action);
  }

  /** Revoke a delegation (WIRE §2.10). */
  revoke(envelope: SignedEnvelope): Promise<Result<RevokeOutcome>> {
    return revoke(this.#ctx, envelope);
  }

  delegationStatus(control: ControlInvocation, cid: string): Promise<Result<DelegationStatus>> {
    return delegationStatus(this.#ctx, control, cid);
  }

  capabilitiesRead(invocation: AuthorizedInvocation): Promise<Result<Record<string, DelegationRecord> | DelegationRecord[]>> {
    return capabilitiesRead(this.#ctx, invocation);
  }

  /** `tc-bench-v1`: a SIWE sign-in used once as the bearer of one operation. */
  verifySignIn(envelope: SignedEnvelope, operation: SignInOperation): Promise<Result<SignInVerdict>> {
    return verifySignIn(this.#ctx, envelope, operation);
  }

  /** Deletes replay rows of tokens that have expired. */
  sweepReplays(): Promise<number> {
    return sweepReplays(this.#ctx.metadata.db, this.#ctx.clock());
  }

  /** Sweeps the replay table every minute until `close()`. */
  start(): void {
    this.#sweeper ??= setInterval(() => void this.sweepReplays().catch(() => undefined), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  /** Stops the sweeper and the verify threads (a verification still in flight finishes on the caller's thread). */
  close(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    void this.#ctx.verifyPool?.close();
  }
}
