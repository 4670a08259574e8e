import { TinyCloudError } from '../errors.js';
import { BINDING_TAG, bindingReportData, isValidNonce } from './binding.js';
import type { TeeContext } from './tee.js';

export type NodeAttestation =
  | {
      mode: 'dstack';
      quote: string;
      event_log: string;
      report_data: string;
      vm_config?: string;
      binding: { tag: string; node_did: string; nonce: string };
      enforcer_did: string;
      app_id?: string;
      compose_hash?: string;
      instance_id?: string;
      timestamp: number;
    }
  | { mode: 'classic'; message: string };

/**
 * What `GET /attestation?nonce=` answers: a dstack quote whose report data binds this node's DID and the
 * caller's nonce, or a plain statement that the node is not in a TEE.
 */
export async function attestNode(tee: TeeContext, nodeDid: string, nonce: string): Promise<NodeAttestation> {
  if (!isValidNonce(nonce)) {
    throw new TinyCloudError('BAD_REQUEST', 'nonce must be at most 256 URL-safe characters [A-Za-z0-9._~-]');
  }
  if (!tee.inTEE) return { mode: 'classic', message: `This node is not running in a TEE: ${tee.reason}.` };
  let quote;
  try {
    quote = await tee.client.getQuote(bindingReportData(nodeDid, nonce));
  } catch (error) {
    throw new TinyCloudError('SERVICE_UNAVAILABLE', `The dstack guest agent did not produce a quote: ${(error as Error).message}`);
  }
  const app = await tee.client.info().catch(() => null);
  return {
    mode: 'dstack',
    quote: quote.quote,
    event_log: quote.event_log,
    report_data: quote.report_data ?? Buffer.from(bindingReportData(nodeDid, nonce)).toString('hex'),
    ...(quote.vm_config !== undefined ? { vm_config: quote.vm_config } : {}),
    binding: { tag: BINDING_TAG, node_did: nodeDid, nonce },
    enforcer_did: nodeDid,
    ...(typeof app?.app_id === 'string' ? { app_id: app.app_id } : {}),
    ...(typeof app?.compose_hash === 'string' ? { compose_hash: app.compose_hash } : {}),
    ...(typeof app?.instance_id === 'string' ? { instance_id: app.instance_id } : {}),
    timestamp: Math.floor(Date.now() / 1000),
  };
}
