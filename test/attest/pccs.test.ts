import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { toHex } from '../../src/core/attest/bytes.js';
import { collateralToJson, parseCollateralJson } from '../../src/core/attest/collateral.js';
import { cacheFileName, collateralFromPccs, collateralKeyOf, crlBytes } from '../../src/core/attest/pccs.js';
import { verifyQuote } from '../../src/core/attest/verify.js';
import { listen, pccsServer } from './pccs-server.js';
import { caseFor, collateral, quoteBytes } from './support.js';

const c = caseFor('tdx_v4_quote.bin');
const at = new Date(c.verifyAt);
const quote = quoteBytes(c.quote);
const vector = collateral(c.collateral);

describe('PCCS fetcher', () => {
  let pccs: ReturnType<typeof pccsServer>;
  let url: string;
  let cacheDir: string;

  beforeAll(async () => {
    pccs = pccsServer(vector);
    url = await listen(pccs.server);
  });
  afterAll(() => pccs.server.close());
  beforeEach(async () => {
    pccs.requests.length = 0;
    cacheDir = await mkdtemp(join(tmpdir(), 'tinycloud-pccs-'));
    return () => rm(cacheDir, { recursive: true, force: true });
  });

  test('the quote names its TEE, FMSPC and PCK CA', () => {
    expect(collateralKeyOf(quote)).toEqual({ tee: 'tdx', fmspc: 'b0c06f000000', ca: 'platform' });
  });

  test('fetches the v4 endpoints, keeps the signed JSON bytes, and the result verifies', async () => {
    const fetched = await collateralFromPccs(quote, { pccsUrl: url, at });
    expect(collateralToJson(fetched)).toBe(collateralToJson(vector));
    expect(pccs.requests).toEqual([
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      '/tdx/certification/v4/tcb?fmspc=B0C06F000000',
      '/tdx/certification/v4/qe/identity',
      '/sgx/certification/v4/rootcacrl',
    ]);
    const r = verifyQuote(quote, { collateral: fetched, at });
    expect(r.ok).toBe(true);
    expect(r.tcbStatus).toBe('UpToDate');
  });

  test('a base URL given with the /sgx/certification/v4 suffix works the same', async () => {
    await collateralFromPccs(quote, { pccsUrl: `${url}/sgx/certification/v4/`, at });
    expect(pccs.requests[0]).toBe('/sgx/certification/v4/pckcrl?ca=platform&encoding=der');
  });

  test('caches by TEE, FMSPC and CA, and serves from the cache while the collateral is valid', async () => {
    await collateralFromPccs(quote, { pccsUrl: url, at, cacheDir });
    expect(await readdir(cacheDir)).toEqual([cacheFileName({ tee: 'tdx', fmspc: 'b0c06f000000', ca: 'platform' })]);
    const cached = parseCollateralJson(await readFile(join(cacheDir, 'tdx-b0c06f000000-platform.collateral.json'), 'utf8'));
    expect(collateralToJson(cached)).toBe(collateralToJson(vector));

    pccs.requests.length = 0;
    const again = await collateralFromPccs(quote, { pccsUrl: 'http://127.0.0.1:1', at, cacheDir });
    expect(pccs.requests).toEqual([]);
    expect(verifyQuote(quote, { collateral: again, at }).ok).toBe(true);
  });

  test('expired cached collateral is fetched again', async () => {
    await collateralFromPccs(quote, { pccsUrl: url, at, cacheDir });
    pccs.requests.length = 0;
    await collateralFromPccs(quote, { pccsUrl: url, at: new Date('2025-08-01T00:00:00Z'), cacheDir });
    expect(pccs.requests.length).toBe(4);
  });

  test('a corrupt cache file is ignored and replaced', async () => {
    await writeFile(join(cacheDir, 'tdx-b0c06f000000-platform.collateral.json'), '{oops');
    const fetched = await collateralFromPccs(quote, { pccsUrl: url, at, cacheDir });
    expect(collateralToJson(fetched)).toBe(collateralToJson(vector));
    expect(await readFile(join(cacheDir, 'tdx-b0c06f000000-platform.collateral.json'), 'utf8')).toBe(collateralToJson(vector));
  });

  test('an unreachable service is an error', async () => {
    await expect(collateralFromPccs(quote, { pccsUrl: 'http://127.0.0.1:1', at, cacheDir, timeoutMs: 2000 })).rejects.toThrow();
  });
});

test('without /rootcacrl the root CA CRL comes from its distribution point; the v3 header name is accepted', async () => {
  const pccs = pccsServer(vector, { rootCaCrl: false, tcbChainHeader: 'SGX-TCB-Info-Issuer-Chain' });
  const url = await listen(pccs.server);
  try {
    const fetched = await collateralFromPccs(quote, { pccsUrl: url, at, rootCaCrlUrl: `${url}/IntelSGXRootCA.der` });
    expect(collateralToJson(fetched)).toBe(collateralToJson(vector));
  } finally {
    pccs.server.close();
  }
});

test('a missing issuer-chain header is reported by name', async () => {
  const pccs = pccsServer(vector, { tcbChainHeader: 'X-Other' });
  const url = await listen(pccs.server);
  try {
    await expect(collateralFromPccs(quote, { pccsUrl: url, at })).rejects.toThrow(/missing TCB-Info-Issuer-Chain header/);
  } finally {
    pccs.server.close();
  }
});

test('CRL bodies are accepted as DER, PEM or hex', () => {
  const der = vector.pckCrl;
  const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`;
  for (const body of [der, Buffer.from(pem), Buffer.from(`${toHex(der)}\n`)]) {
    expect(toHex(crlBytes(body))).toBe(toHex(der));
  }
});
