import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { FLUSH_BYTES, FLUSH_INTERVAL_MS, flushQueued, JsonSocket } from '../../src/api/websocket.js';
import { capture, type WsCapture } from '../helpers/ws.js';

/** A ws server on a loopback port whose connections are wrapped in JsonSocket, and a client of it. */
async function pair(t: Test, maxBufferBytes = 4 * 1024 * 1024): Promise<{ server: JsonSocket; raw: WebSocket; client: WsCapture; writes: () => number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  t.teardown(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
  });
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const client = capture(ws);
  await once(ws, 'open');
  const [raw] = await accepted;
  // Counts the writes that reach the server's socket (frames, pings, close).
  const socket = (raw as unknown as { _socket: { write: (...a: unknown[]) => boolean } })._socket;
  let n = 0;
  const write = socket.write.bind(socket);
  socket.write = (...a: unknown[]) => {
    n++;
    return write(...a);
  };
  return { server: new JsonSocket(raw, { maxBufferBytes, heartbeatMs: 60_000 }), raw, client, writes: () => n };
}

const tick = () => new Promise((r) => setImmediate(r));

t.test('messages sent in one turn arrive as that many messages, in order, in a few socket writes', async (t) => {
  const { server, client, writes } = await pair(t);
  const sent: unknown[] = [];
  for (let i = 0; i < 5000; i++) sent.push({ ts: `t${i}`, stream: i % 2 ? 'stderr' : 'stdout', line: `line ${i}` });
  sent.push({ line: 'ctl \u0000\u001f\t quote" backslash\\ lone \udc00 pair 😀 accents éà' });
  sent.push({ line: 'x'.repeat(70_000) });
  sent.push({ line: 'y'.repeat(200) });
  for (const m of sent) server.send(m);
  t.ok(server.queuedBytes > 0, 'queued until the turn ends');
  await client.until((m) => m.line === 'y'.repeat(200));
  t.same(client.msgs, sent);
  const bytes = sent.reduce<number>((n, m) => n + Buffer.byteLength(JSON.stringify(m)) + 10, 0);
  t.ok(writes() <= Math.ceil(bytes / FLUSH_BYTES) + 2, `${writes()} socket writes for ${sent.length} messages`);
});

t.test('pre-serialized ASCII messages and others share one ordered stream', async (t) => {
  const { server, client } = await pair(t);
  const sent: unknown[] = [];
  for (let i = 0; i < 300; i++) {
    const m = i % 3 ? { n: i, line: 'plain' } : { n: i, line: 'ünïcode 😀' };
    sent.push(m);
    if (i % 3) server.sendJson(JSON.stringify(m), true);
    else server.send(m);
  }
  await client.until((m) => m.n === 299);
  t.same(client.msgs, sent);
});

t.test('a message to an idle socket leaves at the end of the turn; later ones keep their order', async (t) => {
  const { server, client } = await pair(t);
  server.send({ n: 1 });
  await tick();
  await client.until((m) => m.n === 1, 1000);
  for (let i = 2; i <= 100; i++) {
    server.send({ n: i });
    if (i % 7 === 0) await tick();
  }
  await client.until((m) => m.n === 100, 1000);
  t.same(
    client.msgs.map((m) => m.n),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
});

t.test('while messages keep coming, writes are at least FLUSH_INTERVAL_MS apart', async (t) => {
  const { server, client, writes } = await pair(t);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 10 * FLUSH_INTERVAL_MS) {
    server.send({ n: n++ });
    await tick();
  }
  await client.until((m) => m.n === n - 1, 1000);
  t.same(
    client.msgs.map((m) => m.n),
    Array.from({ length: n }, (_, i) => i),
  );
  t.ok(n > 20, `${n} turns with a message`);
  // One per interval (and the first at once, the last after the loop), plus one per FLUSH_BYTES.
  const bytes = client.msgs.reduce((b, m) => b + JSON.stringify(m).length + 2, 0);
  t.ok(writes() <= 10 + 2 + Math.ceil(bytes / FLUSH_BYTES), `${writes()} writes for ${n} messages (${bytes} bytes) over ${10 * FLUSH_INTERVAL_MS} ms`);
});

t.test('flushQueued() before closing the ws directly (daemon shutdown) sends what was queued', async (t) => {
  const { server, raw, client } = await pair(t);
  for (let i = 0; i < 10; i++) server.send({ n: i });
  flushQueued(raw);
  raw.close(1001, 'shutdown');
  const closed = await client.closed;
  t.equal(closed.code, 1001);
  t.same(
    client.msgs.map((m) => m.n),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
});

t.test('close() sends the queued messages, then the close frame', async (t) => {
  const { server, client } = await pair(t);
  for (let i = 0; i < 100; i++) server.send({ n: i });
  server.send({ type: 'end', reason: 'stopped' });
  server.close(1000, 'stopped');
  const closed = await client.closed;
  t.equal(closed.code, 1000);
  t.equal(client.msgs.length, 101);
  t.same(client.msgs.at(-1), { type: 'end', reason: 'stopped' });
  server.send({ late: true });
  t.equal(server.queuedBytes, 0, 'nothing is queued after the close');
});

t.test('queued bytes count toward the limit: a burst larger than the limit drops the client (4001)', async (t) => {
  // A limit below FLUSH_BYTES: the whole burst is still queued (in this turn) when it passes the limit.
  const max = 32 * 1024;
  const { server, raw, client } = await pair(t, max);
  const line = 'q'.repeat(1000);
  let sent = 0;
  while (!server.closed && sent < 1000) {
    server.send({ line });
    sent++;
  }
  t.ok(server.closed, 'dropped');
  const each = Buffer.byteLength(JSON.stringify({ line })) + 4;
  t.equal(sent, Math.floor(max / each) + 1, `dropped by the message that passed the limit (${sent})`);
  t.equal(server.queuedBytes, raw.bufferedAmount, 'the queue is released');
  const closed = await client.closed;
  t.equal(closed.code, 4001);
  t.equal(closed.reason, 'slow consumer');
  t.equal(client.msgs.length, 0, 'the dropped burst never left');
});

t.test('a client that does not read is dropped (4001); hasRoom() turns false first', async (t) => {
  const max = 512 * 1024;
  const { server, client } = await pair(t, max);
  client.ws.pause();
  const line = 'r'.repeat(500);
  let sawNoRoom = false;
  let sent = 0;
  while (!server.closed && sent < 1_000_000) {
    for (let i = 0; i < 100 && !server.closed; i++) {
      server.send({ line, i });
      sent++;
      if (!server.hasRoom() && !server.closed) sawNoRoom = true;
    }
    await tick();
  }
  t.ok(server.closed, `dropped after ${sent} messages`);
  t.ok(sawNoRoom, 'hasRoom() was false before the drop');
  client.ws.resume();
  const closed = await client.closed;
  t.equal(closed.code, 4001);
  t.ok(client.msgs.length < sent);
  for (let i = 0; i < client.msgs.length; i++) if (client.msgs[i].i !== i % 100) t.fail(`message ${i} out of order`);
});

t.test('waitForRoom() resolves once the client has read its backlog', async (t) => {
  const max = 400 * 1024;
  const { server, client } = await pair(t, max);
  client.ws.pause();
  while (server.hasRoom()) {
    for (let i = 0; i < 50; i++) server.send({ line: 's'.repeat(500) });
    await tick();
  }
  t.notOk(server.closed);
  const room = server.waitForRoom();
  client.ws.resume();
  await room;
  t.ok(server.hasRoom());
});
