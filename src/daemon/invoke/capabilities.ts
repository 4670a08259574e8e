import { CAPABILITIES_READ } from '../../core/auth/engine/index.js';
import { unwrap } from '../../core/result.js';
import { legacyCapabilitiesView } from '../legacy.js';
import type { InvokeHandler } from './dispatch.js';

/** `tinycloud.capabilities/read` (WIRE §4): the SDK's `listDelegations` / the old client's `sessions()`. */
export const capabilitiesReadHandler: InvokeHandler = {
  name: 'capabilities',
  matches: (inv) => inv.capabilities.length > 0 && inv.capabilities.every((c) => c.ability === CAPABILITIES_READ),
  handle: async ({ node, invocation, reply }) => {
    const records = unwrap(await node.auth.capabilitiesRead(invocation));
    const body = invocation.dialect === 'legacy' ? legacyCapabilitiesView(records) : records;
    return reply.type('application/json').send(JSON.stringify(body));
  },
};
