import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t, { type Test } from 'tap';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { auth, fakeDaemon, OPENAPI_PATH, TEST_TOKEN } from '../helpers/app.js';
import { FakeFirewall } from '../helpers/fakes/fake-firewall.js';
import { FakeRuntime } from '../helpers/fakes/fake-runtime.js';
import { loadConfig } from '../../src/config/load.js';
import { createDaemon } from '../../src/daemon.js';
import { createLogger } from '../../src/logger.js';

/*
 * The alerting rules and the Grafana dashboard in src/metrics/monitoring/ hold to the metrics the
 * daemon really exports: promtool checks and unit-tests the rules, every dashboard query parses,
 * and every metric they (and the rules test's input series) name is in a /metrics scrape of a
 * daemon on the fake runtime, with the labels it carries there. Renaming a metric breaks this.
 */

type Obj = Record<string, any>;
const DIR = resolve(import.meta.dirname, '..', '..', 'src', 'metrics', 'monitoring');
const RULES = join(DIR, 'alerts.yml');
const RULES_TEST = join(import.meta.dirname, 'alerts.test.yml');
const dashboard = JSON.parse(readFileSync(join(DIR, 'dashboard.json'), 'utf8')) as Obj;
const OURS = /\b(?:pinacled|process|nodejs)_[a-z0-9_]+\b/g;

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`promtool: ${r.error.message} (Debian's prometheus package; ./scripts/test installs it)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Each dashboard query with Grafana's variables filled in, as PromQL that promtool parses. */
const dashboardQueries = (d: Obj): string[] =>
  (d.panels as Obj[]).flatMap((p) => (p.targets as Obj[]).map((x) => String(x.expr).replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*')));

/** Each query as a recording rule in a temp file, for `promtool check rules` (an offline parse). */
function checkQueries(t: Test, queries: string[]): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-dash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'queries.yml');
  writeFileSync(file, toYaml({ groups: [{ name: 'dashboard', rules: queries.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] }));
  return promtool('check', 'rules', file);
}

/** Scrapes a daemon that has done a bit of everything: series name -> label names seen on it. */
async function scrapedSeries(t: Test): Promise<Map<string, Set<string>>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pinacled-mon-'));
  const config = loadConfig({ PINACLED_TOKEN: TEST_TOKEN, PINACLED_DATA_DIR: dataDir, PINACLED_RATE_LIMIT_PER_MIN: '0', PINACLED_STATS_INTERVAL_S: '3600' });
  const runtime = new FakeRuntime();
  const d = await createDaemon(config, runtime, createLogger('silent'), OPENAPI_PATH, { firewall: new FakeFirewall() });
  t.teardown(async () => {
    await d.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  await d.reconciler.runOnce();
  await d.firewall!.check();
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'm', template: 'custom', image: 'pinacled/testbox:1' } })).json() as Obj;
  runtime.stats.set(pod.containerId as string, { readAt: new Date().toISOString(), cpuUsageNs: 1e9, memoryUsageBytes: 1e8, memoryWorkingSetBytes: 9e7, networkRxBytes: 1, networkTxBytes: 2, pids: 3 });
  await d.collector.sampleAll();
  const text = (await d.app.inject({ url: '/metrics', headers: auth })).body;
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!m) continue;
    const labels = out.get(m[1]!) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1]!);
    out.set(m[1]!, labels);
  }
  return out;
}

t.test('the alerting rules pass promtool check rules and their unit tests', async (t) => {
  const check = promtool('check', 'rules', RULES);
  t.equal(check.status, 0, 'promtool check rules', { output: check.output });
  const test = promtool('test', 'rules', RULES_TEST);
  t.equal(test.status, 0, 'promtool test rules', { output: test.output });
});

t.test('every dashboard query parses (each as a rule checked by promtool)', async (t) => {
  const queries = dashboardQueries(dashboard);
  t.ok(queries.length >= 10, `${queries.length} queries`);
  const r = checkQueries(t, queries);
  t.equal(r.status, 0, 'promtool check rules on the queries', { output: r.output });
  const ids = (dashboard.panels as Obj[]).map((p) => p.id as number);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  // The check can fail: a broken query is caught.
  const broken = checkQueries(t, [...queries, 'sum by (state (pinacled_pods)']);
  t.not(broken.status, 0, 'a query that does not parse fails the check');
});

t.test('rules, rules tests and dashboard name only series a real scrape has, with its labels', async (t) => {
  const scraped = await scrapedSeries(t);
  t.ok(scraped.has('pinacled_ready_check') && scraped.has('process_cpu_user_seconds_total'), 'the scrape has the daemon and process series');
  const rules = parseYaml(readFileSync(RULES, 'utf8')) as Obj;
  const exprs = (rules.groups as Obj[]).flatMap((g) => (g.rules as Obj[]).map((r) => String(r.expr)));
  const named = new Set([...exprs, ...dashboardQueries(dashboard)].flatMap((e) => [...e.matchAll(OURS)].map((m) => m[0])));
  t.ok(named.size >= 15, `${named.size} metric names in rules and dashboard`);
  for (const name of named) t.ok(scraped.has(name), `${name} is exported`);
  // The rules test feeds series by name and labels: each must look like the daemon's own.
  const tests = parseYaml(readFileSync(RULES_TEST, 'utf8')) as Obj;
  for (const s of (tests.tests as Obj[]).flatMap((x) => (x.input_series as Obj[]).map((i) => String(i.series)))) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$/.exec(s);
    const name = m?.[1] ?? s;
    if (name === 'up') continue; // Prometheus's own, per target
    t.ok(scraped.has(name), `input series ${name} is exported`);
    const labels = [...(m?.[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*=/g)].map((l) => l[1]!).filter((l) => l !== 'job' && l !== 'instance');
    for (const l of labels) t.ok(scraped.get(name)?.has(l), `${name} carries the label ${l}`);
  }
});

t.test('a daemon that does not manage the firewall exports no firewall check', async (t) => {
  const d = await fakeDaemon(t);
  const text = (await d.app.inject({ url: '/metrics', headers: auth })).body;
  t.match(text, /^pinacled_ready_check\{check="engine"\} 1$/m);
  t.notMatch(text, /check="firewall"/, 'a daemon that does not manage the firewall exports no firewall check');
});
