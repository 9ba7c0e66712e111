import t from 'tap';
import { bridgeNameFor, networkNameFor, PodNetworks } from '../../src/network/pod-networks.js';
import { EngineConflictError, SubnetOverlapError } from '../../src/runtime/errors.js';
import { FakeRuntime } from '../helpers/fakes/fake-runtime.js';

const POD = 'dev.pinacle.pod-id';
const labels = (id: string) => ({ 'dev.pinacle.managed': 'true', [POD]: id });

t.test('names: network per pod id, bridge pcl + 12 characters (15 max)', async (t) => {
  t.equal(networkNameFor('p0123456789abcdef'), 'pinacle-net-p0123456789abcdef');
  t.equal(bridgeNameFor('p0123456789abcdef'), 'pcl0123456789ab');
  t.ok(bridgeNameFor('p0123456789abcdef').length <= 15);
});

t.test('allocates /28s from the pool, skipping subnets other networks hold', async (t) => {
  const rt = new FakeRuntime();
  rt.networks.set('someone-else', { id: 'x', name: 'someone-else', labels: {}, subnets: ['10.213.0.0/26'] });
  const n = new PodNetworks({ runtime: rt, pool: '10.213.0.0/16', prefix: 28 });
  t.equal(await n.ensure('pa', labels('pa'), POD), 'pinacle-net-pa');
  t.same(rt.networks.get('pinacle-net-pa')!.subnets, ['10.213.0.64/28']);
  t.equal(rt.networks.get('pinacle-net-pa')!.bridgeName, 'pcla');
  await n.ensure('pb', labels('pb'), POD);
  t.same(rt.networks.get('pinacle-net-pb')!.subnets, ['10.213.0.80/28']);
});

t.test('concurrent creates get distinct subnets (serialised inside the daemon)', async (t) => {
  const rt = new FakeRuntime();
  rt.latencyMs = 2;
  const n = new PodNetworks({ runtime: rt, pool: '10.213.0.0/16', prefix: 28 });
  await Promise.all(Array.from({ length: 30 }, (_, i) => n.ensure(`p${i}`, labels(`p${i}`), POD)));
  const subnets = [...rt.networks.values()].map((x) => x.subnets[0]);
  t.equal(new Set(subnets).size, 30);
});

t.test('an overlap the list did not show (another daemon, a host route): the next subnet', async (t) => {
  const rt = new FakeRuntime();
  rt.failNext('createNetwork', new SubnetOverlapError('overlaps'));
  rt.failNext('createNetwork', new SubnetOverlapError('overlaps'));
  const n = new PodNetworks({ runtime: rt, pool: '10.213.0.0/16', prefix: 28 });
  await n.ensure('pa', labels('pa'), POD);
  t.same(rt.networks.get('pinacle-net-pa')!.subnets, ['10.213.0.32/28']);
});

t.test('exhausted pool: 503 SUBNETS_EXHAUSTED; idempotent ensure; foreign name refused', async (t) => {
  const rt = new FakeRuntime();
  const n = new PodNetworks({ runtime: rt, pool: '10.213.0.0/27', prefix: 28 });
  await n.ensure('pa', labels('pa'), POD);
  await n.ensure('pb', labels('pb'), POD);
  await t.rejects(n.ensure('pc', labels('pc'), POD), { code: 'PINACLED_ERR_SUBNETS_EXHAUSTED', status: 503 });
  t.equal(await n.ensure('pa', labels('pa'), POD), 'pinacle-net-pa', 'exists and is ours: adopted');
  t.equal(rt.networks.size, 2);
  rt.networks.set('pinacle-net-pz', { id: 'z', name: 'pinacle-net-pz', labels: { [POD]: 'someone' }, subnets: [] });
  await t.rejects(n.ensure('pz', labels('pz'), POD), { code: 'PINACLED_ERR_ENGINE' });
  rt.failNext('createNetwork', new EngineConflictError('created meanwhile'));
  await n.remove('pa');
  await t.rejects(n.ensure('pa', labels('pa'), POD), { code: 'PINACLED_ERR_ENGINE' }, 'a name conflict with nothing to adopt is an error');
  await n.remove('pa');
  await n.remove('never-existed');
  t.notOk(rt.networks.has('pinacle-net-pa'));
});
