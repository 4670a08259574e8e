import { hashMessage, recoverAddress, Signature } from 'ethers';
import { canonicalAddress } from './did.js';

/** The fields of an EIP-4361 message. Timestamps are RFC 3339 text, rendered verbatim. */
export interface SiweFields {
  readonly scheme?: string;
  readonly domain: string;
  /** Any case; rendered in EIP-55 form. */
  readonly address: string;
  readonly statement?: string;
  readonly uri: string;
  readonly version?: '1';
  readonly chainId: number;
  readonly nonce: string;
  readonly issuedAt: string;
  readonly expirationTime?: string;
  readonly notBefore?: string;
  readonly requestId?: string;
  readonly resources?: readonly string[];
}

/**
 * The exact EIP-4361 text the wallet signed (WIRE §2.2): lines joined by `\n`, no trailing newline, the statement
 * line omitted when there is none, `Resources:` only when there are some.
 */
export function renderSiweMessage(fields: SiweFields): string {
  const address = canonicalAddress(fields.address);
  if (!address) throw new TypeError(`not an Ethereum address: ${fields.address}`);
  const origin = fields.scheme ? `${fields.scheme}://${fields.domain}` : fields.domain;
  const lines = [`${origin} wants you to sign in with your Ethereum account:`, address, ''];
  if (fields.statement !== undefined) lines.push(fields.statement);
  lines.push(
    '',
    `URI: ${fields.uri}`,
    `Version: ${fields.version ?? '1'}`,
    `Chain ID: ${fields.chainId}`,
    `Nonce: ${fields.nonce}`,
    `Issued At: ${fields.issuedAt}`,
  );
  if (fields.expirationTime !== undefined) lines.push(`Expiration Time: ${fields.expirationTime}`);
  if (fields.notBefore !== undefined) lines.push(`Not Before: ${fields.notBefore}`);
  if (fields.requestId !== undefined) lines.push(`Request ID: ${fields.requestId}`);
  if (fields.resources && fields.resources.length > 0) {
    lines.push('Resources:', ...fields.resources.map((r) => `- ${r}`));
  }
  return lines.join('\n');
}

const SECP256K1_HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/**
 * The address an EIP-191 `personal_sign` signature (65 bytes `r‖s‖v`, recovery id `v % 27`, low S) recovers
 * to, or undefined when it recovers to nothing.
 */
export function recoverEip191Signer(message: string | Uint8Array, signature: Uint8Array): string | undefined {
  if (signature.length !== 65) return undefined;
  const recoveryId = (signature[64] as number) % 27;
  if (recoveryId > 1) return undefined;
  const s = `0x${Buffer.from(signature.subarray(32, 64)).toString('hex')}`;
  // High-S twins of a valid signature would give the same grant a second CID; wallets only produce low S.
  if (BigInt(s) > SECP256K1_HALF_ORDER) return undefined;
  try {
    const sig = Signature.from({ r: `0x${Buffer.from(signature.subarray(0, 32)).toString('hex')}`, s, v: 27 + recoveryId });
    return recoverAddress(hashMessage(message), sig);
  } catch {
    return undefined;
  }
}

/** EIP-191 verification against an address (any case). EIP-1271 contract wallets are not supported. */
export function verifyEip191(message: string | Uint8Array, signature: Uint8Array, address: string): boolean {
  const expected = canonicalAddress(address);
  return expected !== undefined && recoverEip191Signer(message, signature) === expected;
}
