// The DB-free authorization primitives. Chain validation (delegate, invoke, revoke) builds on these.
export * from './types.js';
export * from './envelope.js';
export * from './did.js';
export * from './ed25519.js';
export * from './siwe.js';
export * from './recap.js';
export * from './cacao.js';
export * from './ucan.js';
export * from './resource.js';
export * from './abilities.js';
export * from './legacy.js';
export { canonicalJson } from './jcs.js';
export { parseRfc3339, epochSeconds } from './time.js';
export { encodeBase64UrlPadded } from './base64url.js';
