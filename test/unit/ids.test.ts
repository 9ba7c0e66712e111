import t from 'tap';
import { containerNameFor, newPodId, POD_ID_PATTERN, volumeNameFor } from '../../src/pods/ids.js';
import { canTransition, TRANSITIONAL } from '../../src/pods/state.js';
import { chooseRuntime } from '../../src/pods/runtime-choice.js';

t.test('pod ids are URL- and DNS-safe and unique', async (t) => {
  const ids = new Set(Array.from({ length: 10_000 }, newPodId));
  t.equal(ids.size, 10_000);
  for (const id of [...ids].slice(0, 500)) t.match(id, POD_ID_PATTERN);
  t.equal(containerNameFor('pabc'), 'pinacle-pod-pabc');
  t.equal(volumeNameFor('pabc'), 'pinacle-ws-pabc');
});

t.test('runtime choice fails closed', async (t) => {
  t.same(chooseRuntime(['runc', 'runsc'], 'runsc', false), { runtime: 'runsc', sandboxed: true });
  t.throws(() => chooseRuntime(['runc'], 'runsc', false), { code: 'PINACLED_ERR_RUNTIME_UNAVAILABLE' });
  t.same(chooseRuntime(['runc'], 'runsc', true), { runtime: 'runc', sandboxed: false });
});

t.test('transitions', async (t) => {
  t.ok(canTransition('running', 'stopping'));
  t.notOk(canTransition('deleting', 'running'));
  t.ok(TRANSITIONAL.has('creating'));
  t.notOk(TRANSITIONAL.has('running'));
});
