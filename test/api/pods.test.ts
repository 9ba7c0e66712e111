import { createHash } from 'node:crypto';
import t from 'tap';
import { auth, eventually, fakeDaemon } from '../helpers/app.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1', ports: [{ containerPort: 8000 }] };

t.test('create, get, list, stop, start, restart, delete', async (t) => {
  const d = await fakeDaemon(t);
  const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, env: { SECRET: 'hunter2' }, labels: { team: 'a' } } });
  t.equal(res.statusCode, 201, res.body);
  const pod = res.json();
  t.equal(pod.state, 'running');
  t.same(pod.envKeys, ['SECRET']);
  t.notMatch(res.body, /hunter2/, 'env values never come back');
  t.equal(res.headers.location, `/v1/pods/${pod.id}`);
  t.equal(pod.ports[0].hostIp, '127.0.0.1');
  t.ok(pod.ports[0].hostPort >= 41000 && pod.ports[0].hostPort <= 41999);

  const got = await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth });
  t.equal(got.json().id, pod.id);
  const list = await d.app.inject({ url: '/v1/pods?label=team=a&state=running', headers: auth });
  t.equal(list.json().items.length, 1);
  const none = await d.app.inject({ url: '/v1/pods?label=team=b', headers: auth });
  t.equal(none.json().items.length, 0);

  const stopped = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop?timeout=1`, headers: auth });
  t.equal(stopped.json().state, 'stopped');
  const again = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth });
  t.equal(again.statusCode, 200, 'stop of a stopped pod is a no-op');
  const started = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth });
  t.equal(started.json().state, 'running');
  t.equal(started.json().ports[0].hostPort, pod.ports[0].hostPort, 'host port survives stop/start');
  const startAgain = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth });
  t.equal(startAgain.statusCode, 200, 'start of a running pod is a no-op');
  const restarted = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/restart`, headers: auth });
  t.equal(restarted.json().state, 'running');

  const del = await d.app.inject({ method: 'DELETE', url: `/v1/pods/${pod.id}`, headers: auth });
  t.equal(del.statusCode, 204);
  t.equal(d.runtime.containers.size, 0, 'container removed');
  t.equal(d.runtime.volumes.size, 0, 'volume removed');
  const gone = await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth });
  t.equal(gone.statusCode, 404);
  t.equal(gone.json().code, 'PINACLED_ERR_POD_NOT_FOUND');
});

t.test('host ports never collide and return to the pool', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_PORT_RANGE: '41000-41001' });
  const a = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'a' } })).json();
  const b = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'b' } })).json();
  t.not(a.ports[0].hostPort, b.ports[0].hostPort);
  const c = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'c' } });
  t.equal(c.statusCode, 503);
  t.equal(c.json().code, 'PINACLED_ERR_PORTS_EXHAUSTED');
  await d.app.inject({ method: 'DELETE', url: `/v1/pods/${a.id}`, headers: auth });
  const c2 = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'c' } });
  t.equal(c2.statusCode, 201);
  t.equal(c2.json().ports[0].hostPort, a.ports[0].hostPort, 'freed port is reused');
});

t.test('a container that exits on its own reads stopped with its exit code', async (t) => {
  const d = await fakeDaemon(t);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  d.runtime.exit(pod.containerId, 3);
  const after = await eventually(async () => {
    const p = (await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth })).json();
    return p.state === 'stopped' && p;
  });
  t.equal(after.exitCode, 3);
  d.runtime.exit((await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth })).json().containerId, 137);
  // OOM is reported through the same path
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth });
  d.runtime.exit(pod.containerId, 137, { oom: true });
  const oom = await eventually(async () => {
    const p = (await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth })).json();
    return p.oomKilled && p;
  });
  t.equal(oom.error.code, 'OOM_KILLED');
});

t.test('a failed create leaves nothing behind', async (t) => {
  const d = await fakeDaemon(t);
  d.runtime.failNext('startContainer');
  const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'PINACLED_ERR_ENGINE_UNAVAILABLE');
  t.equal(d.runtime.containers.size, 0);
  t.equal(d.runtime.volumes.size, 0);
  const list = await d.app.inject({ url: '/v1/pods', headers: auth });
  t.same(list.json().items, []);
  const retry = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(retry.statusCode, 201, 'the name is free again');
});

t.test('templates supply image, ports and a per-pod code-server password', async (t) => {
  const d = await fakeDaemon(t);
  d.runtime.images.add('pinacled/base:0.1.0');
  const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'dev', template: 'base' } });
  t.equal(res.statusCode, 201, res.body);
  const pod = res.json();
  t.equal(pod.image, 'pinacled/base:0.1.0');
  t.equal(pod.ports[0].containerPort, 8080);
  t.match(pod.secrets.PASSWORD, /^[A-Za-z0-9_-]{24}$/);
  const env = d.runtime.specOf(pod.containerId)?.env ?? {};
  t.notOk('PASSWORD' in env, 'the password is not in the container env');
  t.equal(env.HASHED_PASSWORD, createHash('sha256').update(pod.secrets.PASSWORD).digest('hex'), 'its SHA-256 is');
  t.same(pod.envKeys, ['HASHED_PASSWORD']);
  const again = (await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth })).json();
  t.notOk('secrets' in again, 'secrets are shown once');
  const templates = (await d.app.inject({ url: '/v1/templates', headers: auth })).json();
  t.same(
    templates.items.map((x: { name: string; imagePresent: boolean | null }) => [x.name, x.imagePresent]),
    [['base', true], ['nextjs', false], ['mastra', false], ['custom', null]],
  );
});
