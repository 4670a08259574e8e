import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAliceIntact, head, post, rawRequest, startHostileNode, tempFiles, type Hostile } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `check` holds, or fails after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(25);
  }
}

/** A socket that has sent `bytes` and is left hanging (or cut by the test). */
async function openUpload(url: string, bytes: (string | Buffer)[]): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (const part of bytes) socket.write(part);
  // Let the server read what was sent, run the guard and start streaming the body.
  await sleep(150);
  return socket;
}

/**
 * Uploads that never finish: cut mid-body, lying about their length, stalled. Nothing partial may become
 * visible, no staging file may stay behind, and nobody else may have to wait for them.
 */
describe('hostile uploads', () => {
  let h: Hostile;
  beforeAll(async () => {
    h = await startHostileNode();
  });
  afterAll(async () => h?.destroy());

  const putHead = (key: string, lines: string[]) =>
    head('POST', '/invoke', [`Authorization: ${h.alice.token({ [h.alice.resource(key)]: { 'tinycloud.kv/put': [{}] } })}`, ...lines]);
  const batchHead = (keys: string[], lines: string[]) =>
    head('POST', '/invoke', [
      `Authorization: ${h.alice.token(Object.fromEntries(keys.map((k) => [h.alice.resource(k), { 'tinycloud.kv/put': [{}] }])))}`,
      'Content-Type: multipart/form-data; boundary=XYZ',
      ...lines,
    ]);
  const noTempFiles = () => eventually(() => tempFiles(h).length === 0);

  it('KV put cut mid-body (Content-Length): nothing stored, no staging file left', async () => {
    const socket = await openUpload(h.node.url, [putHead('cut/cl', ['Content-Length: 500000']), Buffer.alloc(200_000, 0x61)]);
    expect(tempFiles(h).length).toBeGreaterThan(0);
    socket.destroy();
    await noTempFiles();
    expect((await h.alice.get('cut/cl')).status).toBe(404);
  });

  it('KV put cut mid-body (chunked), with RST or with FIN', async () => {
    for (const how of ['destroy', 'end'] as const) {
      const key = `cut/chunked-${how}`;
      const chunk = Buffer.alloc(50_000, 0x62);
      const socket = await openUpload(h.node.url, [putHead(key, ['Transfer-Encoding: chunked']), `${chunk.length.toString(16)}\r\n`, chunk, '\r\n', '10\r\nonly half']);
      if (how === 'destroy') socket.destroy();
      else socket.end();
      await noTempFiles();
      expect((await h.alice.get(key)).status, how).toBe(404);
      socket.destroy();
    }
  });

  it('KV put whose Content-Length overstates the body, then half-closes: nothing stored', async () => {
    const socket = await openUpload(h.node.url, [putHead('cut/lie', ['Content-Length: 100']), 'only forty bytes of the hundred promised.']);
    socket.end();
    await noTempFiles();
    expect((await h.alice.get('cut/lie')).status).toBe(404);
    socket.destroy();
  });

  it('KV put whose Content-Length understates the body: at most the declared bytes are stored, the rest is a bad request', async () => {
    const answer = await rawRequest(h.node.url, `${putHead('cut/short', ['Content-Length: 5'])}hello, and then some trailing garbage`);
    expect([200, 400]).toContain(answer.status);
    const stored = await h.alice.get('cut/short');
    if (stored.status === 200) expect(await stored.text()).toBe('hello');
    else expect(stored.status).toBe(404);
    await h.alice.put('cut/short', 'hello');
  });

  it('KV put declaring more than storage.max_object_size (5 GiB) is a 413 at once, without waiting for the body', async () => {
    const started = Date.now();
    const answer = await rawRequest(h.node.url, `${putHead('huge/declared', ['Content-Length: 6442450944'])}only a few bytes`, 3000);
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe('close');
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await h.alice.get('huge/declared')).status).toBe(404);
  });

  it('multipart batch put cut in its second part: neither key is visible, no staging file left', async () => {
    const first = `--XYZ\r\nContent-Disposition: form-data; name="mp/one"\r\n\r\n${'1'.repeat(100_000)}\r\n`;
    const second = `--XYZ\r\nContent-Disposition: form-data; name="mp/two"\r\n\r\n${'2'.repeat(50_000)}`;
    for (const how of ['destroy', 'end'] as const) {
      const socket = await openUpload(h.node.url, [batchHead(['mp/one', 'mp/two'], ['Transfer-Encoding: chunked']), `${Buffer.byteLength(first + second).toString(16)}\r\n${first}${second}\r\n`]);
      if (how === 'destroy') socket.destroy();
      else socket.end();
      await noTempFiles();
      expect((await h.alice.get('mp/one')).status, how).toBe(404);
      expect((await h.alice.get('mp/two')).status, how).toBe(404);
      socket.destroy();
    }
  });

  it('a SQL body cut mid-way changes nothing', async () => {
    const body = JSON.stringify({ action: 'execute', sql: "INSERT INTO notes (title) VALUES ('half')" });
    const socket = await openUpload(h.node.url, [
      head('POST', '/invoke', [`Authorization: ${h.sqlToken('tinycloud.sql/write')}`, 'Content-Type: application/json', `Content-Length: ${body.length}`]),
      body.slice(0, 30),
    ]);
    socket.destroy();
    await sleep(100);
    const rows = await post(h.node, '/invoke', h.sqlToken('tinycloud.sql/read'), '{"action":"query","sql":"SELECT count(*) FROM notes"}', { 'content-type': 'application/json' });
    expect(rows.json()).toMatchObject({ rows: [[2]] });
  });

  it('stalled uploads (KV, batch, SQL, status) do not hold up anyone else, even on the same key and database', async () => {
    const stalled = await Promise.all([
      openUpload(h.node.url, [putHead('stall/key', ['Content-Length: 1000000']), 'x'.repeat(10)]),
      openUpload(h.node.url, [batchHead(['stall/key', 'stall/other'], ['Content-Length: 1000000']), '--XYZ\r\nContent-Disposition: form-data; name="stall/key"\r\n\r\nabc']),
      openUpload(h.node.url, [head('POST', '/invoke', [`Authorization: ${h.sqlToken('tinycloud.sql/write')}`, 'Content-Type: application/json', 'Content-Length: 500']), '{"action":"execute","sql":"INSERT']),
      openUpload(h.node.url, [head('POST', '/invoke', [`Authorization: ${h.sqlToken('tinycloud.sql/write')}`, 'Content-Type: application/json', 'Transfer-Encoding: chunked']), '5\r\n{"act']),
    ]);
    const started = Date.now();
    const put = await h.alice.put('stall/key', 'the other writer');
    expect(put.status).toBe(200);
    expect(await (await h.alice.get('stall/key')).text()).toBe('the other writer');
    const sql = await post(h.node, '/invoke', h.sqlToken('tinycloud.sql/write'), JSON.stringify({ action: 'execute', sql: "UPDATE notes SET body = body WHERE id = 1" }), {
      'content-type': 'application/json',
    });
    expect(sql.status, sql.text).toBe(200);
    expect((await fetch(`${h.node.url}/healthz`)).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    for (const socket of stalled) socket.destroy();
    await noTempFiles();
    expect((await h.alice.get('stall/other')).status).toBe(404);
  });

  it("alice's data is intact afterwards", async () => {
    await expectAliceIntact(h, { 'cut/short': 'hello', 'stall/key': 'the other writer' });
  });
});
