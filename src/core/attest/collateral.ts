import { fromHex, toHex } from './bytes.js';

/**
 * Verification collateral in dcap-qvl's `QuoteCollateralV3` JSON form. `tcbInfo` and `qeIdentity` keep the
 * exact JSON text Intel signed: re-serialising it would break the signature.
 */
export interface Collateral {
  pckCrlIssuerChain: string;
  rootCaCrl: Uint8Array;
  pckCrl: Uint8Array;
  tcbInfoIssuerChain: string;
  tcbInfo: string;
  tcbInfoSignature: Uint8Array;
  qeIdentityIssuerChain: string;
  qeIdentity: string;
  qeIdentitySignature: Uint8Array;
}

export class CollateralFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CollateralFormatError';
  }
}

const FIELDS = {
  pckCrlIssuerChain: ['pck_crl_issuer_chain', 'text'],
  rootCaCrl: ['root_ca_crl', 'bytes'],
  pckCrl: ['pck_crl', 'bytes'],
  tcbInfoIssuerChain: ['tcb_info_issuer_chain', 'text'],
  tcbInfo: ['tcb_info', 'text'],
  tcbInfoSignature: ['tcb_info_signature', 'bytes'],
  qeIdentityIssuerChain: ['qe_identity_issuer_chain', 'text'],
  qeIdentity: ['qe_identity', 'text'],
  qeIdentitySignature: ['qe_identity_signature', 'bytes'],
} as const;

export function parseCollateralJson(text: string): Collateral {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CollateralFormatError('collateral is not JSON');
  }
  const out: Record<string, unknown> = {};
  for (const [key, [field, kind]] of Object.entries(FIELDS)) {
    const value = json[field];
    if (kind === 'text') {
      if (typeof value !== 'string') throw new CollateralFormatError(`collateral field ${field} must be a string`);
      out[key] = value;
    } else {
      out[key] = bytesField(value, field);
    }
  }
  return out as unknown as Collateral;
}

/** Binary fields are hex in the vectors; some dcap-qvl builds write arrays of byte values instead. */
function bytesField(value: unknown, field: string): Uint8Array {
  try {
    if (typeof value === 'string') return fromHex(value);
    if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b < 256)) {
      return new Uint8Array(value as number[]);
    }
  } catch {
    // fall through
  }
  throw new CollateralFormatError(`collateral field ${field} must be hex or an array of bytes`);
}

export function collateralToJson(c: Collateral): string {
  const out: Record<string, string> = {};
  for (const [key, [field, kind]] of Object.entries(FIELDS)) {
    const value = c[key as keyof Collateral];
    out[field] = kind === 'text' ? (value as string) : toHex(value as Uint8Array);
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}
