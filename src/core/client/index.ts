// The protocol-1 client the CLI drives nodes with: sessions, delegations, invocations, KV. It signs with
// `core/auth`, the code the node verifies with, and writes nothing to stdout.
export * from './errors.js';
export * from './http.js';
export * from './keys.js';
export * from './time.js';
export * from './capabilities.js';
export * from './delegation.js';
export * from './node-client.js';
export * from './session.js';
export * from './invoker.js';
export * from './kv.js';
export * from './revocation.js';
