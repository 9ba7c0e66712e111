import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { HOST_PIDS_PER_PROCESS, SANDBOX_BASE_PIDS } from '../../src/pods/spec.js';
import { eventually } from '../helpers/app.js';
import { httpGet, realDaemon, TEST_IMAGE } from '../helpers/daemon.js';
import { docker, exists, inspect } from '../helpers/docker.js';
import { SocketProxy } from '../helpers/socket-proxy.js';

const server = (body: string) => ['sh', '-c', `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 8000 -h /www`];

t.test('a custom pod really runs in gVisor with the limits, labels and ports asked for', async (t) => {
  const d = await realDaemon(t);
  const res = await d.request('POST', '/v1/pods', {
    name: 'limits',
    template: 'custom',
    image: TEST_IMAGE,
    command: server('hello-from-pod'),
    resources: { cpuCores: 0.5, memoryMb: 256, pidsLimit: 128 },
    ports: [{ containerPort: 8000, name: 'web' }],
    labels: { owner: 'alice' },
  });
  t.equal(res.status, 201, res.text);
  const pod = res.body;
  t.equal(pod.state, 'running');
  t.equal(pod.sandboxed, true);

  const c = await inspect(`pinacle-pod-${pod.id}`);
  t.equal(c.HostConfig.Runtime, 'runsc');
  t.equal(c.HostConfig.Memory, 268435456);
  t.equal(c.HostConfig.MemorySwap, 268435456, 'no swap beyond the memory limit');
  t.equal(c.HostConfig.NanoCpus, 500_000_000);
  // Documented mapping (src/pods/spec.ts, openapi.yaml Resources.pidsLimit): runsc spends ~9 host
  // pids per guest process and kills the whole sandbox at the cap, so 128 maps to 64 + 128 * 10.
  t.equal(c.HostConfig.PidsLimit, SANDBOX_BASE_PIDS + 128 * HOST_PIDS_PER_PROCESS);
  t.equal(c.Config.Labels['dev.pinacle.managed'], 'true');
  t.equal(c.Config.Labels['dev.pinacle.pod-id'], pod.id);
  t.equal(c.Config.Labels['dev.pinacle.pod-name'], 'limits');
  t.equal(c.Config.Labels['dev.pinacle.label.owner'], 'alice');
  t.equal(c.HostConfig.Privileged, false);
  t.same(c.HostConfig.CapDrop, ['ALL']);

  // cgroup v1 (cgroupfs): the limits the kernel enforces for the sandbox processes.
  const cg = (ctl: string, file: string) => readFileSync(`/sys/fs/cgroup/${ctl}/docker/${c.Id}/${file}`, 'utf8').trim();
  t.equal(cg('memory', 'memory.limit_in_bytes'), '268435456');
  t.equal(cg('pids', 'pids.max'), String(SANDBOX_BASE_PIDS + 128 * HOST_PIDS_PER_PROCESS));
  t.equal(Number(cg('cpu', 'cpu.cfs_quota_us')) / Number(cg('cpu', 'cpu.cfs_period_us')), 0.5);

  t.equal(await docker('exec', c.Id, 'uname', '-r'), '4.4.0', 'the pod runs under gVisor');
  const memTotal = await docker('exec', c.Id, 'sh', '-c', "grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2");
  t.equal(Number(memTotal), 256 * 1024, 'the pod sees its memory limit as MemTotal');

  const port = pod.ports[0];
  t.equal(port.hostIp, '127.0.0.1');
  t.same(c.HostConfig.PortBindings['8000/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(port.hostPort) }]);
  const answer = await eventually(() => httpGet('127.0.0.1', port.hostPort).then((b) => b.includes('hello-from-pod') && b), 15_000, 200);
  t.match(answer, /200 OK/);
});

t.test('the workspace survives stop/start and restart; delete removes everything and frees the port', async (t) => {
  const d = await realDaemon(t);
  const created = await d.request('POST', '/v1/pods', {
    name: 'ws',
    template: 'custom',
    image: TEST_IMAGE,
    command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'],
    ports: [{ containerPort: 8000 }],
  });
  t.equal(created.status, 201, created.text);
  const pod = created.body;
  const name = `pinacle-pod-${pod.id}`;
  await docker('exec', name, 'sh', '-c', 'echo persisted > /workspace/file');
  const c = await inspect(name);
  t.same(
    c.Mounts.map((m: { Type: string; Name: string; Destination: string }) => [m.Type, m.Name, m.Destination]),
    [['volume', `pinacle-ws-${pod.id}`, '/workspace']],
  );

  const stopped = await d.request('POST', `/v1/pods/${pod.id}/stop`);
  t.equal(stopped.body.state, 'stopped');
  t.equal((await inspect(name)).State.Running, false);
  t.equal((await d.request('POST', `/v1/pods/${pod.id}/stop`)).status, 200, 'stopping a stopped pod is a no-op');
  const started = await d.request('POST', `/v1/pods/${pod.id}/start`);
  t.equal(started.body.state, 'running');
  t.equal(started.body.ports[0].hostPort, pod.ports[0].hostPort, 'same host port after stop/start');
  t.equal(await docker('exec', name, 'cat', '/workspace/file'), 'persisted');
  const restarted = await d.request('POST', `/v1/pods/${pod.id}/restart`);
  t.equal(restarted.status, 200, restarted.text);
  t.equal(restarted.body.state, 'running');
  t.equal(await docker('exec', name, 'cat', '/workspace/file'), 'persisted');

  // The container's own exit shows up as stopped with its exit code.
  await docker('exec', name, 'kill', '-TERM', '1');
  const exited = await eventually(async () => {
    const p = (await d.request('GET', `/v1/pods/${pod.id}`)).body;
    return p.state === 'stopped' && p;
  }, 10_000, 100);
  t.equal(exited.exitCode, 0);

  const del = await d.request('DELETE', `/v1/pods/${pod.id}`);
  t.equal(del.status, 204);
  t.equal(await exists('container', name), false, 'container removed');
  t.equal(await exists('volume', `pinacle-ws-${pod.id}`), false, 'volume removed');
  t.equal((await d.request('GET', `/v1/pods/${pod.id}`)).status, 404);

  const next = await d.request('POST', '/v1/pods', { name: 'ws2', template: 'custom', image: TEST_IMAGE, command: ['sleep', '600'], ports: [{ containerPort: 9000 }] });
  t.equal(next.status, 201, next.text);
  t.equal(next.body.ports[0].hostPort, pod.ports[0].hostPort, 'the freed host port went back to the pool');
  const delRunning = await d.request('DELETE', `/v1/pods/${next.body.id}?timeout=1`);
  t.equal(delRunning.status, 204, 'delete of a running pod stops it first');
});

t.test('two pods asking for the same container port get different host ports and both answer', async (t) => {
  const d = await realDaemon(t);
  const mk = (n: string) =>
    d.request('POST', '/v1/pods', { name: n, template: 'custom', image: TEST_IMAGE, command: server(n), ports: [{ containerPort: 8000 }] });
  const [a, b] = [await mk('twin-a'), await mk('twin-b')];
  t.equal(a.status, 201, a.text);
  t.equal(b.status, 201, b.text);
  t.not(a.body.ports[0].hostPort, b.body.ports[0].hostPort);
  for (const p of [a.body, b.body]) {
    const body = await eventually(() => httpGet('127.0.0.1', p.ports[0].hostPort).then((x) => x.includes(p.name) && x), 15_000, 200);
    t.match(body, new RegExp(p.name));
  }
});

t.test('errors from the real daemon', async (t) => {
  const d = await realDaemon(t);
  const bad = await d.request('POST', '/v1/pods', { name: 'Not_A_DNS_Label', template: 'custom', image: TEST_IMAGE });
  t.equal(bad.status, 400);
  t.equal(bad.body.code, 'PINACLED_ERR_VALIDATION');
  t.equal(bad.body.errors[0].field, 'name');
  t.match(bad.headers.get('content-type'), /application\/problem\+json/);
  const unknown = await d.request('POST', '/v1/pods', { name: 'x', template: 'custom', image: TEST_IMAGE, hostNetwork: true });
  t.equal(unknown.status, 400);
  t.equal(unknown.body.errors[0].field, 'hostNetwork');
  const negative = await d.request('POST', '/v1/pods', { name: 'x', template: 'custom', image: TEST_IMAGE, resources: { memoryMb: -1 } });
  t.equal(negative.status, 400);
  t.equal(negative.body.errors[0].field, 'resources.memoryMb');
  t.equal((await d.request('GET', '/v1/pods/pdoesnotexist0000')).body.code, 'PINACLED_ERR_POD_NOT_FOUND');
  const missing = await d.request('POST', '/v1/pods', { name: 'x', template: 'custom', image: 'pinacled/no-such-image:0' });
  t.equal(missing.status, 422);
  t.equal(missing.body.code, 'PINACLED_ERR_IMAGE_NOT_FOUND');
  const ok = await d.request('POST', '/v1/pods', { name: 'dup', template: 'custom', image: TEST_IMAGE, command: ['sleep', '600'] });
  t.equal(ok.status, 201);
  const dup = await d.request('POST', '/v1/pods', { name: 'dup', template: 'custom', image: TEST_IMAGE, command: ['sleep', '600'] });
  t.equal(dup.status, 409);
  t.equal(dup.body.code, 'PINACLED_ERR_NAME_TAKEN');
  const noAuth = await d.request('GET', '/v1/pods', undefined, { authorization: '' });
  t.equal(noAuth.status, 401);
  const names = (await docker('ps', '-a', '--filter', 'label=dev.pinacle.pod-name=x', '--format', '{{.Names}}'));
  t.equal(names, '', 'no failed request left a container');
});

t.test('503 while the engine is unreachable, and recovery when it returns', async (t) => {
  const proxy = new SocketProxy(join(tmpdir(), `pinacled-docker-proxy-${process.pid}.sock`));
  await proxy.open();
  t.teardown(() => proxy.close());
  const d = await realDaemon(t, { DOCKER_HOST: `unix://${proxy.path}` });
  const before = await d.request('POST', '/v1/pods', { name: 'survivor', template: 'custom', image: TEST_IMAGE, command: ['sleep', '600'] });
  t.equal(before.status, 201, before.text);

  await proxy.close();
  const t0 = Date.now();
  const create = await d.request('POST', '/v1/pods', { name: 'during', template: 'custom', image: TEST_IMAGE, command: ['sleep', '600'] });
  t.equal(create.status, 503);
  t.equal(create.body.code, 'PINACLED_ERR_ENGINE_UNAVAILABLE');
  t.equal(create.headers.get('retry-after'), '5');
  t.ok(Date.now() - t0 < 5000, `503 came fast (${Date.now() - t0} ms)`);
  const ready = await eventually(async () => {
    const r = await fetch(`${d.baseUrl}/readyz`);
    return r.status === 503 && ((await r.json()) as { reasons: string[] });
  }, 5000, 100);
  t.match(ready.reasons.join(' '), /engine unreachable/);
  const get = await d.request('GET', `/v1/pods/${before.body.id}`);
  t.equal(get.status, 200, 'the pod is not reported gone while the engine is away');
  const stop = await d.request('POST', `/v1/pods/${before.body.id}/stop`);
  t.equal(stop.status, 503);

  await proxy.open();
  await eventually(async () => (await fetch(`${d.baseUrl}/readyz`)).status === 200, 15_000, 200);
  const after = await d.request('POST', '/v1/pods', { name: 'after', template: 'custom', image: TEST_IMAGE, command: ['sleep', '600'] });
  t.equal(after.status, 201, after.text);
  const survivor = await d.request('GET', `/v1/pods/${before.body.id}`);
  t.equal(survivor.body.state, 'running', 'state matches the engine after recovery');
  t.equal((await inspect(`pinacle-pod-${before.body.id}`)).State.Running, true);
  t.equal(await exists('container', `pinacle-pod-during`), false);
});

t.test('a base pod: the password is in no inspect output, and it still logs into code-server', async (t) => {
  t.ok(await docker('images', '-q', 'pinacled/base:0.1.0'), 'pinacled/base:0.1.0 is built (scripts/build-images)');
  const d = await realDaemon(t);
  const res = await d.request('POST', '/v1/pods', { name: 'vscode', template: 'base', resources: { memoryMb: 1024, cpuCores: 1 } });
  t.equal(res.status, 201, res.text);
  const password: string = res.body.secrets.PASSWORD;
  t.ok(password.length >= 24, 'the create answer has the password');
  const c = await inspect(`pinacle-pod-${res.body.id}`);
  t.notOk(JSON.stringify(c).includes(password), 'docker inspect holds no password');
  t.notOk((c.Config.Env as string[]).some((e) => e.startsWith('PASSWORD=')), 'no PASSWORD variable');
  const port = res.body.ports.find((p: { containerPort: number }) => p.containerPort === 8080).hostPort as number;
  const login = (pw: string) =>
    fetch(`http://127.0.0.1:${port}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `password=${encodeURIComponent(pw)}`,
    });
  await eventually(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200, 120_000, 500);
  const wrong = await login('wrong-password');
  t.equal(wrong.status, 200, 'a wrong password gets the login page again');
  const right = await login(password);
  t.equal(right.status, 302, 'the pod password logs in');
  t.match(String(right.headers.get('set-cookie')), /code-server-session/);
});
