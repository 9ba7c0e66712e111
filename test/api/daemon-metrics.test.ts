import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t, { type Test } from 'tap';
import { readBuildInfo } from '../../src/build-info.js';
import { loadConfig } from '../../src/config/load.js';
import { createDaemon } from '../../src/daemon.js';
import { createLogger } from '../../src/logger.js';
import { REPAIR_KINDS } from '../../src/pods/reconciler.js';
import { ENGINE_ERROR_REASONS, ENGINE_OPERATIONS } from '../../src/runtime/instrumented-runtime.js';
import { auth, OPENAPI_PATH, TEST_TOKEN } from '../helpers/app.js';
import { FakeFirewall } from '../helpers/fakes/fake-firewall.js';
import { FakeRuntime } from '../helpers/fakes/fake-runtime.js';
import { parseMetrics } from '../helpers/metrics-text.js';

/*
 * The daemon's own metrics: build info, readiness as gauges (what /readyz says, for alerting on
 * "creates fail closed"), counters present at zero before their first event, and the stock
 * process_/nodejs_ names.
 */

const ROOT = resolve(import.meta.dirname, '..', '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

async function daemon(t: Test, fw: FakeFirewall, runtime = new FakeRuntime(), env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pinacled-metrics-'));
  const config = loadConfig({ PINACLED_TOKEN: TEST_TOKEN, PINACLED_DATA_DIR: dataDir, PINACLED_RATE_LIMIT_PER_MIN: '0', ...env });
  const d = await createDaemon(config, runtime, createLogger('silent'), OPENAPI_PATH, { firewall: fw, build: { version: VERSION, commit: 'abc1234' } });
  t.teardown(async () => {
    await d.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  await d.reconciler.runOnce();
  await d.firewall!.check();
  return d;
}

async function scrape(d: { app: { inject: (o: object) => Promise<{ body: string }> } }): Promise<Map<string, number>> {
  return parseMetrics((await d.app.inject({ url: '/metrics', headers: auth })).body);
}
const named = (m: Map<string, number>, name: string) => [...m.keys()].filter((k) => k === name || k.startsWith(`${name}{`));

t.test('pinacled_build_info: version, commit, node, engine version, runtime and its mode', async (t) => {
  const runtime = new FakeRuntime();
  const d = await daemon(t, new FakeFirewall(), runtime);
  let m = await scrape(d);
  const engineVersion = (await runtime.info()).version;
  const want = `pinacled_build_info{version="${VERSION}",commit="abc1234",node_version="${process.version}",engine_version="${engineVersion}",runtime="runsc",runtime_mode="sandboxed"}`;
  t.same(named(m, 'pinacled_build_info'), [want], 'one series');
  t.equal(m.get(want), 1);
  // The sandbox runtime goes away: the mode says so, still one series.
  runtime.runtimes = ['runc'];
  await d.engine.check();
  m = await scrape(d);
  t.same(named(m, 'pinacled_build_info').map((k) => /runtime_mode="([^"]+)"/.exec(k)?.[1]), ['unavailable']);
});

t.test('pinacled_runtime_info: each registered gVisor runtime with its binary, platform and network stack', async (t) => {
  const runtime = new FakeRuntime();
  runtime.runtimes = ['runc', 'runsc', 'runsc-ptrace', 'runsc-hostinet'];
  runtime.runtimePaths = { runc: 'runc', runsc: '/usr/local/lib/pinacled/runsc-netstack-20240729', 'runsc-ptrace': '/usr/local/lib/pinacled/runsc-netstack-20240729', 'runsc-hostinet': '/usr/local/lib/pinacled/runsc-debian-trixie/runsc' };
  runtime.runtimeArgs = { runsc: [], 'runsc-ptrace': ['--platform=ptrace'], 'runsc-hostinet': ['--network=host'] };
  const d = await daemon(t, new FakeFirewall(), runtime);
  const m = await scrape(d);
  t.same(named(m, 'pinacled_runtime_info').sort(), [
    'pinacled_runtime_info{runtime="runsc",path="/usr/local/lib/pinacled/runsc-netstack-20240729",platform="default",network="netstack"}',
    'pinacled_runtime_info{runtime="runsc-hostinet",path="/usr/local/lib/pinacled/runsc-debian-trixie/runsc",platform="default",network="host"}',
    'pinacled_runtime_info{runtime="runsc-ptrace",path="/usr/local/lib/pinacled/runsc-netstack-20240729",platform="ptrace",network="netstack"}',
  ], 'one series per gVisor runtime; runc is not one');
});

t.test('readiness gauges follow /readyz: engine, runtime, reconcile and firewall', async (t) => {
  const fw = new FakeFirewall();
  const runtime = new FakeRuntime();
  const d = await daemon(t, fw, runtime, { PINACLED_FIREWALL: 'install' });
  const checks = (m: Map<string, number>) =>
    Object.fromEntries(named(m, 'pinacled_ready_check').map((k) => [/check="([^"]+)"/.exec(k)![1]!, m.get(k)]));
  let m = await scrape(d);
  t.equal(m.get('pinacled_ready'), 1, 'ready');
  t.same(checks(m), { engine: 1, runtime: 1, reconcile: 1, firewall: 1 });

  // The firewall policy cannot be installed: creates fail closed, and the gauges say which check.
  fw.fail = new Error('iptables: not found');
  await d.firewall!.check();
  t.equal((await d.app.inject({ url: '/readyz' })).statusCode, 503);
  m = await scrape(d);
  t.equal(m.get('pinacled_ready'), 0);
  t.same(checks(m), { engine: 1, runtime: 1, reconcile: 1, firewall: 0 });
  fw.fail = undefined;
  await d.firewall!.check();

  runtime.runtimes = ['runc'];
  await d.engine.check();
  m = await scrape(d);
  t.same(checks(m), { engine: 1, runtime: 0, reconcile: 1, firewall: 1 }, 'sandbox runtime missing');
  runtime.runtimes = ['runc', 'runsc'];
  runtime.down = true;
  await d.engine.check();
  m = await scrape(d);
  t.equal(m.get('pinacled_ready'), 0);
  t.equal(checks(m).engine, 0, 'engine unreachable');
});

t.test('labelled counters are exported at zero for every known label value', async (t) => {
  const d = await daemon(t, new FakeFirewall());
  const m = await scrape(d);
  for (const kind of REPAIR_KINDS) t.equal(m.get(`pinacled_reconcile_repairs_total{kind="${kind}"}`), 0, `repairs ${kind}`);
  t.equal(named(m, 'pinacled_engine_errors_total').length, ENGINE_OPERATIONS.length * ENGINE_ERROR_REASONS.length, 'engine errors: every operation x reason');
  t.equal(m.get('pinacled_engine_errors_total{operation="createContainer",reason="conflict"}'), 0);
  t.equal(m.get('pinacled_engine_requests_total{operation="removeNetwork"}'), 0, 'an operation not called yet');
  t.equal(named(m, 'pinacled_engine_requests_total').length, ENGINE_OPERATIONS.length, 'engine requests: every operation');
  // Calls still count where they did.
  t.ok(m.get('pinacled_engine_requests_total{operation="info"}')! >= 1);
});

t.test('stock process_ and nodejs_ metric names, without a prefix', async (t) => {
  const d = await daemon(t, new FakeFirewall());
  const m = await scrape(d);
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    t.ok(named(m, name).length > 0, `${name} is exported`);
  }
  t.same([...m.keys()].filter((k) => /^pinacled_(process|nodejs)_/.test(k)), [], 'no prefixed copies');
});

t.test('readBuildInfo: package.json version, the commit the build wrote, unknown when absent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-build-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ version: '1.2.3' }));
  t.same(readBuildInfo(dir), { version: '1.2.3', commit: 'unknown' });
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist', 'build-info.json'), JSON.stringify({ commit: '0123456789abcdef0123456789abcdef01234567' }));
  t.same(readBuildInfo(dir), { version: '1.2.3', commit: '0123456789abcdef0123456789abcdef01234567' });
  rmSync(join(dir, 'package.json'));
  t.equal(readBuildInfo(dir).version, 'unknown');
});
