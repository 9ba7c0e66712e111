import t from 'tap';
import { auth, eventually, fakeDaemon } from '../helpers/app.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1', command: ['sleep', '3600'] };

t.test('answers at once when the pod is in the state, when it gets there, 408 when it does not', async (t) => {
  const d = await fakeDaemon(t);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  const now = await d.app.inject({ url: `/v1/pods/${pod.id}/wait?state=running`, headers: auth });
  t.equal(now.statusCode, 200);
  t.equal(now.json().state, 'running');

  // Woken by the exit the watcher applies: no polling, so it answers right after the event.
  const waiting = d.app.inject({ url: `/v1/pods/${pod.id}/wait?state=stopped&timeout=10`, headers: auth });
  await eventually(() => d.waiters.size === 1);
  const t0 = Date.now();
  d.runtime.exit(pod.containerId, 3);
  const res = await waiting;
  t.equal(res.statusCode, 200);
  t.equal(res.json().state, 'stopped');
  t.equal(res.json().exitCode, 3);
  t.ok(Date.now() - t0 < 500, `answered ${Date.now() - t0} ms after the exit`);

  // Transitional states are seen too (a start passes through `starting`).
  d.runtime.latencyMs = 100;
  const starting = d.app.inject({ url: `/v1/pods/${pod.id}/wait?state=starting&timeout=5`, headers: auth });
  const running = d.app.inject({ url: `/v1/pods/${pod.id}/wait?state=running&timeout=5`, headers: auth });
  await eventually(() => d.waiters.size === 2);
  const start = d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth });
  t.equal((await starting).json().state, 'starting');
  t.equal((await running).json().state, 'running');
  t.equal((await start).statusCode, 200);
  d.runtime.latencyMs = 0;

  const t1 = Date.now();
  const timeout = await d.app.inject({ url: `/v1/pods/${pod.id}/wait?state=stopped&timeout=1`, headers: auth });
  t.equal(timeout.statusCode, 408);
  t.equal(timeout.json().code, 'PINACLED_ERR_TIMEOUT');
  t.match(timeout.json().detail, /is running, not stopped/);
  t.ok(Date.now() - t1 >= 950, 'waited the timeout');
});

t.test('404 for a missing pod or one deleted meanwhile; 400 for bad queries', async (t) => {
  const d = await fakeDaemon(t);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  t.equal((await d.app.inject({ url: '/v1/pods/pnope/wait?state=running', headers: auth })).statusCode, 404);
  const waiting = d.app.inject({ url: `/v1/pods/${pod.id}/wait?state=stopped&timeout=10`, headers: auth });
  await eventually(() => d.waiters.size === 1);
  await d.app.inject({ method: 'DELETE', url: `/v1/pods/${pod.id}`, headers: auth });
  const gone = await waiting;
  t.equal(gone.statusCode, 404);
  t.equal(gone.json().code, 'PINACLED_ERR_POD_NOT_FOUND');
  for (const q of ['', 'state=sleeping', 'state=running&timeout=121', 'state=running&timeout=-1', 'state=running&x=1']) {
    const r = await d.app.inject({ url: `/v1/pods/${pod.id}/wait?${q}`, headers: auth });
    t.equal(r.statusCode, 400, q);
    t.equal(r.json().code, 'PINACLED_ERR_VALIDATION');
  }
  t.equal((await d.app.inject({ url: `/v1/pods/${pod.id}/wait?state=running` })).statusCode, 401);
});

t.test('shutdown ends waits with 503 instead of holding the close', async (t) => {
  const d = await fakeDaemon(t);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  const waiting = d.app.inject({ url: `/v1/pods/${pod.id}/wait?state=stopped&timeout=60`, headers: auth });
  await eventually(() => d.waiters.size === 1);
  const t0 = Date.now();
  await d.close();
  const res = await waiting;
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'PINACLED_ERR_NOT_READY');
  t.ok(Date.now() - t0 < 2000, 'close did not wait for the 60 s wait');
});
