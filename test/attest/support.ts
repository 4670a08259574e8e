import { readFileSync } from 'node:fs';
import { parseCollateralJson, type Collateral } from '../../src/core/attest/collateral.js';
import { decodeQuoteInput } from '../../src/core/attest/input.js';
import { readVector, vectorPath } from '../support/vectors.js';

export interface ExpectedCase {
  quote: string;
  collateral: string;
  verifyAt: string;
  collateralValidFrom: string;
  collateralValidUntil: string;
  quoteVersion: number;
  teeType: string;
  bodyType: number | null;
  signedBytes: number;
  usedBytes: number;
  result: 'ok' | 'error';
  error?: string;
  tcbStatus?: string;
  advisoryIds?: string[];
  fmspc?: string;
  [measurement: string]: unknown;
}

export const expected = JSON.parse(readFileSync(vectorPath('attestation', 'expected.json'), 'utf8')) as {
  cases: ExpectedCase[];
};

export const quoteBytes = (file: string): Uint8Array => decodeQuoteInput(readVector('attestation', file)).quote;

export const collateral = (file: string): Collateral =>
  parseCollateralJson(readVector('attestation', file).toString('utf8'));

export const caseFor = (quote: string): ExpectedCase => {
  const c = expected.cases.find((x) => x.quote === quote);
  if (!c) throw new Error(`no expected case for ${quote}`);
  return c;
};
