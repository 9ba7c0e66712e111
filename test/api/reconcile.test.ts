import { REPAIR_KINDS } from '../../src/pods/reconciler.js';
import t from 'tap';
import { LABEL } from '../../src/pods/labels.js';
import { STORE_ID_LABEL } from '../../src/pods/labels.js';
import { buildContainerSpec } from '../../src/pods/spec.js';
import { openDb } from '../../src/store/db.js';
import { PodsRepo } from '../../src/store/pods-repo.js';
import type { Pod } from '../../src/pods/types.js';
import { auth, eventually, fakeDaemon, fakeDaemonOn, type TestDaemon } from '../helpers/app.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1', command: ['sleep', '3600'] };

async function createPod(d: TestDaemon, name: string) {
  const r = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name } });
  if (r.statusCode !== 201) throw new Error(r.body);
  return r.json() as { id: string; containerId: string };
}

function storeIdOf(d: TestDaemon, containerId: string): string {
  return d.runtime.specOf(containerId)!.labels[STORE_ID_LABEL]!;
}

/**
 * Cuts the event stream (the watcher resubscribes after a second), so the drift a test makes is
 * seen by the pass the test runs, not by an event-triggered one.
 */
function quiet(d: TestDaemon): void {
  d.runtime.breakEventStreams();
}

/** A container (and volume) that look like pinacled's, for a pod id the store does not have. */
async function stray(d: TestDaemon, podId: string, labels: Record<string, string>) {
  const pod = {
    id: podId,
    name: podId,
    template: 'custom',
    image: 'pinacled/testbox:1',
    command: ['sleep', '1'],
    runtime: 'runsc',
    resources: { cpuCores: 1, memoryMb: 64, pidsLimit: 16 },
    ports: [],
    env: {},
    labels: {},
    containerName: `pinacled-${podId}`,
    volumeName: `pinacled-${podId}-ws`,
  } as unknown as Pod;
  const spec = buildContainerSpec(pod, { logMaxSize: '1m', logMaxFile: 1 });
  Object.assign(spec.labels, labels);
  await d.runtime.createVolume(pod.volumeName, { [LABEL.MANAGED]: 'true', [LABEL.POD_ID]: podId, ...labels });
  return d.runtime.createContainer(spec);
}

t.test('engine drift is repaired and reported; foreign and unlabelled objects are never touched', async (t) => {
  const d = await fakeDaemon(t);
  const a = await createPod(d, 'a');
  const b = await createPod(d, 'b');
  const sid = storeIdOf(d, a.containerId);
  quiet(d);
  // Drift without events (as if they were lost): a's container vanished, b's exited.
  d.runtime.containers.delete(a.containerId);
  const bc = [...d.runtime.containers.values()].find((c) => c.id === b.containerId)!;
  Object.assign(bc.status, { running: false, status: 'exited', exitCode: 9, finishedAt: new Date().toISOString() });
  // A stray of this store, one of another store, and a container that is not pinacled's at all.
  await stray(d, 'pstrayaaaaaaaaaaa', { [STORE_ID_LABEL]: sid });
  await stray(d, 'pforeignaaaaaaaaa', { [STORE_ID_LABEL]: 'another-store' });
  const unlabelled = await d.runtime.createContainer({ ...buildContainerSpec({ ...(d.service.get(b.id)), containerName: 'not-ours' }, { logMaxSize: '1m', logMaxFile: 1 }), labels: {} });

  const report = await d.reconciler.runOnce();
  const kinds = report.repairs.map((r) => `${r.kind}:${r.podId}`).sort();
  t.same(kinds, [
    `container_gone:${a.id}`,
    'refuse_foreign:pforeignaaaaaaaaa',
    'refuse_foreign:pforeignaaaaaaaaa',
    'remove_stray_container:pstrayaaaaaaaaaaa',
    'remove_stray_volume:pstrayaaaaaaaaaaa',
    `state_sync:${b.id}`,
  ]);
  const podA = d.service.get(a.id);
  t.equal(podA.state, 'failed');
  t.equal(podA.error?.code, 'CONTAINER_GONE');
  t.equal(d.service.get(b.id).state, 'stopped');
  t.equal(d.service.get(b.id).exitCode, 9);
  t.notOk(d.runtime.specOf('pinacled-pstrayaaaaaaaaaaa'), 'our stray container removed');
  t.notOk(d.runtime.volumes.has('pinacled-pstrayaaaaaaaaaa-ws'), 'our stray volume removed');
  t.ok(d.runtime.specOf('pinacled-pforeignaaaaaaaaa'), "another store's container kept");
  t.ok(d.runtime.volumes.has('pinacled-pforeignaaaaaaaaa-ws'), "another store's volume kept");
  t.ok(d.runtime.specOf(unlabelled), 'a container without our labels is never touched');

  const metrics = (await d.app.inject({ url: '/metrics', headers: auth })).body;
  t.match(metrics, /pinacled_reconcile_repairs_total\{kind="container_gone"\} 1/);
  t.match(metrics, /pinacled_reconcile_repairs_total\{kind="remove_stray_container"\} 1/);

  const second = await d.reconciler.runOnce();
  t.same(second.repairs, [], 'a second pass finds nothing to do (foreign objects are reported once)');
  // start recreates the vanished container; the pod is whole again.
  const started = await d.app.inject({ method: 'POST', url: `/v1/pods/${a.id}/start`, headers: auth });
  t.equal(started.json().state, 'running');
});

t.test('many strays: the store probably lost rows, so nothing is removed', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_RECONCILE_MAX_REMOVALS: '3' });
  const a = await createPod(d, 'a');
  const sid = storeIdOf(d, a.containerId);
  quiet(d);
  for (let i = 0; i < 4; i++) await stray(d, `pmass${i}aaaaaaaaaaa`, { [STORE_ID_LABEL]: sid });
  const report = await d.reconciler.runOnce();
  t.same(
    report.repairs.map((r) => r.kind),
    ['refuse_mass_delete', 'refuse_mass_delete'],
  );
  t.match(report.repairs[0]!.detail, /4 containers carry this store's id but have no pod/);
  t.equal(d.runtime.containers.size, 5, 'nothing removed');
  t.equal(d.runtime.volumes.size, 5);
});

t.test('half-done operations left by a crash are finished or rolled back', async (t) => {
  const d = await fakeDaemon(t);
  const a = await createPod(d, 'a');
  const b = await createPod(d, 'b');
  const c = await createPod(d, 'c');
  // What a crash leaves: a create that never answered, a delete half done, a stop half done,
  // written into the store after the daemon is gone (it holds the store's lock while it runs).
  await d.close();
  const db = openDb(d.dataDir);
  const pods = new PodsRepo(db);
  pods.update(a.id, { state: 'creating' }, new Date().toISOString());
  pods.update(b.id, { state: 'deleting' }, new Date().toISOString());
  pods.update(c.id, { state: 'stopping' }, new Date().toISOString());
  db.close();
  // The restarted daemon's first pass repairs them.
  const d2 = await fakeDaemonOn(t, d.dataDir, d.runtime);
  await eventually(() => d2.reconciler.passes > 0);
  const metrics = (await d2.app.inject({ url: '/metrics', headers: auth })).body;
  const repairs = [...metrics.matchAll(/^pinacled_reconcile_repairs_total\{kind="(\w+)"\} (\d+)$/gm)].map((m) => `${m[1]}:${m[2]}`).sort();
  // Every kind is exported (at zero until it happens); exactly these three happened, once each.
  t.same(repairs.filter((r) => !r.endsWith(':0')), ['finish_delete:1', 'rollback_create:1', 'state_sync:1']);
  t.equal(repairs.length, REPAIR_KINDS.length, 'one series per repair kind');
  const items = (await d2.app.inject({ url: '/v1/pods', headers: auth })).json().items;
  t.same(items.map((p: { id: string; state: string }) => `${p.id}:${p.state}`), [`${c.id}:running`], 'a rolled back, b deleted, c synced');
  t.equal(d.runtime.containers.size, 1);
  t.equal(d.runtime.volumes.size, 1);
});

t.test('a second daemon on the same data dir refuses to start, and nothing is changed', async (t) => {
  const d = await fakeDaemon(t);
  await createPod(d, 'a');
  await t.rejects(fakeDaemonOn(t, d.dataDir, d.runtime), { name: 'StoreOpenError', message: /held by another process.*another pinacled runs on/ });
  const items = (await d.app.inject({ url: '/v1/pods', headers: auth })).json().items;
  t.same(items.map((p: { name: string; state: string }) => `${p.name}:${p.state}`), ['a:running'], 'the first daemon still serves its pods');
  t.ok((await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'b' } })).statusCode === 201, 'and still writes');
});

t.test('not ready while the engine is down, and again until a pass after it returns', async (t) => {
  const d = await fakeDaemon(t);
  const a = await createPod(d, 'a');
  t.equal((await d.app.inject({ url: '/readyz' })).statusCode, 200);
  d.runtime.down = true;
  await d.engine.check();
  const down = (await d.app.inject({ url: '/readyz' })).json();
  t.equal(down.status, 'not-ready');
  t.match(down.reasons[0], /engine unreachable/);
  // The container exited while the engine was away (no event reaches us).
  const c = [...d.runtime.containers.values()][0]!;
  Object.assign(c.status, { running: false, status: 'exited', exitCode: 137 });
  // Requests that need the engine fail fast, reads still answer.
  const t0 = Date.now();
  const stop = await d.app.inject({ method: 'POST', url: `/v1/pods/${a.id}/stop`, headers: auth });
  t.equal(stop.statusCode, 503);
  t.ok(Date.now() - t0 < 1000, 'fast');
  t.equal((await d.app.inject({ url: `/v1/pods/${a.id}`, headers: auth })).statusCode, 200);
  d.runtime.down = false;
  d.runtime.latencyMs = 50; // the pass after `up` takes a moment: readiness must wait for it
  await d.engine.check();
  const mid = (await d.app.inject({ url: '/readyz' })).json();
  t.equal(mid.status, 'not-ready', 'engine back, pass not done yet');
  t.match(mid.reasons.join(), /reconcile pass after the engine returned/);
  await eventually(async () => (await d.app.inject({ url: '/readyz' })).statusCode === 200, 3000);
  t.equal(d.service.get(a.id).state, 'stopped', 'state matches the engine after the pass');
});

t.test('an event for a container the store does not know triggers a pass', async (t) => {
  const d = await fakeDaemon(t);
  const a = await createPod(d, 'a');
  const sid = storeIdOf(d, a.containerId);
  const id = await stray(d, 'peventaaaaaaaaaaa', { [STORE_ID_LABEL]: sid });
  await eventually(() => !d.runtime.specOf(id), 3000);
  t.pass('removed without waiting for the periodic pass');
});
