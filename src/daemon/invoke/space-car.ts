import { Readable } from 'node:stream';
import { CAR_CONTENT_TYPE, exportSpace, importSpace } from '../../core/car/index.js';
import type { AuthorizedInvocation } from '../../core/auth/engine/types.js';
import { TinyCloudError } from '../../core/errors.js';
import type { InvokeHandler } from './dispatch.js';

export const SPACE_EXPORT = 'tinycloud.space/export';
export const SPACE_IMPORT = 'tinycloud.space/import';

/** The one `<space>/space` capability of an export or import invocation, if that is what it is. */
function carCapability(invocation: AuthorizedInvocation): { ability: string; space: string } | undefined {
  const caps = invocation.capabilities.filter((c) => c.ability === SPACE_EXPORT || c.ability === SPACE_IMPORT);
  if (caps.length === 0) return undefined;
  const [cap] = caps;
  const t = cap!.target;
  if (caps.length !== 1 || invocation.capabilities.length !== 1 || t.kind !== 'tinycloud' || t.service !== 'space' || t.path !== undefined) {
    throw new TinyCloudError('BAD_REQUEST', `${cap!.ability} takes exactly one capability, on <space>/space`);
  }
  return { ability: cap!.ability, space: t.space.text };
}

/**
 * `tinycloud.space/export` streams the space as a CAR (docs/car-format.md); `x-tinycloud-since` (comma-separated
 * epoch CIDs) makes it incremental. `tinycloud.space/import` reads a CAR of that same space from the body and
 * answers the import report. Both are authorized like any capability: the owner's session, or a delegate.
 */
export const spaceCarHandler: InvokeHandler = {
  name: 'space-car',
  matches: (invocation) => invocation.capabilities.some((c) => c.ability === SPACE_EXPORT || c.ability === SPACE_IMPORT),
  handle: async ({ node, invocation, request, reply }) => {
    const target = carCapability(invocation)!;
    if (target.ability === SPACE_IMPORT) {
      const report = await importSpace(node, request.raw, { expectSpace: target.space });
      return reply.type('application/json').send(JSON.stringify(report));
    }
    const sinceHeader = request.headers['x-tinycloud-since'];
    const since = (Array.isArray(sinceHeader) ? sinceHeader.join(',') : (sinceHeader ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
    const car = exportSpace(node, target.space, { since });
    const chunks = car[Symbol.asyncIterator]();
    // The first chunk carries the manifest: failures before it (unknown space or epoch) still get a status.
    const first = await chunks.next();
    const body = Readable.from(
      (async function* () {
        if (!first.done) yield first.value;
        for (;;) {
          const next = await chunks.next();
          if (next.done) return;
          yield next.value;
        }
      })(),
      { objectMode: false },
    );
    body.on('close', () => void chunks.return?.(undefined));
    return reply
      .type(CAR_CONTENT_TYPE)
      .header('x-tinycloud-car-root', car.manifest!.root.toString())
      .send(body);
  },
};
