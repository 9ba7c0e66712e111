import t from 'tap';
import { containerNameFor, newPodId, POD_ID_PATTERN, volumeNameFor } from '../../src/pods/ids.js';
import { canTransition, TRANSITIONAL } from '../../src/pods/state.js';
import { chooseRuntime, runtimeNetwork } from '../../src/pods/runtime-choice.js';
import type { EngineInfo } from '../../src/runtime/container-runtime.js';

const engine = (runtimes: Record<string, string[]>): EngineInfo => ({
  version: 'x', apiVersion: '', runtimes: Object.keys(runtimes), runtimeArgs: runtimes, defaultRuntime: 'runc', cgroupVersion: '1', cgroupDriver: 'cgroupfs',
});
const req = (o: Partial<Parameters<typeof chooseRuntime>[1]> = {}) => ({ configured: 'runsc', allowUnsandboxed: false, requireNetstack: false, ...o });

t.test('pod ids are URL- and DNS-safe and unique', async (t) => {
  const ids = new Set(Array.from({ length: 10_000 }, newPodId));
  t.equal(ids.size, 10_000);
  for (const id of [...ids].slice(0, 500)) t.match(id, POD_ID_PATTERN);
  t.equal(containerNameFor('pabc'), 'pinacle-pod-pabc');
  t.equal(volumeNameFor('pabc'), 'pinacle-ws-pabc');
});

t.test('runtime choice fails closed', async (t) => {
  t.same(chooseRuntime(engine({ runc: [], runsc: [] }), req()), { runtime: 'runsc', sandboxed: true });
  t.throws(() => chooseRuntime(engine({ runc: [] }), req()), { code: 'PINACLED_ERR_RUNTIME_UNAVAILABLE' });
  t.same(chooseRuntime(engine({ runc: [] }), req({ allowUnsandboxed: true })), { runtime: 'runc', sandboxed: false });
});

t.test('a gVisor platform is its own registered runtime; explicit asks are honoured or refused', async (t) => {
  const both = engine({ runc: [], runsc: [], 'runsc-systrap': ['--platform=systrap'], 'runsc-ptrace': ['--platform=ptrace'] });
  t.same(chooseRuntime(both, req({ platform: { value: 'ptrace', explicit: true } })), { runtime: 'runsc-ptrace', sandboxed: true });
  t.same(chooseRuntime(both, req({ platform: { value: 'systrap', explicit: false } })), { runtime: 'runsc-systrap', sandboxed: true });
  // The 2022 build has no systrap: a template default falls back, an explicit ask is a 400.
  const old = engine({ runc: [], runsc: [], 'runsc-ptrace': ['--platform=ptrace'] });
  t.same(chooseRuntime(old, req({ platform: { value: 'systrap', explicit: false } })), { runtime: 'runsc', sandboxed: true });
  t.throws(() => chooseRuntime(old, req({ platform: { value: 'systrap', explicit: true } })), {
    code: 'PINACLED_ERR_PLATFORM_UNAVAILABLE',
    fields: [{ field: 'sandbox.platform', message: /available: ptrace/ }],
  });
});

t.test('PINACLED_REQUIRE_NETSTACK refuses a runtime on the host network stack', async (t) => {
  const hostinet = engine({ runc: [], runsc: ['--network=host'], 'runsc-ptrace': ['--network=host', '--platform=ptrace'] });
  const netstack = engine({ runc: [], runsc: [], 'runsc-ptrace': ['--platform=ptrace'] });
  t.equal(runtimeNetwork(hostinet, 'runsc'), 'host');
  t.equal(runtimeNetwork(netstack, 'runsc'), 'netstack');
  t.equal(runtimeNetwork(netstack, 'kata'), undefined);
  t.same(chooseRuntime(hostinet, req()), { runtime: 'runsc', sandboxed: true }, 'allowed unless required');
  t.throws(() => chooseRuntime(hostinet, req({ requireNetstack: true })), { code: 'PINACLED_ERR_NETSTACK_UNAVAILABLE' });
  t.throws(() => chooseRuntime(hostinet, req({ requireNetstack: true, platform: { value: 'ptrace', explicit: true } })), { code: 'PINACLED_ERR_NETSTACK_UNAVAILABLE' });
  t.same(chooseRuntime(netstack, req({ requireNetstack: true })), { runtime: 'runsc', sandboxed: true });
});

t.test('transitions', async (t) => {
  t.ok(canTransition('running', 'stopping'));
  t.notOk(canTransition('deleting', 'running'));
  t.ok(TRANSITIONAL.has('creating'));
  t.notOk(TRANSITIONAL.has('running'));
});
