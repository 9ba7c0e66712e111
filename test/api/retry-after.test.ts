// Retry-After comes from one table next to the error codes (RETRY_AFTER_S in src/errors.ts),
// applied by the one problem sender: conditions that clear by themselves soon carry it,
// conditions that wait for an operator (exhausted ports, a missing runtime) do not (issue 18, item 9).
import Fastify from 'fastify';
import t from 'tap';
import { installProblemHandlers } from '../../src/api/problem.js';
import { ERRORS, PinacledError, RETRY_AFTER_S, type ErrorCode } from '../../src/errors.js';
import { auth, eventually, fakeDaemon } from '../helpers/app.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1', ports: [{ containerPort: 8000 }] };

t.test('every code answers the Retry-After of its row in RETRY_AFTER_S, or none', async (t) => {
  const app = Fastify();
  installProblemHandlers(app);
  app.get<{ Params: { code: string } }>('/fail/:code', async (req) => {
    throw new PinacledError(req.params.code as ErrorCode);
  });
  t.teardown(() => app.close());
  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const res = await app.inject({ url: `/fail/${code}` });
    t.equal(res.statusCode, ERRORS[code].status, `${code} keeps its status`);
    const want = RETRY_AFTER_S[code];
    t.equal(res.headers['retry-after'], want === undefined ? undefined : String(want), `${code}: Retry-After ${want ?? 'absent'}`);
  }
  t.equal(RETRY_AFTER_S.PINACLED_ERR_PORTS_EXHAUSTED, undefined, 'exhausted ports wait for pods to go: no Retry-After');
  t.equal(RETRY_AFTER_S.PINACLED_ERR_RUNTIME_UNAVAILABLE, undefined, 'a missing runtime waits for an operator: no Retry-After');
  t.ok((RETRY_AFTER_S.PINACLED_ERR_POD_BUSY ?? 0) >= 1 && (RETRY_AFTER_S.PINACLED_ERR_POD_BUSY ?? 99) <= 2, 'a busy pod: a short one');
});

t.test('through the daemon: 503s that will not clear soon carry none, the engine and a busy pod do', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_PORT_RANGE: '41000-41000' });
  const first = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(first.statusCode, 201);
  const ports = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'b' } });
  t.equal(ports.json().code, 'PINACLED_ERR_PORTS_EXHAUSTED');
  t.equal(ports.headers['retry-after'], undefined, 'no Retry-After on PORTS_EXHAUSTED');

  d.runtime.latencyMs = 100;
  const id = first.json().id as string;
  const before = d.runtime.calls.stopContainer ?? 0;
  const stop = d.app.inject({ method: 'POST', url: `/v1/pods/${id}/stop`, headers: auth });
  await eventually(() => (d.runtime.calls.stopContainer ?? 0) > before, 5000, 1);
  const busy = await d.app.inject({ method: 'POST', url: `/v1/pods/${id}/restart`, headers: auth });
  t.equal(busy.json().code, 'PINACLED_ERR_POD_BUSY');
  t.equal(busy.headers['retry-after'], '1', 'a short Retry-After on POD_BUSY');
  t.equal((await stop).statusCode, 200);
  d.runtime.latencyMs = 0;

  d.runtime.runtimes = ['runc'];
  await d.engine.check();
  const runtime = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'c', template: 'custom', image: 'pinacled/testbox:1' } });
  t.equal(runtime.json().code, 'PINACLED_ERR_RUNTIME_UNAVAILABLE');
  t.equal(runtime.headers['retry-after'], undefined, 'no Retry-After on RUNTIME_UNAVAILABLE');

  d.runtime.down = true;
  await d.engine.check();
  const engine = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'e', template: 'custom', image: 'pinacled/testbox:1' } });
  t.equal(engine.json().code, 'PINACLED_ERR_ENGINE_UNAVAILABLE');
  t.equal(engine.headers['retry-after'], '5', 'the engine monitor re-probes: Retry-After 5');
});

t.test('a 429 keeps the delay the rate limiter computed', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_RATE_LIMIT_PER_MIN: '1', PINACLED_RATE_LIMIT_BURST: '1' });
  await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'a', template: 'custom', image: 'pinacled/testbox:1' } });
  const limited = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'b', template: 'custom', image: 'pinacled/testbox:1' } });
  t.equal(limited.json().code, 'PINACLED_ERR_RATE_LIMITED');
  t.ok(Number(limited.headers['retry-after']) > 5, `the limiter's own delay (${limited.headers['retry-after']} s)`);
});
