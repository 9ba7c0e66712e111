import t from 'tap';
import { eventually } from '../helpers/app.js';
import { realDaemon, TEST_IMAGE, type RealDaemon } from '../helpers/daemon.js';
import { docker } from '../helpers/docker.js';
import { connect } from '../helpers/ws.js';

async function createPod(d: RealDaemon, name: string, script: string, extra: Record<string, unknown> = {}) {
  const res = await d.request('POST', '/v1/pods', { name, template: 'custom', image: TEST_IMAGE, command: ['sh', '-c', script], ...extra });
  if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${res.text}`);
  return { ...res.body, container: `pinacle-pod-${res.body.id}` } as { id: string; container: string; state: string };
}

async function eventsOf(d: RealDaemon, query: string) {
  const r = await d.request('GET', `/v1/events${query}`);
  if (r.status !== 200) throw new Error(`events: ${r.status} ${r.text}`);
  return r.body.items as { seq: number; podId: string; type: string; details: Record<string, unknown> }[];
}

const eventsWs = (d: RealDaemon, after: number) => connect(`ws://127.0.0.1:${d.port}/v1/events/stream?after=${after}`, { protocols: ['pinacled.v1', `bearer.${d.token}`] });

t.test('docker kill outside pinacled: an exited event, and the pod reads stopped with the exit code', async (t) => {
  const d = await realDaemon(t);
  const pod = await createPod(d, 'killme', 'while :; do sleep 1; done');
  const t0 = Date.now();
  await docker('kill', pod.container);
  const ev = await eventually(async () => (await eventsOf(d, `?podId=${pod.id}`)).find((e) => e.type === 'exited'), 15_000, 100);
  t.equal(ev.details.exitCode, 137, 'SIGKILL: 137');
  t.equal(ev.details.oomKilled, false);
  const got = await d.request('GET', `/v1/pods/${pod.id}`);
  t.equal(got.body.state, 'stopped');
  t.equal(got.body.exitCode, 137);
  t.equal((await docker('inspect', '-f', '{{.State.ExitCode}}', pod.container)), '137', 'what the engine holds');
  t.comment(`exited event recorded ${Date.now() - t0} ms after docker kill`);
});

t.test('an OOM produces an oom-killed event', async (t) => {
  const d = await realDaemon(t);
  // Writes outside volumes live in sandbox memory under runsc (HOST-NOTES): 200 MB in a 64 MB pod.
  const pod = await createPod(d, 'oom', 'sleep 2; dd if=/dev/zero of=/tmp/fill bs=1M count=200; sleep 3600', { resources: { memoryMb: 64 } });
  const ev = await eventually(async () => (await eventsOf(d, `?podId=${pod.id}`)).find((e) => e.type === 'oom-killed'), 60_000, 200).catch(async (err) => {
    t.comment(JSON.stringify(await eventsOf(d, `?podId=${pod.id}`)));
    t.comment(await docker('inspect', '-f', '{{json .State}} {{.HostConfig.Memory}} {{json .HostConfig.Tmpfs}} {{.HostConfig.ReadonlyRootfs}}', pod.container));
    throw err;
  });
  t.equal(ev.details.oomKilled, true);
  const got = await d.request('GET', `/v1/pods/${pod.id}`);
  t.equal(got.body.state, 'stopped');
  t.equal(got.body.oomKilled, true);
  t.equal((await docker('inspect', '-f', '{{.State.OOMKilled}}', pod.container)), 'true', 'the engine says OOM too');
});

t.test('an events client that reconnects with its last seq gets exactly the five transitions it missed, across a daemon restart', async (t) => {
  const d = await realDaemon(t);
  const pod = await createPod(d, 'feed', 'trap "exit 0" TERM; while :; do sleep 0.2; done');
  const first = await eventsWs(d, 0);
  t.equal(first.ws.protocol, 'pinacled.v1');
  const started = await first.until((m) => m.event?.podId === pod.id && m.event.type === 'started');
  const lastSeq: number = started.event.seq;
  first.ws.close();
  await first.closed;

  // 1-2: stop (exited + stopped); 3: start; 4: docker kill while the daemon is down, seen by
  // the next daemon process; 5: start.
  t.equal((await d.request('POST', `/v1/pods/${pod.id}/stop`)).status, 200);
  t.equal((await d.request('POST', `/v1/pods/${pod.id}/start`)).status, 200);
  await d.stop();
  await docker('kill', pod.container);
  await d.restart();
  await eventually(async () => (await d.request('GET', `/v1/pods/${pod.id}`)).body.state === 'stopped', 20_000, 200);
  t.equal((await d.request('POST', `/v1/pods/${pod.id}/start`)).status, 200);

  const missed = await eventsOf(d, `?after=${lastSeq}`);
  t.same(missed.map((e) => e.type), ['exited', 'stopped', 'started', 'exited', 'started'], 'the store holds the five');
  t.same(missed.map((e) => e.seq), [1, 2, 3, 4, 5].map((i) => lastSeq + i), 'seq continues across the restart, no gap');
  t.equal(missed[3]!.details.exitCode, 137, 'the kill seen after the restart');

  const again = await eventsWs(d, lastSeq);
  await again.until((m) => m.event?.seq === lastSeq + 5);
  t.same(again.msgs.map((m) => m.event.seq), missed.map((e) => e.seq), 'received exactly those five');
  // Nothing more: a duplicate or an extra sent after them breaks the gap-free sequence below.
  // ... and then follows live, with no duplicate.
  t.equal((await d.request('POST', `/v1/pods/${pod.id}/stop`)).status, 200);
  await again.until((m) => m.event?.type === 'stopped' && m.event.seq > lastSeq + 5);
  const seqs = again.msgs.map((m) => m.event.seq);
  t.same(seqs, Array.from({ length: seqs.length }, (_, i) => lastSeq + 1 + i), 'live events follow the replay, gap-free');
  again.ws.close();
});
