import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { createDaemon } from '../../src/daemon.js';
import { createLogger } from '../../src/logger.js';
import { FakeFirewall } from '../helpers/fakes/fake-firewall.js';
import { EngineError } from '../../src/runtime/errors.js';
import { FakeRuntime } from '../helpers/fakes/fake-runtime.js';
import { auth, fakeDaemon, OPENAPI_PATH, TEST_TOKEN } from '../helpers/app.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1' };

t.test('requests that smuggle host access are 400 and reach nothing', async (t) => {
  const d = await fakeDaemon(t);
  const smuggled: Record<string, unknown>[] = [
    { privileged: true },
    { Privileged: true },
    { hostConfig: { Privileged: true } },
    { HostConfig: { Binds: ['/:/host'] } },
    { binds: ['/var/run/docker.sock:/var/run/docker.sock'] },
    { volumes: [{ source: '/', target: '/host' }] },
    { mounts: [{ type: 'bind', source: '/etc', target: '/etc' }] },
    { networkMode: 'host' },
    { network: 'host' },
    { pidMode: 'host' },
    { ipcMode: 'host' },
    { usernsMode: 'host' },
    { capAdd: ['SYS_ADMIN'] },
    { devices: ['/dev/kvm'] },
    { securityOpt: ['seccomp=unconfined'] },
    { runtime: 'runc' },
    { sandboxed: false },
    { user: 'root' },
    { resources: { memoryMb: 256, privileged: true } },
    { resources: { pidsLimit: 0 } },
    { resources: { pidsLimit: 1_000_000 } },
    { resources: { pidsLimit: 4097 } },
    { resources: { memoryMb: 1 } },
    { ports: [{ containerPort: 80, hostIp: '0.0.0.0' }] },
    { ports: [{ containerPort: 80, hostPort: 22 }] },
    { labels: { 'Dev.Pinacle.Managed': 'false' } },
    { env: { 'LD_PRELOAD=/x': 'y' } },
    { env: { PINACLE_POD_ID: 'spoof' } },
    { env: { A: 'nul\u0000byte' } },
    { image: '/etc/passwd' },
    { name: '../../etc' },
  ];
  for (const extra of smuggled) {
    const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, ...extra } });
    t.equal(res.statusCode, 400, `${JSON.stringify(extra)} -> 400`);
    t.equal(res.json().code, 'PINACLED_ERR_VALIDATION');
  }
  // JSON that tries prototype pollution never becomes an object with those keys.
  const proto = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: { ...auth, 'content-type': 'application/json' }, payload: `{"name":"web","template":"custom","image":"pinacled/testbox:1","__proto__":{"privileged":true}}` });
  t.equal(proto.statusCode, 400, '__proto__ in the body is refused');
  t.equal(proto.json().code, 'PINACLED_ERR_VALIDATION');
  t.equal(d.runtime.calls.createContainer ?? 0, 0, 'no container was created');
  t.equal(d.runtime.calls.createNetwork ?? 0, 0, 'no network was created');
  t.equal(d.runtime.containers.size, 0);
});

t.test('each pod gets its own network from the pool, removed with the pod', async (t) => {
  const d = await fakeDaemon(t);
  const a = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'a' } })).json();
  const b = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'b' } })).json();
  const na = d.runtime.networks.get(`pinacle-net-${a.id}`)!;
  const nb = d.runtime.networks.get(`pinacle-net-${b.id}`)!;
  t.ok(na && nb, 'one network per pod');
  t.not(na.subnets[0], nb.subnets[0]);
  t.match(na.subnets[0], /^10\.213\.\d+\.\d+\/28$/, 'from the default pool');
  t.equal(na.labels['dev.pinacle.managed'], 'true');
  t.equal(na.labels['dev.pinacle.pod-id'], a.id);
  t.ok(na.labels['dev.pinacle.store-id'], 'carries the store id (ownership proof for cleanup)');
  t.match(na.bridgeName, /^pcl/, 'bridge name the firewall matches');
  t.equal(d.runtime.specOf(a.containerId)!.network, na.name, 'the container joins it');
  t.equal((await d.app.inject({ method: 'DELETE', url: `/v1/pods/${a.id}`, headers: auth })).statusCode, 204);
  t.notOk(d.runtime.networks.has(na.name), 'removed with the pod');
  t.ok(d.runtime.networks.has(nb.name), "the other pod's network stays");
});

t.test('a failed create rolls its network back; the reconciler removes stray networks it owns only', async (t) => {
  const d = await fakeDaemon(t);
  d.runtime.failNext('startContainer', new EngineError('boom', 500));
  const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(res.statusCode, 502);
  t.equal(d.runtime.networks.size, 0, 'rolled back with the container and volume');
  const storeId = [...d.runtime.volumes.values()][0]?.labels['dev.pinacle.store-id'];
  t.equal(storeId, undefined, 'nothing left at all');
  const ok = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  const sid = d.runtime.networks.get(`pinacle-net-${ok.id}`)!.labels['dev.pinacle.store-id']!;
  const stray = { 'dev.pinacle.managed': 'true', 'dev.pinacle.pod-id': 'p1111111111111111', 'dev.pinacle.store-id': sid };
  await d.runtime.createNetwork({ name: 'pinacle-net-p1111111111111111', labels: stray, subnet: '10.213.200.0/28', gateway: '10.213.200.1', bridgeName: 'pcl111111111111' });
  await d.runtime.createNetwork({ name: 'pinacle-net-p2222222222222222', labels: { ...stray, 'dev.pinacle.pod-id': 'p2222222222222222', 'dev.pinacle.store-id': 'another-store' }, subnet: '10.213.201.0/28', gateway: '10.213.201.1', bridgeName: 'pcl222222222222' });
  const report = await d.reconciler.runOnce();
  t.ok(report.repairs.some((r) => r.kind === 'remove_stray_network' && r.podId === 'p1111111111111111'));
  t.notOk(d.runtime.networks.has('pinacle-net-p1111111111111111'), 'our stray is removed');
  t.ok(d.runtime.networks.has('pinacle-net-p2222222222222222'), "another store's network is left alone");
  t.ok(d.runtime.networks.has(`pinacle-net-${ok.id}`), 'a live pod keeps its network');
});

t.test('env values are never returned and never logged, even when the engine echoes them', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pinacled-sec-'));
  let logged = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logged += chunk.toString();
      cb();
    },
  });
  const runtime = new FakeRuntime();
  const config = loadConfig({ PINACLED_TOKEN: TEST_TOKEN, PINACLED_DATA_DIR: dataDir, PINACLED_PORT_RANGE: '41000-41999', PINACLED_RATE_LIMIT_PER_MIN: '0' });
  const d = await createDaemon(config, runtime, createLogger('trace', sink), OPENAPI_PATH);
  t.teardown(async () => {
    await d.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  await d.reconciler.runOnce();
  const SECRET = 'sk-live-0b5e1c0ffee';
  const ok = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, env: { OPENAI_API_KEY: SECRET } } });
  t.equal(ok.statusCode, 201);
  // An engine error that quotes the env (as a hypothetical engine might) must not reach the log either.
  runtime.failNext('createContainer', new EngineError(`container create: HTTP 500: bad env OPENAI_API_KEY=${SECRET}`, 500));
  const failed = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'web2', env: { OPENAI_API_KEY: SECRET } } });
  t.equal(failed.statusCode, 502);
  const invalid = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'BAD', env: { OPENAI_API_KEY: SECRET } } });
  t.equal(invalid.statusCode, 400);
  const answers = [ok.body, failed.body, invalid.body, (await d.app.inject({ url: '/v1/pods', headers: auth })).body, (await d.app.inject({ url: `/v1/pods/${ok.json().id}`, headers: auth })).body];
  for (const a of answers) t.notOk(a.includes(SECRET), 'no answer carries the value');
  t.ok(logged.length > 0 && logged.includes('pod create failed'), 'the failure was logged (at trace level everything is)');
  t.notOk(logged.includes(SECRET), 'no log line carries the value');
  if (logged.includes(SECRET)) t.comment(logged.split('\n').filter((l) => l.includes(SECRET)).join('\n'));
  t.notOk(logged.includes(TEST_TOKEN), 'nor the token');
});

t.test('rate limit on mutating routes: per token, 429 with Retry-After, reads and 401s not counted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-rl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const other = 'second-token-0123456789abcdef';
  writeFileSync(join(dir, 'tokens'), `${TEST_TOKEN}\n${other}\n`, { mode: 0o600 });
  const d = await fakeDaemon(t, { PINACLED_TOKEN_FILE: join(dir, 'tokens'), PINACLED_RATE_LIMIT_PER_MIN: '6', PINACLED_RATE_LIMIT_BURST: '3' });
  const stop = (headers: Record<string, string>) => d.app.inject({ method: 'POST', url: '/v1/pods/p0000000000000000/stop', headers });
  for (let i = 0; i < 5; i++) t.equal((await stop({})).statusCode, 401, 'unauthenticated: 401, not counted');
  t.same([(await stop(auth)).statusCode, (await stop(auth)).statusCode, (await stop(auth)).statusCode], [404, 404, 404], 'the burst');
  const limited = await stop(auth);
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().code, 'PINACLED_ERR_RATE_LIMITED');
  t.match(limited.headers['content-type'], /^application\/problem\+json/);
  t.equal(limited.headers['retry-after'], '10', '6/min: one every 10 s');
  for (let i = 0; i < 20; i++) t.equal((await d.app.inject({ url: '/v1/pods', headers: auth })).statusCode, 200);
  t.equal((await stop({ authorization: `Bearer ${other}` })).statusCode, 404, "another token's bucket is full");
  t.equal((await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).statusCode, 429, 'creates count');
});

async function daemonWithFirewall(t: Test, fw: FakeFirewall, mode: 'install' | 'check', runtime = new FakeRuntime()) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pinacled-fw-'));
  const config = loadConfig({ PINACLED_TOKEN: TEST_TOKEN, PINACLED_DATA_DIR: dataDir, PINACLED_FIREWALL: mode, PINACLED_RATE_LIMIT_PER_MIN: '0' });
  const d = await createDaemon(config, runtime, createLogger('silent'), OPENAPI_PATH, { firewall: fw });
  t.teardown(async () => {
    await d.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  await d.reconciler.runOnce();
  return d;
}

t.test('fail closed: without the firewall policy /readyz is 503 and creates are refused', async (t) => {
  const fw = new FakeFirewall();
  fw.fail = new Error('iptables: not found');
  const d = await daemonWithFirewall(t, fw, 'install');
  await d.firewall!.check();
  const ready = await d.app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 503);
  t.match(ready.json().checks.firewall, /cannot read or install/);
  t.match(ready.json().reasons.join(), /firewall policy is not in place/);
  const create = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(create.statusCode, 503);
  t.equal(create.json().code, 'PINACLED_ERR_FIREWALL_UNAVAILABLE');
  // iptables works again: the next check (periodic, or when the engine comes back) installs it.
  fw.fail = undefined;
  t.equal((await d.firewall!.check()).ok, true);
  t.equal((await d.app.inject({ url: '/readyz' })).statusCode, 200);
  t.equal((await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).statusCode, 201);
});

t.test('fail closed on every path that runs a container: start, restart, and the recreate of a gone container', async (t) => {
  const fw = new FakeFirewall();
  const runtime = new FakeRuntime();
  const d = await daemonWithFirewall(t, fw, 'install', runtime);
  await d.firewall!.check();
  const mk = async (name: string) => (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name } })).json();
  const [a, b, c] = [await mk('fa'), await mk('fb'), await mk('fc')];
  const post = (id: string, action: string) => d.app.inject({ method: 'POST', url: `/v1/pods/${id}/${action}?timeout=0`, headers: auth });
  t.equal((await post(a.id, 'stop')).statusCode, 200);
  t.equal((await post(c.id, 'stop')).statusCode, 200);
  // c's container disappears behind our back: its start would recreate it.
  runtime.containers.delete(c.containerId);
  await d.reconciler.runOnce();
  t.match((await d.app.inject({ url: `/v1/pods/${c.id}`, headers: auth })).json(), { state: 'failed', error: { code: 'CONTAINER_GONE' } });

  fw.fail = new Error('iptables: not found');
  await d.firewall!.check();
  const containersBefore = runtime.containers.size;
  for (const [pod, action, state] of [[a, 'start', 'stopped'], [b, 'restart', 'running'], [c, 'start', 'failed']] as const) {
    const res = await post(pod.id, action);
    t.equal(res.statusCode, 503, `${action} ${pod.name}: refused`);
    t.equal(res.json().code, 'PINACLED_ERR_FIREWALL_UNAVAILABLE');
    t.equal((await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth })).json().state, state, `${pod.name} stays ${state}`);
  }
  t.equal(runtime.containers.size, containersBefore, 'no container was recreated');
  t.equal(runtime.containers.get(a.containerId)?.status.running, false, 'a was not started');
  t.equal(runtime.containers.get(b.containerId)?.status.running, true, 'b was not stopped by a restart that could not start it again');

  fw.fail = undefined;
  await d.firewall!.check();
  t.equal((await post(a.id, 'start')).statusCode, 200, 'policy back: starts work again');
  t.equal((await post(c.id, 'start')).statusCode, 200, 'and the recreate');
});

t.test('install mode: the policy is installed at start and /readyz reports it', async (t) => {
  const fw = new FakeFirewall();
  const d = await daemonWithFirewall(t, fw, 'install');
  await d.firewall!.check();
  const ready = await d.app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 200, ready.body);
  t.match(ready.json().checks.firewall, /^ok \(ipv4 \+ ipv6\)/);
  t.equal(fw.tables.ipv4.get('DOCKER-USER')![0], '-A DOCKER-USER -i pcl+ -j PINACLED-FORWARD');
  t.equal((await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).statusCode, 201);
  const checkOnly = await daemonWithFirewall(t, new FakeFirewall(), 'check');
  await checkOnly.firewall!.check();
  const r2 = await checkOnly.app.inject({ url: '/readyz' });
  t.equal(r2.statusCode, 503, 'check mode does not install: not ready until someone does');
  t.match(r2.json().checks.firewall, /not in place/);
});
