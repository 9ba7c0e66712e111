import t from 'tap';
import { auth, fakeDaemon } from '../helpers/app.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1' };

t.test('bad input is a 400 problem naming the field', async (t) => {
  const d = await fakeDaemon(t);
  const cases: [unknown, string][] = [
    [{ ...custom, name: 'Bad_Name' }, 'name'],
    [{ ...custom, name: '-x' }, 'name'],
    [{ ...custom, privileged: true }, 'privileged'],
    [{ ...custom, resources: { memoryMb: -5 } }, 'resources.memoryMb'],
    [{ ...custom, resources: { cpuCores: 0 } }, 'resources.cpuCores'],
    [{ ...custom, resources: { memoryMb: 256, binds: ['/:/host'] } }, 'resources.binds'],
    [{ ...custom, env: { 'BAD-KEY': 'x' } }, 'env.BAD-KEY'],
    [{ ...custom, env: { PINACLE_POD_ID: 'x' } }, 'env.PINACLE_POD_ID'],
    [{ name: 'x', template: 'custom' }, 'image'],
    [{ name: 'x', template: 'base', image: 'evil:1' }, 'image'],
    [{ ...custom, template: 'windows' }, 'template'],
    [{ ...custom, ports: [{ containerPort: 80 }, { containerPort: 80 }] }, 'ports.1.containerPort'],
    [{ ...custom, ports: [{ containerPort: 70000 }] }, 'ports.0.containerPort'],
  ];
  for (const [payload, field] of cases) {
    const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: payload as object });
    t.equal(res.statusCode, 400, `${JSON.stringify(payload)} -> 400`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    const body = res.json();
    t.equal(body.code, 'PINACLED_ERR_VALIDATION');
    t.ok(body.errors.some((e: { field: string }) => e.field === field), `names ${field}: ${JSON.stringify(body.errors)}`);
  }
  t.equal(d.runtime.containers.size, 0, 'nothing was created');
  t.equal((d.runtime.calls.createContainer ?? 0), 0);
});

t.test('not JSON, too large, unknown route', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_BODY_LIMIT: '2048' });
  const bad = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: { ...auth, 'content-type': 'application/json' }, payload: '{nope' });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().code, 'PINACLED_ERR_VALIDATION');
  const big = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, env: { A: 'x'.repeat(4096) } } });
  t.equal(big.statusCode, 413);
  t.equal(big.json().code, 'PINACLED_ERR_BODY_TOO_LARGE');
  const text = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'hi' });
  t.equal(text.statusCode, 415);
  t.equal(text.json().code, 'PINACLED_ERR_UNSUPPORTED_MEDIA_TYPE');
  const nf = await d.app.inject({ url: '/v1/nothing', headers: auth });
  t.equal(nf.statusCode, 404);
  t.equal(nf.json().code, 'PINACLED_ERR_NOT_FOUND');
});

t.test('401 without or with a wrong token; public routes stay open', async (t) => {
  const d = await fakeDaemon(t);
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic abc' }, { authorization: `Bearer ${'x'.repeat(27)}` }]) {
    const res = await d.app.inject({ url: '/v1/pods', headers });
    t.equal(res.statusCode, 401);
    t.equal(res.json().code, 'PINACLED_ERR_UNAUTHORIZED');
    t.equal(res.headers['www-authenticate'], 'Bearer realm="pinacled"');
  }
  t.equal((await d.app.inject({ url: '/healthz' })).statusCode, 200);
  t.equal((await d.app.inject({ url: '/openapi.json' })).statusCode, 200);
});

t.test('409 for a duplicate name, a busy pod; 422 for a missing image', async (t) => {
  const d = await fakeDaemon(t);
  const first = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(first.statusCode, 201);
  const dup = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(dup.statusCode, 409);
  t.equal(dup.json().code, 'PINACLED_ERR_NAME_TAKEN');
  const missing = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'y', image: 'nope:1' } });
  t.equal(missing.statusCode, 422);
  t.equal(missing.json().code, 'PINACLED_ERR_IMAGE_NOT_FOUND');
  d.runtime.latencyMs = 50;
  const id = first.json().id;
  const [a, b] = await Promise.all([
    d.app.inject({ method: 'POST', url: `/v1/pods/${id}/stop`, headers: auth }),
    d.app.inject({ method: 'POST', url: `/v1/pods/${id}/restart`, headers: auth }),
  ]);
  t.same([a.statusCode, b.statusCode].sort(), [200, 409]);
  t.equal([a, b].find((r) => r.statusCode === 409)!.json().code, 'PINACLED_ERR_POD_BUSY');
});

t.test('an unreachable engine is a 503, never "pod gone"', async (t) => {
  const d = await fakeDaemon(t);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  d.runtime.down = true;
  await d.engine.check();
  const create = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'other' } });
  t.equal(create.statusCode, 503);
  t.equal(create.json().code, 'PINACLED_ERR_ENGINE_UNAVAILABLE');
  t.notMatch(create.body, /fake engine/, 'engine messages do not leak');
  const stop = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth });
  t.equal(stop.statusCode, 503);
  const ready = await d.app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 503);
  t.match(ready.json().reasons[0], /engine unreachable/);
  const get = await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth });
  t.equal(get.statusCode, 200, 'the pod is still there');
  d.runtime.down = false;
  await d.engine.check();
  await d.reconciler.runOnce();
  t.equal((await d.app.inject({ url: '/readyz' })).statusCode, 200);
  const after = (await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth })).json();
  t.equal(after.state, 'running', 'state agrees with the engine after recovery');
});

t.test('fail closed without the sandbox runtime, unless explicitly allowed', async (t) => {
  const d = await fakeDaemon(t);
  d.runtime.runtimes = ['runc'];
  await d.engine.check();
  const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'PINACLED_ERR_RUNTIME_UNAVAILABLE');
  t.equal((await d.app.inject({ url: '/readyz' })).statusCode, 503);

  const dev = await fakeDaemon(t, { PINACLED_ALLOW_UNSANDBOXED: 'true' });
  dev.runtime.runtimes = ['runc'];
  await dev.engine.check();
  const ok = await dev.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(ok.statusCode, 201);
  t.equal(ok.json().sandboxed, false);
  t.equal(ok.json().runtime, 'runc');
});

t.test('engine 500s right after an outage are the engine settling: 503, later 502', async (t) => {
  const d = await fakeDaemon(t);
  const { EngineError } = await import('../../src/runtime/errors.js');
  d.runtime.failNext('createContainer', new EngineError('container create: HTTP 500: kaput', 500));
  const before = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(before.statusCode, 502, 'no outage seen: the engine rejected the operation');
  d.runtime.down = true;
  await d.engine.check();
  d.runtime.down = false;
  await d.engine.check();
  t.ok(d.engine.settling(), 'the engine came back just now');
  d.runtime.failNext('createContainer', new EngineError('container create: HTTP 500: kaput', 500));
  const after = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(after.statusCode, 503);
  t.equal(after.json().code, 'PINACLED_ERR_ENGINE_UNAVAILABLE');
  t.notOk(d.engine.settling(0), 'the window closes');
  d.runtime.failNext('createContainer', new EngineError('container create: HTTP 400: bad', 400));
  const client = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(client.statusCode, 502, 'a 4xx from the engine is never read as settling');
  t.equal((await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).statusCode, 201);
});
