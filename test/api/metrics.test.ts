import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { EngineUnavailableError } from '../../src/runtime/errors.js';
import { validateResponse, type OpenApiDoc } from '../contract/validate-response.js';
import { auth, eventually, fakeDaemon, OPENAPI_PATH, TEST_TOKEN } from '../helpers/app.js';
import { parseMetrics } from '../helpers/metrics-text.js';

const doc = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as OpenApiDoc;
/** The answer matches openapi.yaml (closed objects: no undocumented field). */
const contract = (res: { statusCode: number; body: string; headers: Record<string, unknown> }, path: string) =>
  validateResponse(doc, 'GET', path, res.statusCode, JSON.parse(res.body), { contentType: String(res.headers['content-type']) });

/*
 * On the fake runtime the collector cannot find a container's cgroup on this host (the fake's
 * pid is not the container's), so every sample comes through the engine stats fallback: these
 * tests cover the fallback, the scrape path and the API. test/integration/metrics.test.ts covers
 * the cgroup path against real runsc pods.
 */
const custom = { template: 'custom', image: 'pinacled/testbox:1', resources: { cpuCores: 0.5, memoryMb: 128 } };
// The collector's timer never fires during a test: passes are driven by hand.
const env = { PINACLED_STATS_INTERVAL_S: '3600', PINACLED_RECONCILE_INTERVAL_S: '3600' };

const series = (m: Map<string, number>, name: string, podId?: string) =>
  [...m.keys()].filter((k) => (k === name || k.startsWith(`${name}{`)) && (!podId || k.includes(`pod_id="${podId}"`)));
const value = (m: Map<string, number>, name: string, podId: string) => {
  const k = series(m, name, podId);
  return k.length === 1 ? m.get(k[0]!) : undefined;
};

t.test('stats: latest sample, cpu from deltas, 404 and 409', async (t) => {
  const d = await fakeDaemon(t, env);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'a' } })).json();
  // Let the sample taken at start land, then start from nothing: readings below are scripted.
  await eventually(() => d.collector.latest(pod.id));
  d.collector.forget(pod.id);
  const t0 = Date.parse('2030-01-01T00:00:00Z');
  d.runtime.stats.set(pod.containerId, {
    readAt: new Date(t0).toISOString(),
    cpuUsageNs: 3e9,
    memoryUsageBytes: 300e6,
    memoryWorkingSetBytes: 210e6,
    networkRxBytes: 1000,
    networkTxBytes: 2000,
    pids: 40,
  });
  await d.collector.sampleAll();
  let s = (await d.app.inject({ url: `/v1/pods/${pod.id}/stats`, headers: auth })).json();
  t.equal(s.memoryWorkingSetBytes, 210e6);
  t.equal(s.memoryUsageBytes, 300e6);
  t.equal(s.memoryLimitBytes, 128 * 1024 * 1024, 'limit from the engine');
  t.equal(s.cpuCores, null, 'no rate before a second sample');
  t.equal(s.networkRxBytes, 1000);
  t.equal(s.pids, 40);
  t.equal(s.source, 'engine');
  t.equal(s.sampledAt, '2030-01-01T00:00:00.000Z');

  // 1 CPU second over 2 s of wall time: 0.5 cores, which is 100 % of a 0.5 CPU limit.
  d.runtime.stats.set(pod.containerId, { ...d.runtime.stats.get(pod.containerId), readAt: new Date(t0 + 2000).toISOString(), cpuUsageNs: 4e9 });
  await d.collector.sampleAll();
  const second = await d.app.inject({ url: `/v1/pods/${pod.id}/stats`, headers: auth });
  t.same(contract(second, `/v1/pods/${pod.id}/stats`).errors, [], 'the answer matches PodStats in openapi.yaml');
  s = second.json();
  t.equal(s.cpuCores, 0.5);
  t.equal(s.cpuLimitCores, 0.5);
  t.equal(s.cpuPercent, 100);
  t.same(Object.keys(s).sort(), [
    'cpuCores', 'cpuLimitCores', 'cpuPercent', 'cpuUsageSeconds', 'memoryLimitBytes', 'memoryUsageBytes', 'memoryWorkingSetBytes',
    'networkRxBytes', 'networkTxBytes', 'oomKills', 'pids', 'pidsLimit', 'podId', 'sampledAt', 'source',
  ].sort());

  const missing = await d.app.inject({ url: '/v1/pods/nope/stats', headers: auth });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'PINACLED_ERR_POD_NOT_FOUND');
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth });
  const stopped = await d.app.inject({ url: `/v1/pods/${pod.id}/stats`, headers: auth });
  t.equal(stopped.statusCode, 409);
  t.equal(stopped.json().code, 'PINACLED_ERR_POD_NOT_RUNNING');
  t.same(contract(stopped, `/v1/pods/${pod.id}/stats`).errors, [], 'the 409 matches the contract');
  const noAuth = await d.app.inject({ url: `/v1/pods/${pod.id}/stats` });
  t.equal(noAuth.statusCode, 401);
});

t.test('a running pod without a sample yet answers with nulls, not an engine call', async (t) => {
  const d = await fakeDaemon(t, env);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'a' } })).json();
  // The 'started' transition asks for a sample in the background; drop it to see the empty answer.
  await eventually(() => d.collector.latest(pod.id));
  d.collector.forget(pod.id);
  const before = d.runtime.totalCalls();
  const res = await d.app.inject({ url: `/v1/pods/${pod.id}/stats`, headers: auth });
  t.equal(res.statusCode, 200);
  t.equal(res.json().sampledAt, null);
  t.equal(res.json().memoryWorkingSetBytes, null);
  t.same(contract(res, `/v1/pods/${pod.id}/stats`).errors, [], 'the empty answer matches the contract');
  t.equal(d.runtime.totalCalls(), before, 'no engine call on the stats path');
});

t.test('a started pod is sampled at once, without waiting for a pass', async (t) => {
  const d = await fakeDaemon(t, env);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'a' } })).json();
  const s = await eventually(async () => {
    const r = (await d.app.inject({ url: `/v1/pods/${pod.id}/stats`, headers: auth })).json();
    return r.sampledAt ? r : undefined;
  }, 1_000, 10);
  t.ok(s.sampledAt, 'sampled after the start');
  t.equal(s.memoryLimitBytes, 128 * 1024 * 1024);
});

t.test('/metrics: per-pod series, fleet metrics, and no engine call per scrape whatever the pod count', async (t) => {
  const d = await fakeDaemon(t, env);
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) {
    const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: `p${i}` } });
    ids.push(res.json().id);
  }
  await d.collector.sampleAll();
  const before = { ...d.runtime.calls };
  const t0 = performance.now();
  let text = '';
  for (let i = 0; i < 20; i++) {
    const res = await d.app.inject({ url: '/metrics', headers: auth });
    t.equal(res.statusCode, 200);
    text = res.body;
  }
  const perScrape = (performance.now() - t0) / 20;
  t.comment(`fake runtime, 30 pods: ${perScrape.toFixed(2)} ms per scrape`);
  // The engine monitor polls `info` on its own timer; anything else would be the scrape's.
  const delta = Object.entries(d.runtime.calls).filter(([m, n]) => m !== 'info' && n !== (before as Record<string, number>)[m]);
  t.same(delta, [], 'no engine call while scraping');

  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (promtool.error) t.pass('promtool check metrics', { skip: 'promtool is not installed (apt-get install prometheus)' });
  else t.equal(`${promtool.status} ${promtool.stdout}${promtool.stderr}`.trim(), '0', 'promtool check metrics reports nothing');
  const m = parseMetrics(text);
  t.match(text, /^# HELP pinacled_pod_memory_working_set_bytes /m);
  t.match(text, /# TYPE pinacled_pod_cpu_usage_seconds_total counter/);
  t.equal(series(m, 'pinacled_pod_memory_working_set_bytes').length, 30);
  const one = series(m, 'pinacled_pod_memory_limit_bytes', ids[0])[0]!;
  t.match(one, new RegExp(`pod_id="${ids[0]}"`));
  t.match(one, /pod_name="p0"/);
  t.match(one, /template="custom"/);
  t.equal(m.get(one), 128 * 1024 * 1024);
  t.equal(m.get('pinacled_pods{state="running"}'), 30);
  t.equal(m.get('pinacled_pods{state="stopped"}'), 0);
  t.equal(m.get('pinacled_pod_operation_duration_seconds_count{operation="create",outcome="success"}'), 30);
  t.equal(m.get('pinacled_collector_samples_total{source="engine"}'), 30);
  t.ok((m.get('pinacled_collector_last_sample_age_seconds') ?? -1) >= 0);
  t.ok(m.get('pinacled_engine_requests_total{operation="createContainer"}')! >= 30);
  for (const name of ['pinacled_pod_start_time_seconds', 'pinacled_pod_cpu_usage_seconds_total', 'pinacled_pod_network_receive_bytes_total', 'pinacled_pod_pids']) {
    t.equal(series(m, name).length, 30, name);
  }
});

t.test('deleted pods lose their series; stopped pods keep only their counters', async (t) => {
  const d = await fakeDaemon(t, env);
  const a = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'a' } })).json();
  const b = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'b' } })).json();
  d.runtime.stats.set(b.containerId, { cpuUsageNs: 7e9, networkTxBytes: 4096 });
  await d.collector.sampleAll();
  const scrape = async () => parseMetrics((await d.app.inject({ url: '/metrics', headers: auth })).body);
  let m = await scrape();
  t.ok(series(m, 'pinacled_pod_memory_usage_bytes', a.id).length === 1);

  await d.app.inject({ method: 'DELETE', url: `/v1/pods/${a.id}`, headers: auth });
  m = await scrape();
  t.same([...m.keys()].filter((k) => k.includes(a.id)), [], 'no series of the deleted pod at the next scrape');

  await d.app.inject({ method: 'POST', url: `/v1/pods/${b.id}/stop`, headers: auth });
  m = await scrape();
  t.equal(value(m, 'pinacled_pod_cpu_usage_seconds_total', b.id), 7, 'CPU seconds of the last run stay');
  t.equal(value(m, 'pinacled_pod_network_transmit_bytes_total', b.id), 4096);
  t.same(series(m, 'pinacled_pod_memory_working_set_bytes', b.id), [], 'no usage gauges for a stopped pod');
  t.same(series(m, 'pinacled_pod_start_time_seconds', b.id), []);
  t.equal(m.get('pinacled_pods{state="stopped"}'), 1);

  // Started again: the old run's counters are gone at once; the new run's appear when sampled.
  d.runtime.stats.set(b.containerId, { cpuUsageNs: 1e9 });
  const started = await d.app.inject({ method: 'POST', url: `/v1/pods/${b.id}/start`, headers: auth });
  t.equal(started.json().state, 'running');
  d.collector.forget(b.id);
  m = await scrape();
  t.same(series(m, 'pinacled_pod_cpu_usage_seconds_total', b.id), [], 'old run not shown after a restart');
  t.equal(series(m, 'pinacled_pod_start_time_seconds', b.id).length, 1);
  await d.collector.sampleAll();
  m = await scrape();
  t.equal(value(m, 'pinacled_pod_cpu_usage_seconds_total', b.id), 1, 'new run from its own start');
});

t.test('an OOM-killed pod reports at least one OOM kill until deleted or restarted', async (t) => {
  const d = await fakeDaemon(t, env);
  const a = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'a' } })).json();
  await d.collector.sampleAll();
  d.runtime.exit(a.containerId, 137, { oom: true });
  await eventually(async () => (await d.app.inject({ url: `/v1/pods/${a.id}`, headers: auth })).json().oomKilled, 1_000, 10);
  const m = parseMetrics((await d.app.inject({ url: '/metrics', headers: auth })).body);
  t.equal(value(m, 'pinacled_pod_oom_kills_total', a.id), 1);
});

t.test('pod operations by outcome, engine calls and errors by operation', async (t) => {
  const d = await fakeDaemon(t, env);
  await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'a' } });
  const taken = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'a' } });
  t.equal(taken.statusCode, 409);
  d.runtime.failNext('startContainer', new EngineUnavailableError('injected'));
  const failed = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'b' } });
  t.equal(failed.statusCode, 503);
  const id = (await d.app.inject({ url: '/v1/pods', headers: auth })).json().items[0].id;
  await d.app.inject({ method: 'POST', url: `/v1/pods/${id}/restart`, headers: auth });
  const m = parseMetrics((await d.app.inject({ url: '/metrics', headers: auth })).body);
  t.equal(m.get('pinacled_pod_operation_duration_seconds_count{operation="create",outcome="success"}'), 1);
  t.equal(m.get('pinacled_pod_operation_duration_seconds_count{operation="create",outcome="rejected"}'), 1);
  t.equal(m.get('pinacled_pod_operation_duration_seconds_count{operation="create",outcome="failed"}'), 1);
  t.equal(m.get('pinacled_pod_operation_duration_seconds_count{operation="restart",outcome="success"}'), 1);
  t.notOk(m.has('pinacled_pod_operation_duration_seconds_count{operation="start",outcome="success"}'), 'the start inside restart is not counted twice');
  t.equal(m.get('pinacled_engine_errors_total{operation="startContainer",reason="unavailable"}'), 1);
  t.equal(m.get('pinacled_engine_requests_total{operation="startContainer"}'), d.runtime.calls.startContainer);
});

t.test('PINACLED_METRICS_TOKEN: a separate token for /metrics only', async (t) => {
  const metricsToken = 'metrics-token-0123456789';
  const d = await fakeDaemon(t, { ...env, PINACLED_METRICS_TOKEN: metricsToken });
  const withMetrics = await d.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${metricsToken}` } });
  t.equal(withMetrics.statusCode, 200);
  t.match(withMetrics.headers['content-type'], /text\/plain/);
  const withApi = await d.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  t.equal(withApi.statusCode, 403, 'the API token does not open /metrics when a metrics token is set');
  t.equal(withApi.json().code, 'PINACLED_ERR_FORBIDDEN');
  const apiWithMetrics = await d.app.inject({ url: '/v1/pods', headers: { authorization: `Bearer ${metricsToken}` } });
  t.equal(apiWithMetrics.statusCode, 403, 'the metrics token opens nothing else');
  t.equal(apiWithMetrics.json().code, 'PINACLED_ERR_FORBIDDEN');
  const none = await d.app.inject({ url: '/metrics' });
  t.equal(none.statusCode, 401);
});

t.test('without a metrics token, /metrics takes the API token', async (t) => {
  const d = await fakeDaemon(t, env);
  t.equal((await d.app.inject({ url: '/metrics', headers: auth })).statusCode, 200);
  t.equal((await d.app.inject({ url: '/metrics' })).statusCode, 401);
});
