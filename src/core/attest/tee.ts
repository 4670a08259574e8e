import { existsSync } from 'node:fs';
import { DSTACK_SOCKET, DstackClient } from './dstack-client.js';

export interface TeeSettings {
  mode: 'Auto' | 'Dstack' | 'Off';
  /** dstack guest agent socket path or simulator URL; default /var/run/dstack.sock. */
  endpoint?: string;
}

export type TeeContext = { inTEE: true; mode: 'dstack'; client: DstackClient } | { inTEE: false; reason: string };

const contexts = new WeakMap<TeeSettings, TeeContext>();

/**
 * Whether this node runs inside dstack, decided once per configuration: `Dstack` forces it, `Off` refuses it,
 * `Auto` follows an explicit endpoint or the presence of the guest agent's socket.
 */
export function teeContext(settings: TeeSettings): TeeContext {
  let ctx = contexts.get(settings);
  if (!ctx) {
    ctx = detect(settings);
    contexts.set(settings, ctx);
  }
  return ctx;
}

function detect({ mode, endpoint }: TeeSettings): TeeContext {
  if (mode === 'Off') return { inTEE: false, reason: 'TEE integration is off (tee.mode = Off)' };
  if (mode === 'Dstack' || endpoint || existsSync(DSTACK_SOCKET)) {
    return { inTEE: true, mode: 'dstack', client: new DstackClient(endpoint ?? DSTACK_SOCKET) };
  }
  return { inTEE: false, reason: `no dstack guest agent (no socket at ${DSTACK_SOCKET}, tee.endpoint unset)` };
}
