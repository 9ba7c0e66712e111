import t from 'tap';
import { EngineError } from '../../src/runtime/errors.js';
import { GuardedRuntime, type EngineGate } from '../../src/runtime/guarded-runtime.js';
import { InstrumentedRuntime } from '../../src/runtime/instrumented-runtime.js';
import { auth, fakeDaemon } from '../helpers/app.js';
import { FakeRuntime } from '../helpers/fakes/fake-runtime.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1' };

async function metricValue(d: Awaited<ReturnType<typeof fakeDaemon>>, line: RegExp): Promise<number> {
  const body = (await d.app.inject({ url: '/metrics', headers: auth })).body;
  const m = body.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').at(-1)) : 0;
}

t.test('one engine failure on a pod action is reported to the monitor once and counted once', async (t) => {
  const d = await fakeDaemon(t);
  const created = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(created.statusCode, 201, created.body);
  const id = created.json().id as string;
  t.equal((await d.app.inject({ method: 'POST', url: `/v1/pods/${id}/stop?timeout=1`, headers: auth })).statusCode, 200);

  const reports: Error[] = [];
  const report = d.engine.reportFailure.bind(d.engine);
  d.engine.reportFailure = (err: Error) => {
    reports.push(err);
    report(err);
  };
  const errorsLine = /^pinacled_engine_errors_total\{operation="startContainer",reason="unavailable"\}/;
  const before = await metricValue(d, errorsLine);
  d.runtime.failNext('startContainer');
  const res = await d.app.inject({ method: 'POST', url: `/v1/pods/${id}/start`, headers: auth });
  t.equal(res.statusCode, 503, res.body);
  t.equal(res.json().code, 'PINACLED_ERR_ENGINE_UNAVAILABLE');
  t.equal(reports.length, 1, 'the monitor hears of the failure once');
  t.equal((await metricValue(d, errorsLine)) - before, 1, 'the failed call is counted once');
});

t.test('the guard: fails fast while down, reports unreachable once, a 5xx while settling is a 503', async (t) => {
  const fake = new FakeRuntime();
  const counts = { requests: 0, errors: [] as string[] };
  const counted = new InstrumentedRuntime(fake, {
    engineRequests: { inc: () => void counts.requests++ },
    engineErrors: { inc: (l) => void counts.errors.push(`${l.operation}:${l.reason}`) },
  });
  const state = { health: { reachable: true, error: null as string | null }, checks: 0, reports: 0, settlingNow: false };
  const gate: EngineGate = {
    get health() {
      return state.health;
    },
    async check() {
      state.checks++;
      return state.health;
    },
    reportFailure() {
      state.reports++;
    },
    settling() {
      return state.settlingNow;
    },
  };
  const guarded = new GuardedRuntime(counted, gate);

  fake.failNext('listContainers');
  await t.rejects(guarded.listContainers('x'), { code: 'PINACLED_ERR_ENGINE_UNAVAILABLE' });
  t.equal(state.reports, 1, 'reported once');
  t.same(counts.errors, ['listContainers:unavailable'], 'counted once');

  state.health = { reachable: false, error: 'down' };
  const requests = counts.requests;
  await t.rejects(guarded.info(), { code: 'PINACLED_ERR_ENGINE_UNAVAILABLE' });
  t.equal(state.checks, 1, 'a call while down re-checks first');
  t.equal(counts.requests, requests, 'and never reaches the engine');

  state.health = { reachable: true, error: null };
  state.settlingNow = true;
  fake.failNext('startContainer', new EngineError('restoring', 500));
  await t.rejects(guarded.startContainer('c'), { code: 'PINACLED_ERR_ENGINE_UNAVAILABLE' });
  state.settlingNow = false;
  fake.failNext('startContainer', new EngineError('rejected', 500));
  await t.rejects(guarded.startContainer('c'), { code: 'PINACLED_ERR_ENGINE' });
  t.equal(state.reports, 1, 'an engine that answered is not reported as unreachable');
  t.equal(typeof guarded.containerStats, typeof fake.containerStats, 'the optional method is there exactly when the inner runtime has it');
});
