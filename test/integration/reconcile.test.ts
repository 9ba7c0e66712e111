import t from 'tap';
import { disagreement, engineView, isClean, storeIdOf } from '../helpers/agreement.js';
import { eventually } from '../helpers/app.js';
import { realDaemon, TEST_IMAGE } from '../helpers/daemon.js';
import { docker, exists } from '../helpers/docker.js';

/**
 * Acceptance 4 on the real engine: a container removed behind pinacled's back and a stray
 * container with pinacled's labels but no pod are both repaired by the next reconcile pass and
 * reported (log line + pinacled_reconcile_repairs_total); containers without our labels, or with
 * another store's id, are never touched.
 */
const sleepPod = (name: string) => ({ name, template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 64 } });
const suffix = `${process.pid}${Math.floor(Math.random() * 1e4)}`;

t.test('drift made while the daemon was down is repaired by its first pass', async (t) => {
  const d = await realDaemon(t, { PINACLED_RECONCILE_INTERVAL_S: '60' });
  const view = engineView();
  const a = (await d.request('POST', '/v1/pods', sleepPod('gone'))).body;
  const b = (await d.request('POST', '/v1/pods', sleepPod('kept'))).body;
  t.equal(a.state, 'running');
  const sid = await storeIdOf(view, a.id);

  // Our own test objects, removed by exact name at the end (whatever the daemon did).
  const stray = `pinacle-pod-pstray${suffix}`;
  const strayVolume = `pinacle-ws-pstray${suffix}`;
  const foreign = `pinacle-pod-pforeign${suffix}`;
  const unlabelled = `pinacle-pod-punlabelled${suffix}`;
  t.teardown(async () => {
    await docker('rm', '-f', stray, foreign, unlabelled).catch(() => undefined);
    await docker('volume', 'rm', '-f', strayVolume).catch(() => undefined);
  });

  await d.stop();
  t.equal(await docker('inspect', '-f', '{{.State.Running}}', `pinacle-pod-${b.id}`), 'true', 'pods keep running while the daemon is stopped');
  await docker('rm', '-f', `pinacle-pod-${a.id}`);
  const labels = (podId: string, store: string) => ['--label', 'dev.pinacle.managed=true', '--label', `dev.pinacle.pod-id=${podId}`, '--label', `dev.pinacle.store-id=${store}`];
  await docker('volume', 'create', ...labels(`pstray${suffix}`, sid), strayVolume);
  await docker('run', '-d', '--name', stray, '--runtime=runsc', ...labels(`pstray${suffix}`, sid), '-v', `${strayVolume}:/workspace`, TEST_IMAGE, 'sleep', '3600');
  await docker('run', '-d', '--name', foreign, '--runtime=runsc', ...labels(`pforeign${suffix}`, 'some-other-store'), TEST_IMAGE, 'sleep', '3600');
  await docker('run', '-d', '--name', unlabelled, '--runtime=runsc', TEST_IMAGE, 'sleep', '3600');

  await d.restart(); // ready = the first pass is done
  const podA = (await d.request('GET', `/v1/pods/${a.id}`)).body;
  t.equal(podA.state, 'failed', 'the pod whose container vanished is failed...');
  t.equal(podA.error.code, 'CONTAINER_GONE', '... with the reason');
  t.equal((await d.request('GET', `/v1/pods/${b.id}`)).body.state, 'running', 'the other pod is untouched');
  t.notOk(await exists('container', stray), 'the stray container with our store id is removed');
  t.notOk(await exists('volume', strayVolume), 'and its volume');
  t.ok(await exists('container', foreign), "another store's container is kept");
  t.equal(await docker('inspect', '-f', '{{.State.Running}}', unlabelled), 'true', 'a container without our labels is never touched');

  const log = d.output();
  t.match(log, new RegExp(`"repair":"container_gone","podId":"${a.id}"`), 'reported in the log');
  t.match(log, new RegExp(`"repair":"remove_stray_container","podId":"pstray${suffix}"`));
  t.match(log, new RegExp(`"repair":"remove_stray_volume","podId":"pstray${suffix}"`));
  t.match(log, new RegExp(`"repair":"refuse_foreign","podId":"pforeign${suffix}"`));
  const metrics = (await d.request('GET', '/metrics')).text;
  for (const kind of ['container_gone', 'remove_stray_container', 'remove_stray_volume']) {
    t.match(metrics, new RegExp(`pinacled_reconcile_repairs_total\\{kind="${kind}"\\} [1-9]`), `counted: ${kind}`);
  }

  // start recreates the container from the pod's spec; the workspace volume was kept.
  const started = await d.request('POST', `/v1/pods/${a.id}/start`);
  t.equal(started.status, 200, started.text);
  t.equal(started.body.state, 'running');
  t.equal(await docker('exec', `pinacle-pod-${a.id}`, 'uname', '-r'), '4.4.0');
  const pods = await d.listPods();
  t.ok(isClean(await disagreement(view, sid, pods)));
});

t.test('drift made while the daemon runs is repaired without a restart', async (t) => {
  const d = await realDaemon(t, { PINACLED_RECONCILE_INTERVAL_S: '3' });
  const view = engineView();
  const a = (await d.request('POST', '/v1/pods', sleepPod('live'))).body;
  const sid = await storeIdOf(view, a.id);
  const stray = `pinacle-pod-plive${suffix}`;
  t.teardown(() => docker('rm', '-f', stray).catch(() => undefined));

  const t0 = Date.now();
  await docker('rm', '-f', `pinacle-pod-${a.id}`);
  const failed = await eventually(async () => {
    const p = (await d.request('GET', `/v1/pods/${a.id}`)).body;
    return p.state === 'failed' && p;
  }, 10_000, 100);
  t.equal(failed.error.code, 'CONTAINER_GONE');
  const goneMs = Date.now() - t0;

  const t1 = Date.now();
  // `create`, not `run`: the daemon may remove the stray (on its create event) before a `run`
  // gets to start it.
  await docker('create', '--name', stray, '--runtime=runsc', '--label', 'dev.pinacle.managed=true', '--label', `dev.pinacle.pod-id=plive${suffix}`, '--label', `dev.pinacle.store-id=${sid}`, TEST_IMAGE, 'sleep', '3600');
  await eventually(async () => !(await exists('container', stray)), 15_000, 200);
  const strayMs = Date.now() - t1;
  t.match(d.output(), new RegExp(`"repair":"remove_stray_container","podId":"plive${suffix}"`));
  t.comment(`live drift: removed container seen as failed after ${goneMs} ms; stray removed after ${strayMs} ms`);
});
