import t from 'tap';
import { auth, eventually, fakeDaemon, TEST_TOKEN, type TestDaemon } from '../helpers/app.js';
import { connect } from '../helpers/ws.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1', command: ['sleep', '3600'] };

async function events(d: TestDaemon, query = '') {
  const r = await d.app.inject({ url: `/v1/events${query}`, headers: auth });
  if (r.statusCode !== 200) throw new Error(`GET /v1/events${query}: ${r.statusCode} ${r.body}`);
  return r.json();
}

t.test('GET /v1/events: every transition with seq, paging, podId filter', async (t) => {
  const d = await fakeDaemon(t);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  const other = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'other' } })).json();
  d.runtime.exit(pod.containerId, 3);
  await eventually(async () => (await events(d, `?podId=${pod.id}`)).items.some((e: { type: string }) => e.type === 'exited'));
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth });
  d.runtime.exit(pod.containerId, 137, { oom: true });
  await eventually(async () => (await events(d)).items.some((e: { type: string }) => e.type === 'oom-killed'));
  await d.app.inject({ method: 'DELETE', url: `/v1/pods/${pod.id}`, headers: auth });

  const all = await events(d);
  const mine = all.items.filter((e: { podId: string }) => e.podId === pod.id);
  t.same(mine.map((e: { type: string }) => e.type), ['created', 'started', 'exited', 'started', 'oom-killed', 'deleted']);
  const exited = mine[2];
  t.same(exited.details, { exitCode: 3, oomKilled: false });
  t.equal(exited.podName, 'web');
  t.match(exited.time, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
  const seqs = all.items.map((e: { seq: number }) => e.seq);
  t.same(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'gap-free from 1');
  t.equal(all.latestSeq, seqs.at(-1));
  t.equal(all.oldestSeq, 1);

  const page1 = await events(d, '?limit=3');
  t.same(page1.items.map((e: { seq: number }) => e.seq), [1, 2, 3]);
  t.equal(page1.next, 3);
  const page2 = await events(d, `?after=${page1.next}&limit=3`);
  t.same(page2.items.map((e: { seq: number }) => e.seq), [4, 5, 6]);
  const forOther = await events(d, `?podId=${other.id}`);
  t.same(forOther.items.map((e: { type: string }) => e.type), ['created', 'started']);
  const end = await events(d, `?after=${all.latestSeq}`);
  t.same(end.items, []);
  t.equal(end.next, all.latestSeq, 'next stays put at the end');

  for (const q of ['?after=-1', '?limit=0', '?limit=5000', '?after=x', '?foo=1', `?after=${all.latestSeq + 1}`]) {
    const r = await d.app.inject({ url: `/v1/events${q}`, headers: auth });
    t.equal(r.statusCode, 400, q);
    t.equal(r.json().code, 'PINACLED_ERR_VALIDATION', q);
  }
  t.equal((await d.app.inject({ url: '/v1/events' })).statusCode, 401);
  t.equal((await d.app.inject({ url: '/v1/events/stream', headers: auth })).statusCode, 426);
});

t.test('WebSocket: replay from after, then live; a reconnect with the last seq misses nothing', async (t) => {
  const d = await fakeDaemon(t);
  const base = (await d.app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  const first = await connect(`${base}/v1/events/stream?after=0`, { protocols: ['pinacled.v1', `bearer.${TEST_TOKEN}`] });
  t.equal(first.ws.protocol, 'pinacled.v1');
  await first.until((m) => m.event?.type === 'started');
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth });
  await first.until((m) => m.event?.type === 'stopped');
  const lastSeq = first.msgs.at(-1).event.seq;
  first.ws.close();
  await first.closed;

  // Five transitions while disconnected: start (started), stop (exited, stopped), start
  // (started), and an exit outside the API (exited).
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth });
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth });
  const restarted = (await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth })).json();
  d.runtime.exit(restarted.containerId, 137);
  const missed = await eventually(async () => {
    const items = (await events(d, `?after=${lastSeq}`)).items;
    return items.length === 5 && items;
  });
  t.same(missed.map((e: { type: string }) => e.type), ['started', 'exited', 'stopped', 'started', 'exited']);

  const again = await connect(`${base}/v1/events/stream?after=${lastSeq}`, { headers: auth });
  await again.until((m) => m.event?.seq === missed.at(-1).seq);
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth });
  const live = await again.until((m) => m.event?.type === 'started' && m.event.seq > missed.at(-1).seq);
  const seqs = again.msgs.map((m) => m.event.seq);
  t.same(seqs, [...missed.map((e: { seq: number }) => e.seq), live.event.seq], 'replayed exactly the missed ones, then live, no duplicate');
  again.ws.close();
  await again.closed;
});
