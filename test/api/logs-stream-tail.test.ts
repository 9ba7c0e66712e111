import t from 'tap';
import { auth, eventually, fakeDaemon, type TestDaemon } from '../helpers/app.js';
import { connect, type WsCapture } from '../helpers/ws.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1', command: ['sleep', '3600'] };

/** A pod that wrote out1..out12 and err1..err12 alternately, then err13..err22: its log ends in stderr. */
async function podEndingInStderr(d: TestDaemon) {
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  for (let i = 1; i <= 12; i++) {
    d.runtime.logs.append(pod.containerId, 'stdout', `out${i}\n`);
    d.runtime.logs.append(pod.containerId, 'stderr', `err${i}\n`);
  }
  for (let i = 13; i <= 22; i++) d.runtime.logs.append(pod.containerId, 'stderr', `err${i}\n`);
  return pod as { id: string; containerId: string };
}

const range = (p: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => `${p}${from + k}`);
const get = (d: TestDaemon, q: string, ndjson = false) =>
  d.app.inject({ url: q, headers: ndjson ? { ...auth, accept: 'application/x-ndjson' } : auth });

const bases = new WeakMap<TestDaemon, Promise<string>>();

/** A real client WebSocket on a loopback port (see logs.test.ts for why not injectWS). */
async function ws(d: TestDaemon, path: string): Promise<WsCapture> {
  if (!bases.has(d)) bases.set(d, d.app.listen({ host: '127.0.0.1', port: 0 }).then((a) => a.replace(/^http/, 'ws')));
  return connect(`${await bases.get(d)!}${path}`, { headers: auth });
}

t.test('the fake engine tails the combined log, then filters by stream, as Docker does', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podEndingInStderr(d);
  const up = d.runtime.logs.open(pod.containerId, true, { follow: false, tail: 5, timestamps: false, stdout: true, stderr: false });
  let bytes = 0;
  for await (const chunk of up.stream) bytes += (chunk as Buffer).length;
  t.equal(bytes, 0, 'stdout=1&stderr=0&tail=5 of a log ending in stderr: nothing');
});

t.test('GET logs: tail=N&stream=X is the last N lines of X, however the streams interleave', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podEndingInStderr(d);
  const url = `/v1/pods/${pod.id}/logs`;
  t.equal((await get(d, `${url}?tail=5&stream=stdout`)).body, `${range('out', 8, 12).join('\n')}\n`);
  t.equal((await get(d, `${url}?tail=3&stream=stderr`)).body, `${range('err', 20, 22).join('\n')}\n`);
  t.equal((await get(d, `${url}?tail=50&stream=stdout`)).body, `${range('out', 1, 12).join('\n')}\n`, 'fewer than N: all of them');
  const rows = (await get(d, `${url}?tail=2&stream=stdout`, true)).body.trim().split('\n').map((l) => JSON.parse(l));
  t.same(rows.map((r) => [r.stream, r.line]), [['stdout', 'out11'], ['stdout', 'out12']], 'NDJSON');
  // tail first, then since, as the engine applies them.
  const since = encodeURIComponent(rows[0].ts);
  t.equal((await get(d, `${url}?tail=5&stream=stdout&since=${since}`)).body, 'out11\nout12\n');
  const until = encodeURIComponent(rows[0].ts);
  t.equal((await get(d, `${url}?tail=5&stream=stdout&until=${until}`)).body, `${range('out', 8, 11).join('\n')}\n`);
});

t.test('GET logs: the tail grows by reads of 4x and stops when the log is exhausted', async (t) => {
  const d = await fakeDaemon(t);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  d.runtime.logs.append(pod.containerId, 'stdout', 'only\n');
  for (let i = 0; i < 1000; i++) d.runtime.logs.append(pod.containerId, 'stderr', `e${i}\n`);
  let before = d.runtime.calls.openLogs ?? 0;
  t.equal((await get(d, `/v1/pods/${pod.id}/logs?tail=1&stream=stdout`)).body, 'only\n');
  t.equal((d.runtime.calls.openLogs ?? 0) - before, 6, 'tail 1, 4, 16, 64, 256, 1024');
  before = d.runtime.calls.openLogs ?? 0;
  t.equal((await get(d, `/v1/pods/${pod.id}/logs?tail=400&stream=stdout`)).body, 'only\n');
  t.equal((d.runtime.calls.openLogs ?? 0) - before, 2, 'tail 400, then 1600 holds fewer lines: the whole log');
  before = d.runtime.calls.openLogs ?? 0;
  t.equal((await get(d, `/v1/pods/${pod.id}/logs?tail=3&stream=stderr`)).body, 'e997\ne998\ne999\n');
  t.equal((d.runtime.calls.openLogs ?? 0) - before, 1, 'the first read held enough');
  t.equal(d.runtime.logs.openStreams, 0, 'every engine read closed');
});

t.test('WebSocket backlog: tail=N&stream=X is the last N lines of X, then live lines of X once', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await podEndingInStderr(d);
  const once = await ws(d, `/v1/pods/${pod.id}/logs/stream?tail=5&stream=stdout&follow=false`);
  t.equal((await once.closed).code, 1000);
  t.same(once.msgs.map((m) => m.line ?? m.reason), [...range('out', 8, 12), 'complete']);

  const live = await ws(d, `/v1/pods/${pod.id}/logs/stream?tail=5&stream=stdout`);
  await live.until((m) => m.line === 'out12');
  await eventually(() => d.logs.streams.followers(pod.id) === 1);
  d.runtime.logs.append(pod.containerId, 'stderr', 'err23\n');
  d.runtime.logs.append(pod.containerId, 'stdout', 'out13\n');
  await live.until((m) => m.line === 'out13');
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth });
  await live.closed;
  t.same(live.msgs.map((m) => m.line ?? m.reason), [...range('out', 8, 13), 'stopped'], 'no gap, no duplicate, no stderr');
});
