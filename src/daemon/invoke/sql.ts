import { isSqlCapability, MAX_REQUEST_BYTES, parseSqlRequest, sqlTargetOf } from '../../core/services/sql/index.js';
import { readJsonBody } from '../json-body.js';
import type { InvokeHandler } from './dispatch.js';

/** `tinycloud.sql/*` over `/invoke` (WIRE §5): a JSON body in, JSON or the database file out. */
export const sqlHandler: InvokeHandler = {
  name: 'sql',
  matches: (invocation) => invocation.capabilities.some(isSqlCapability),
  handle: async ({ node, invocation, request, reply }) => {
    const target = await sqlTargetOf(node.metadata, invocation);
    const body = parseSqlRequest(await readJsonBody(request, MAX_REQUEST_BYTES));
    const response = await node.sql.invoke({
      ...target,
      request: body,
      event: {
        multihash: invocation.multihash,
        bytes: invocation.envelope.bytes,
        invoker: invocation.invoker,
        issuedAt: invocation.info.issuedAt,
        expiry: invocation.info.expiry,
        facts: invocation.facts,
      },
    });
    if (response.type === 'json') return reply.code(200).type('application/json').send(response.body);
    return reply.code(200).type('application/x-sqlite3').header('content-length', String(response.size)).send(response.stream);
  },
};
