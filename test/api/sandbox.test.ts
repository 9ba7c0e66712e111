import t from 'tap';
import { auth, fakeDaemon } from '../helpers/app.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1' };

t.test('sandbox.platform picks the runtime registered for that gVisor platform', async (t) => {
  const d = await fakeDaemon(t);
  d.runtime.runtimes = ['runc', 'runsc', 'runsc-systrap', 'runsc-ptrace'];
  await d.engine.check();
  const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, sandbox: { platform: 'ptrace' } } });
  t.equal(res.statusCode, 201, res.body);
  t.equal(res.json().runtime, 'runsc-ptrace');
  t.equal(d.runtime.containers.get(res.json().containerId)?.spec.runtime, 'runsc-ptrace', 'the engine was asked for that runtime');
  const plain = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'plain' } });
  t.equal(plain.json().runtime, 'runsc', 'no platform asked, none in the template: the build default');
});

t.test('a template default platform the host lacks falls back; an explicit one is a 400', async (t) => {
  const d = await fakeDaemon(t);
  d.runtime.runtimes = ['runc', 'runsc', 'runsc-ptrace'];
  d.runtime.images.add('pinacled/nextjs:0.1.0');
  await d.engine.check();
  const next = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'next', template: 'nextjs' } });
  t.equal(next.statusCode, 201, next.body);
  t.equal(next.json().runtime, 'runsc-ptrace', 'nextjs defaults to ptrace (long-idle dev server)');

  const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, sandbox: { platform: 'systrap' } } });
  t.equal(res.statusCode, 400);
  t.match(res.headers['content-type'], /application\/problem\+json/);
  t.match(res.json(), { code: 'PINACLED_ERR_PLATFORM_UNAVAILABLE', errors: [{ field: 'sandbox.platform', message: /available: ptrace/ }] });
  const list = (await d.app.inject({ url: '/v1/pods', headers: auth })).json();
  t.same(list.items.map((p: { name: string }) => p.name), ['next'], 'nothing half-created');

  d.runtime.runtimes = ['runc', 'runsc'];
  await d.engine.check();
  const fallback = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'next2', template: 'nextjs' } });
  t.equal(fallback.json().runtime, 'runsc', 'no runsc-ptrace registered: the build default');
});

t.test('an unknown platform is a validation error naming the field', async (t) => {
  const d = await fakeDaemon(t);
  const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, sandbox: { platform: 'kvm' } } });
  t.equal(res.statusCode, 400);
  t.equal(res.json().code, 'PINACLED_ERR_VALIDATION');
  t.match(res.json().errors, [{ field: 'sandbox.platform' }]);
  const extra = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, sandbox: { network: 'host' } } });
  t.equal(extra.statusCode, 400, 'the network stack is the host setup\'s choice, not the request\'s');
});

t.test('PINACLED_REQUIRE_NETSTACK: creates fail closed and /readyz says why while only hostinet is registered', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_REQUIRE_NETSTACK: 'true' });
  d.runtime.runtimeArgs = { runsc: ['--network=host'] };
  await d.engine.check();
  const ready = await d.app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 503);
  t.match(ready.json().reasons, [/PINACLED_REQUIRE_NETSTACK/]);
  const res = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'PINACLED_ERR_NETSTACK_UNAVAILABLE');
  t.same((await d.app.inject({ url: '/v1/pods', headers: auth })).json().items, [], 'nothing created');

  d.runtime.runtimeArgs = { runsc: [] };
  await d.engine.check();
  t.match((await d.app.inject({ url: '/readyz' })).json().checks.runtime, /ok \(runsc, network: netstack\)/);
  t.equal((await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).statusCode, 201);

  const loose = await fakeDaemon(t);
  loose.runtime.runtimeArgs = { runsc: ['--network=host'] };
  await loose.engine.check();
  t.match((await loose.app.inject({ url: '/readyz' })).json().checks.runtime, /network: host/, 'reported, not refused, unless required');
  t.equal((await loose.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).statusCode, 201);
});
