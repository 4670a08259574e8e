import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toHex } from '../../src/core/attest/bytes.js';
import type { Collateral } from '../../src/core/attest/collateral.js';

/** A real HTTP server speaking the PCCS v4 API from a vector's collateral. */
export function pccsServer(c: Collateral, opts: { rootCaCrl?: boolean; tcbChainHeader?: string } = {}) {
  const requests: string[] = [];
  const enc = encodeURIComponent;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${url.pathname}${url.search}`);
    if (url.pathname === '/sgx/certification/v4/pckcrl' && url.searchParams.get('encoding') === 'der') {
      res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': enc(c.pckCrlIssuerChain), 'Content-Type': 'application/pkix-crl' });
      return res.end(Buffer.from(c.pckCrl));
    }
    if (url.pathname === '/sgx/certification/v4/rootcacrl' && opts.rootCaCrl !== false) {
      return res.end(toHex(c.rootCaCrl)); // PCCS serves it as hex text
    }
    if (url.pathname === '/IntelSGXRootCA.der') return res.end(Buffer.from(c.rootCaCrl));
    if (url.pathname === '/tdx/certification/v4/tcb') {
      res.writeHead(200, { [opts.tcbChainHeader ?? 'TCB-Info-Issuer-Chain']: enc(c.tcbInfoIssuerChain) });
      return res.end(`{"tcbInfo":${c.tcbInfo},"signature":"${toHex(c.tcbInfoSignature)}"}`);
    }
    if (url.pathname === '/tdx/certification/v4/qe/identity') {
      res.writeHead(200, { 'SGX-Enclave-Identity-Issuer-Chain': enc(c.qeIdentityIssuerChain) });
      return res.end(`{"enclaveIdentity":${c.qeIdentity},"signature":"${toHex(c.qeIdentitySignature)}"}`);
    }
    res.writeHead(404).end('not found');
  });
  return { server, requests };
}

export async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
