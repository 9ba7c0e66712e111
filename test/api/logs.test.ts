import t from 'tap';
import { TRUNCATION_MARKER } from '../../src/logs/lines.js';
import { auth, eventually, fakeDaemon, TEST_TOKEN, type TestDaemon } from '../helpers/app.js';
import { connect, type WsCapture } from '../helpers/ws.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1', command: ['sleep', '3600'] };

async function podWithLogs(d: TestDaemon, lines: [string, string][]) {
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  for (const [stream, text] of lines) d.runtime.logs.append(pod.containerId, stream as 'stdout', text);
  return pod;
}

const bases = new WeakMap<TestDaemon, Promise<string>>();

/**
 * A real client WebSocket (on a loopback port) with its recorder attached before the handshake
 * completes. Real sockets, not injectWS: its in-memory transport never completes a close
 * handshake, which leaves the server's 30 s close timer running.
 */
async function injectCapture(d: TestDaemon, url: string): Promise<WsCapture> {
  if (!bases.has(d)) bases.set(d, d.app.listen({ host: '127.0.0.1', port: 0 }).then((a) => a.replace(/^http/, 'ws')));
  return connect(`${await bases.get(d)!}${url}`, { headers: auth });
}

async function listen(_t: Parameters<typeof fakeDaemon>[0], d: TestDaemon): Promise<string> {
  if (!bases.has(d)) bases.set(d, d.app.listen({ host: '127.0.0.1', port: 0 }).then((a) => a.replace(/^http/, 'ws')));
  return bases.get(d)!;
}

t.test('GET logs: text and NDJSON, tail, stream, timestamps, since', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podWithLogs(d, [
    ['stdout', 'one\ntwo\n'],
    ['stderr', 'oops\n'],
    ['stdout', 'three ✓\n'],
  ]);
  const text = await d.app.inject({ url: `/v1/pods/${pod.id}/logs`, headers: auth });
  t.equal(text.statusCode, 200);
  t.match(text.headers['content-type'], /^text\/plain/);
  t.equal(text.body, 'one\ntwo\noops\nthree ✓\n');

  const nd = await d.app.inject({ url: `/v1/pods/${pod.id}/logs?tail=2`, headers: { ...auth, accept: 'application/x-ndjson' } });
  t.match(nd.headers['content-type'], /^application\/x-ndjson/);
  const rows = nd.body.trim().split('\n').map((l) => JSON.parse(l));
  t.same(rows.map((r) => [r.stream, r.line]), [['stderr', 'oops'], ['stdout', 'three ✓']]);
  t.match(rows[0].ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

  const err = await d.app.inject({ url: `/v1/pods/${pod.id}/logs?stream=stderr`, headers: auth });
  t.equal(err.body, 'oops\n');
  const ts = await d.app.inject({ url: `/v1/pods/${pod.id}/logs?timestamps=true&tail=1`, headers: auth });
  t.match(ts.body, /^\d{4}-\d\d-\d\dT[\d:.]+Z three ✓\n$/);
  const since = await d.app.inject({ url: `/v1/pods/${pod.id}/logs?since=${encodeURIComponent(rows[0].ts)}`, headers: auth });
  t.equal(since.body, 'oops\nthree ✓\n', 'since is inclusive');
  const none = await d.app.inject({ url: `/v1/pods/${pod.id}/logs?tail=0`, headers: auth });
  t.equal(none.body, '');
});

t.test('GET logs: errors are coded problems', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podWithLogs(d, []);
  const missing = await d.app.inject({ url: '/v1/pods/nope/logs', headers: auth });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'PINACLED_ERR_POD_NOT_FOUND');
  for (const q of ['tail=-1', 'tail=lots', 'since=yesterday', 'since=999999999d', 'stream=stdin', 'follow=true', 'timestamps=maybe']) {
    const r = await d.app.inject({ url: `/v1/pods/${pod.id}/logs?${q}`, headers: auth });
    t.equal(r.statusCode, 400, q);
    t.equal(r.json().code, 'PINACLED_ERR_VALIDATION', q);
  }
  const noAuth = await d.app.inject({ url: `/v1/pods/${pod.id}/logs` });
  t.equal(noAuth.statusCode, 401);
  d.runtime.failNext('openLogs');
  const down = await d.app.inject({ url: `/v1/pods/${pod.id}/logs`, headers: auth });
  t.equal(down.statusCode, 503);
  t.equal(down.json().code, 'PINACLED_ERR_ENGINE_UNAVAILABLE');
  const plain = await d.app.inject({ url: `/v1/pods/${pod.id}/logs/stream`, headers: auth });
  t.equal(plain.statusCode, 426, 'the WebSocket route without an upgrade');
  t.equal(plain.json().code, 'PINACLED_ERR_UPGRADE_REQUIRED');
});

t.test('WebSocket follow: backlog, live lines, then end + close 1000 when the pod stops', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podWithLogs(d, [['stdout', 'a\nb\n']]);
  const ws = await injectCapture(d, `/v1/pods/${pod.id}/logs/stream?tail=1`);
  await ws.until((m) => m.line === 'b');
  d.runtime.logs.append(pod.containerId, 'stderr', 'live 1\n');
  d.runtime.logs.append(pod.containerId, 'stdout', 'live 2\n');
  await ws.until((m) => m.line === 'live 2');
  const stop = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth });
  t.equal(stop.statusCode, 200);
  const closed = await ws.closed;
  t.same(ws.msgs.map((m) => m.line ?? m), ['b', 'live 1', 'live 2', { type: 'end', reason: 'stopped' }]);
  t.same(ws.msgs[1].stream, 'stderr');
  t.equal(closed.code, 1000);
  t.equal(d.logs.streams.size, 0, 'shared stream gone');
  t.equal(d.runtime.logs.openStreams, 0, 'no engine stream left open');
});

t.test('ten followers share one engine stream; it is destroyed when the last leaves', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podWithLogs(d, [['stdout', 'old\n']]);
  const base = await listen(t, d);
  const clients = await Promise.all(Array.from({ length: 10 }, () => connect(`${base}/v1/pods/${pod.id}/logs/stream?tail=0`, { headers: auth })));
  // Each follower reads its own backlog once; then only the shared stream stays open.
  await eventually(() => d.runtime.logs.openStreams === 1 && d.logs.streams.followers(pod.id) === 10);
  d.runtime.logs.append(pod.containerId, 'stdout', 'new\n');
  for (const c of clients) await c.until((m) => m.line === 'new');
  t.ok(clients.every((c) => c.msgs.length === 1), 'tail=0: only the new line, once');
  for (const c of clients.slice(0, 9)) c.ws.terminate();
  await eventually(() => d.logs.streams.followers(pod.id) === 1);
  t.equal(d.runtime.logs.openStreams, 1, 'still open for the last follower');
  clients[9]!.ws.close();
  await eventually(() => d.runtime.logs.openStreams === 0 && d.logs.streams.size === 0);
  t.pass('engine stream destroyed with the last follower');
});

t.test('a follower joining while lines arrive gets each line exactly once', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podWithLogs(d, []);
  let i = 0;
  const writer = setInterval(() => {
    for (let k = 0; k < 20; k++, i++) d.runtime.logs.append(pod.containerId, i % 2 ? 'stderr' : 'stdout', `${i}\n`);
  }, 1);
  const early = await injectCapture(d, `/v1/pods/${pod.id}/logs/stream`);
  // The late one joins while lines keep coming: once the early one has some, and the writer
  // stops once the late one has had lines of its own.
  await eventually(() => early.msgs.length >= 100);
  const late = await injectCapture(d, `/v1/pods/${pod.id}/logs/stream`);
  const joinedAt = i;
  await eventually(() => late.msgs.filter((m) => Number(m.line) >= joinedAt).length >= 100);
  clearInterval(writer);
  const last = String(i - 1);
  await early.until((m) => m.line === last);
  await late.until((m) => m.line === last);
  for (const c of [early, late]) {
    const got = c.msgs.map((m) => Number(m.line));
    t.same(got, Array.from({ length: i }, (_, k) => k), `${got.length} lines, each once, in order`);
  }
});

t.test('follow of a stopped pod: its log, then end not-running; follow=false: end complete', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podWithLogs(d, [['stdout', 'x\n']]);
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth });
  const a = await injectCapture(d, `/v1/pods/${pod.id}/logs/stream`);
  t.equal((await a.closed).code, 1000);
  t.same(a.msgs.map((m) => m.line ?? m.reason), ['x', 'not-running']);
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth });
  const b = await injectCapture(d, `/v1/pods/${pod.id}/logs/stream?follow=false`);
  t.equal((await b.closed).code, 1000);
  t.same(b.msgs.at(-1), { type: 'end', reason: 'complete' });
});

t.test('delete while followed: end deleted', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podWithLogs(d, []);
  const ws = await injectCapture(d, `/v1/pods/${pod.id}/logs/stream`);
  await eventually(() => d.logs.streams.followers(pod.id) === 1);
  await d.app.inject({ method: 'DELETE', url: `/v1/pods/${pod.id}`, headers: auth });
  t.equal((await ws.closed).code, 1000);
  t.same(ws.msgs, [{ type: 'end', reason: 'deleted' }]);
});

t.test('long lines are cut with the marker at PINACLED_LOG_LINE_MAX_BYTES', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_LOG_LINE_MAX_BYTES: '256' });
  const pod = await podWithLogs(d, [['stdout', `${'y'.repeat(1000)}\nshort\n`]]);
  const r = await d.app.inject({ url: `/v1/pods/${pod.id}/logs`, headers: { ...auth, accept: 'application/x-ndjson' } });
  const rows = r.body.trim().split('\n').map((l) => JSON.parse(l));
  t.equal(rows[0].line, `${'y'.repeat(256)}${TRUNCATION_MARKER}`);
  t.equal(rows[0].truncated, true);
  t.equal(rows[1].line, 'short');
});

t.test('a client that does not read is dropped with 4001 and its engine stream released', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_WS_MAX_BUFFER_BYTES: String(1024 * 1024) });
  const pod = await podWithLogs(d, []);
  const ws = await injectCapture(d, `/v1/pods/${pod.id}/logs/stream`);
  await eventually(() => d.logs.streams.followers(pod.id) === 1);
  ws.ws.pause();
  // Enough to fill the kernel's loopback buffers too, before the server's queue grows; written
  // in engine-sized bursts, one per tick.
  const N = 200_000;
  for (let i = 0; i < N && d.logs.streams.size > 0; i++) {
    d.runtime.logs.append(pod.containerId, 'stdout', `${'z'.repeat(100)} ${i}\n`);
    if (i % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  await eventually(() => d.logs.streams.size === 0 && d.runtime.logs.openStreams === 0);
  ws.ws.resume();
  const closed = await ws.closed;
  t.equal(closed.code, 4001);
  t.equal(closed.reason, 'slow consumer');
  t.ok(ws.msgs.length > 0 && ws.msgs.length < N, `received ${ws.msgs.length} of ${N} lines before the drop`);
});

t.test('browser auth: subprotocols pinacled.v1 + bearer.<token>; the server selects pinacled.v1', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podWithLogs(d, [['stdout', 'hi\n']]);
  const base = await listen(t, d);
  const ok = await connect(`${base}/v1/pods/${pod.id}/logs/stream?follow=false`, { protocols: ['pinacled.v1', `bearer.${TEST_TOKEN}`] });
  t.equal(ok.ws.protocol, 'pinacled.v1');
  t.equal((await ok.closed).code, 1000);
  t.same(ok.msgs.map((m) => m.line ?? m.reason), ['hi', 'complete']);
  const header = await connect(`${base}/v1/pods/${pod.id}/logs/stream?follow=false`, { headers: auth });
  t.equal(header.ws.protocol, '', 'no subprotocol offered, none selected');
  await header.closed;
  const onlyBearer = await connect(`${base}/v1/pods/${pod.id}/logs/stream`, { protocols: [`bearer.${TEST_TOKEN}`] }).catch((e) => e);
  t.equal(onlyBearer.status, 400, 'bearer.<token> alone would fail in a browser: refused with a reason');
  t.equal(JSON.parse(onlyBearer.body).code, 'PINACLED_ERR_VALIDATION');
  const wrong = await connect(`${base}/v1/pods/${pod.id}/logs/stream`, { protocols: ['pinacled.v1', 'bearer.wrong-token-0000000000'] }).catch((e) => e);
  t.equal(wrong.status, 401);
  const inUrl = await connect(`${base}/v1/pods/${pod.id}/logs/stream?token=${TEST_TOKEN}`).catch((e) => e);
  t.equal(inUrl.status, 401, 'a token in the URL is not accepted');
  const missing = await connect(`${base}/v1/pods/nope/logs/stream`, { headers: auth }).catch((e) => e);
  t.equal(missing.status, 404);

  // A refused upgrade's socket is closed by the server, not left half-open (a leak per attempt).
  const { connect: tcp } = await import('node:net');
  const port = Number(new URL(base).port);
  const s = tcp({ host: '127.0.0.1', port });
  let answer = '';
  s.on('data', (b) => (answer += b.toString()));
  const ended = new Promise<void>((resolve) => s.on('close', () => resolve()));
  s.write(`GET /v1/pods/${pod.id}/logs/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  const timer = setTimeout(() => s.destroy(new Error('still open')), 3000);
  await ended;
  clearTimeout(timer);
  t.match(answer, /^HTTP\/1.1 401/, 'refused');
  t.notOk(s.errored, 'the server closed the socket');
});

t.test('daemon shutdown: followers get end shutdown and close 1001', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podWithLogs(d, []);
  const base = await listen(t, d);
  const ws = await connect(`${base}/v1/pods/${pod.id}/logs/stream`, { headers: auth });
  await eventually(() => d.logs.streams.followers(pod.id) === 1);
  d.logs.close();
  const closed = await ws.closed;
  t.equal(closed.code, 1001);
  t.same(ws.msgs, [{ type: 'end', reason: 'shutdown' }]);
});
