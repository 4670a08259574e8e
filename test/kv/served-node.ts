import { execa, type ResultPromise } from 'execa';
import { CLI } from '../support/cli.js';
import { freePort } from '../support/db-servers.js';
import type { TestNode } from '../support/test-node.js';
import { alice, cacaoHeader, cidOfHeader, host, iso, post, siweFields, ucan } from '../auth-engine/support.js';
import { sessionAtt } from './http-support.js';

/** `tinycloud serve` as an operator runs it, in its own process: it can be killed with SIGKILL, its RSS is its own. */
export async function serve(dir: string, env: Record<string, string>): Promise<{ url: string; child: ResultPromise }> {
  const port = await freePort();
  const child = execa('node', [CLI, 'serve', '--dir', dir, '--port', String(port), '--json'], {
    reject: false,
    env: { TINYCLOUD_LOG_LEVEL: 'silent', ...env },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').slice(0, -1).find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void child.then((r) => reject(new Error(`serve exited (${r.exitCode}): ${out}`)));
  });
  return { url, child };
}

/** The SDK sign-in against a node on the wall clock: host the space, then a one-hour session. */
export async function signIn(url: string): Promise<{ space: string; token: (att: Record<string, Record<string, [{}]>>) => string }> {
  const node = { url } as TestNode;
  const space = alice.space('crash');
  await host(node, alice, space);
  const now = Date.now() / 1000;
  const session = cacaoHeader(siweFields(alice, { att: sessionAtt(space), issuedAt: iso(now - 60), expirationTime: iso(now + 3600) }), alice);
  const answer = await post(node, '/delegate', session);
  if (answer.status !== 200) throw new Error(`session: ${answer.status} ${answer.text}`);
  const sessionCid = await cidOfHeader(session);
  return { space, token: (att) => ucan(alice.session, { att, prf: [sessionCid] }, Date.now() / 1000) };
}
