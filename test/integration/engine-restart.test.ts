import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { buildContainerSpec } from '../../src/pods/spec.js';
import type { Pod } from '../../src/pods/types.js';
import { EngineUnavailableError } from '../../src/runtime/errors.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import { disagreement, engineView, isClean, storeIdOf } from '../helpers/agreement.js';
import { eventually } from '../helpers/app.js';
import { realDaemon, TEST_IMAGE, type RealDaemon } from '../helpers/daemon.js';
import { engineProxy, secondEngine } from '../helpers/second-engine.js';

const sleepPod = (name: string) => ({ name, template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 64 } });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls /readyz in the background and records when it changed. */
function readinessWatch(d: RealDaemon) {
  let stopped = false;
  const changes: { at: number; ready: boolean; reasons: string[] }[] = [];
  const loop = (async () => {
    let last: boolean | undefined;
    while (!stopped) {
      const r = await fetch(`${d.baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      const body = r ? ((await r.json().catch(() => ({}))) as { reasons?: string[] }) : {};
      const ready = r?.status === 200;
      if (ready !== last) changes.push({ at: Date.now(), ready, reasons: body.reasons ?? [] });
      last = ready;
      await pause(100);
    }
  })();
  return {
    /** The first change to `ready` at or after `since`. */
    async until(ready: boolean, since: number, timeoutMs: number): Promise<{ at: number; reasons: string[] }> {
      return eventually(() => changes.find((c) => c.at >= since && c.ready === ready), timeoutMs, 50);
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/**
 * A fake engine socket that accepts, reads the request and never answers. Started at load, so
 * the slow calls (create/start/remove have a 120 s deadline, see docker-runtime's #slow client)
 * run out their deadline while the private-engine tests run.
 */
const hungPath = `/tmp/pinacled-hung-${process.pid}.sock`;
rmSync(hungPath, { force: true });
const held = new Set<Socket>();
const hungServer = createServer((s) => {
  held.add(s);
  s.resume();
  s.on('close', () => held.delete(s));
});
await new Promise<void>((r) => hungServer.listen(hungPath, r));
t.teardown(async () => {
  for (const s of held) s.destroy();
  await new Promise((r) => hungServer.close(r));
  rmSync(hungPath, { force: true });
});
const hung = new DockerRuntime({ dockerHost: `unix://${hungPath}`, timeoutMs: 1000 });
/** docker-runtime's deadline for create/start/remove (max(4 x timeout, 120 s)). */
const SLOW_DEADLINE_MS = 120_000;
type Timed = { name: string; ms: number; deadline: number; err: unknown };
const timed = (name: string, deadline: number, fn: () => Promise<unknown>): Promise<Timed> => {
  const t0 = Date.now();
  return fn().then(
    () => ({ name, ms: Date.now() - t0, deadline, err: undefined }),
    (err: unknown) => ({ name, ms: Date.now() - t0, deadline, err }),
  );
};
const slowCalls = Promise.all([
  timed('createContainer', SLOW_DEADLINE_MS, () =>
    hung.createContainer(
      buildContainerSpec(
        {
          id: 'phung', name: 'hung', template: 'custom', image: TEST_IMAGE, command: ['sleep', '1'], runtime: 'runsc',
          resources: { cpuCores: 1, memoryMb: 64, pidsLimit: 16 }, ports: [], env: {}, labels: {}, containerName: 'x', volumeName: 'x-ws',
        } as unknown as Pod,
        { logMaxSize: '1m', logMaxFile: 1 },
      ),
    ),
  ),
  timed('startContainer', SLOW_DEADLINE_MS, () => hung.startContainer('x')),
  timed('removeContainer', SLOW_DEADLINE_MS, () => hung.removeContainer('x')),
]);
const checkTimed = (t: Test, results: Timed[]) => {
  for (const r of results) {
    t.ok(r.err instanceof EngineUnavailableError, `${r.name}: EngineUnavailableError (${(r.err as Error)?.message})`);
    t.ok(r.ms >= r.deadline - 50 && r.ms < r.deadline + 2000, `${r.name}: gave up after ${r.ms} ms (deadline ${r.deadline} ms)`);
  }
  t.comment(`hung engine: ${results.map((r) => `${r.name} ${r.ms} ms`).join(', ')}`);
};

t.test('a hung engine (accepts, never answers): every engine call ends at its deadline', async (t) => {
  const results = await Promise.all([
    timed('info', 1000, () => hung.info()),
    timed('imageExists', 1000, () => hung.imageExists(TEST_IMAGE)),
    timed('listContainers', 1000, () => hung.listContainers('dev.pinacle.managed=true')),
    timed('listVolumes', 1000, () => hung.listVolumes('dev.pinacle.managed=true')),
    timed('listNetworks', 1000, () => hung.listNetworks('dev.pinacle.managed=true')),
    timed('inspectContainer', 1000, () => hung.inspectContainer('x')),
    timed('createVolume', 1000, () => hung.createVolume('x', {})),
    timed('removeVolume', 1000, () => hung.removeVolume('x')),
    timed('stopContainer (t=1)', 2000, () => hung.stopContainer('x', 1)),
    timed('subscribeEvents', 1000, () => hung.subscribeEvents('dev.pinacle.managed=true', undefined, () => undefined, () => undefined)),
  ]);
  checkTimed(t, results);
});

t.test('private engine', async (t) => {
  const engine = await secondEngine(t);
  const view = engineView(engine.host);

  t.test('hung engine behind a real daemon: not ready within 5 s, 503 fast, recovers on its own', async (t) => {
    const proxy = await engineProxy(t, engine.socketPath);
    const d = await realDaemon(t, { DOCKER_HOST: proxy.host, PINACLED_RECONCILE_INTERVAL_S: '60', PINACLED_POD_SUBNET_POOL: engine.podSubnetPool, PINACLED_FIREWALL: 'off' });
    const pod = (await d.request('POST', '/v1/pods', sleepPod('hung-a'))).body;
    t.equal(pod.state, 'running');
    const watch = readinessWatch(d);
    t.teardown(() => watch.stop());
    const hungAt = Date.now();
    proxy.mode('hang');
    const down = await watch.until(false, hungAt, 10_000);
    const notReadyMs = down.at - hungAt;
    t.ok(notReadyMs < 5000, `not ready ${notReadyMs} ms after the engine hung`);
    t.match(down.reasons.join(), /container engine unreachable/);

    const t0 = Date.now();
    const create = await d.request('POST', '/v1/pods', sleepPod('hung-b'));
    const createMs = Date.now() - t0;
    t.equal(create.status, 503);
    t.equal(create.body.code, 'PINACLED_ERR_ENGINE_UNAVAILABLE');
    t.ok(create.headers.get('retry-after'));
    const t1 = Date.now();
    const stop = await d.request('POST', `/v1/pods/${pod.id}/stop`);
    const stopMs = Date.now() - t1;
    t.equal(stop.status, 503);
    t.ok(createMs < 3000 && stopMs < 3000, `503 in ${createMs} ms (create), ${stopMs} ms (stop), not the 15 s call deadline`);
    t.equal((await d.request('GET', `/v1/pods/${pod.id}`)).body.state, 'running', 'reads answer from the store');

    const backAt = Date.now();
    proxy.mode('pass');
    const up = await watch.until(true, down.at, 20_000);
    t.ok(up.at - backAt < 15_000, `ready again ${up.at - backAt} ms after the engine answered`);
    const pods = await d.listPods();
    t.same(pods.map((p: { name: string }) => p.name), ['hung-a'], 'the failed create left nothing');
    const diff = await disagreement(view, await storeIdOf(view, pod.id), pods);
    t.ok(isClean(diff), JSON.stringify(diff));
    t.comment(`hung engine: not ready after ${notReadyMs} ms; create 503 in ${createMs} ms, stop 503 in ${stopMs} ms; ready ${up.at - backAt} ms after it answered`);
  });

  t.test('dockerd stopped and started 5 times under load', async (t) => {
    const d = await realDaemon(t, {
      DOCKER_HOST: engine.host,
      PINACLED_RECONCILE_INTERVAL_S: '60',
      PINACLED_STOP_TIMEOUT_S: '1',
      PINACLED_POD_SUBNET_POOL: engine.podSubnetPool,
      // The host firewall belongs to the shared engine's daemons; this engine runs without iptables.
      PINACLED_FIREWALL: 'off',
    });
    t.teardown(() => writeFileSync('/tmp/pinacled-engine-restart-daemon.log', d.output()));
    const first = (await d.request('POST', '/v1/pods', sleepPod('steady'))).body;
    const sid = await storeIdOf(view, first.id);
    const watch = readinessWatch(d);
    t.teardown(() => watch.stop());

    // Load: 3 clients create (with keys), list and delete their pods, whatever the engine does.
    const statuses: Record<string, number> = {};
    let max503Ms = 0;
    let paused = false;
    let done = false;
    const inFlight = new Set<Promise<unknown>>();
    const acked = new Map<string, string>(); // pod id -> name: 201 received
    const deleteSent = new Set<string>(); // a DELETE went out (its outcome may be unknown yet)
    const call = async (method: string, path: string, body?: unknown, key?: string) => {
      // Nothing new starts while the check runs.
      while (paused) await pause(50);
      const t0 = Date.now();
      const p = d.request(method, path, body, key ? { 'idempotency-key': key } : {}).catch((err: Error) => ({ status: 0, body: { err: err.message } }) as const);
      inFlight.add(p);
      const r = await p;
      inFlight.delete(p);
      const label = r.status >= 400 ? `${r.status} ${(r.body as { code?: string })?.code ?? ''}` : String(r.status);
      statuses[label] = (statuses[label] ?? 0) + 1;
      if (r.status === 503) max503Ms = Math.max(max503Ms, Date.now() - t0);
      return r;
    };
    const client = async (c: number) => {
      const mine: string[] = [];
      let pendingCreate: { key: string; name: string } | undefined;
      const pendingDeletes = new Map<string, string>();
      for (let i = 0; !done; i++) {
        while (paused && !done) await pause(50);
        pendingCreate ??= mine.length < 2 ? { key: `load-${c}-${i}`, name: `load-${c}-${i}` } : undefined;
        if (pendingCreate) {
          const r = await call('POST', '/v1/pods', sleepPod(pendingCreate.name), pendingCreate.key);
          if (r.status === 201) {
            mine.push(r.body.id);
            acked.set(r.body.id, pendingCreate.name);
            pendingCreate = undefined;
          } else if (r.status !== 503 && r.status !== 0 && r.status !== 409) {
            // The daemon's log says what the engine answered (clients only get the code).
            const why = d.output().split('\n').filter((l) => l.includes('request failed')).slice(-2).join('\n');
            t.fail(`create answered ${r.status}: ${JSON.stringify(r.body)}\n${why}`);
            pendingCreate = undefined;
          }
        }
        await call('GET', '/v1/pods');
        if (mine.length >= 2 && i % 2 === 0) {
          const id = mine.shift()!;
          pendingDeletes.set(id, `del-${c}-${i}`);
          deleteSent.add(id);
        }
        for (const [id, key] of pendingDeletes) {
          const r = await call('DELETE', `/v1/pods/${id}?timeout=0`, undefined, key);
          if (r.status === 204) {
            pendingDeletes.delete(id);
            acked.delete(id);
          }
        }
        await pause(150);
      }
    };
    const clients = [0, 1, 2].map(client);

    const cycles: { notReadyMs: number; downForMs: number; engineStartMs: number; recoverMs: number }[] = [];
    for (let cycle = 0; cycle < 5; cycle++) {
      await pause(2500);
      const stopAt = Date.now();
      const stopping = engine.stop();
      const down = await watch.until(false, stopAt, 10_000);
      await stopping;
      const t0 = Date.now();
      const r = await d.request('POST', '/v1/pods', sleepPod(`down-${cycle}`));
      t.equal(r.status, 503, 'create while the engine is down: 503');
      const fast = Date.now() - t0;
      t.ok(fast < 3000, `... in ${fast} ms`);
      await pause(1500);
      const startAt = Date.now();
      await engine.start();
      const engineUp = Date.now();
      const up = await watch.until(true, down.at, 20_000);
      const recoverMs = Math.max(0, up.at - engineUp);
      cycles.push({ notReadyMs: down.at - stopAt, downForMs: engineUp - stopAt, engineStartMs: engineUp - startAt, recoverMs });
      t.ok(down.at - stopAt < 5000, `cycle ${cycle}: not ready ${down.at - stopAt} ms after dockerd got SIGTERM`);
      t.ok(recoverMs < 15_000, `cycle ${cycle}: ready ${recoverMs} ms after dockerd answered`);
      t.equal(d.proc.exitCode, null, 'the daemon stayed up');

      // Quiesce the clients, then the store must match the engine.
      paused = true;
      await Promise.allSettled([...inFlight]);
      await eventually(async () => (await fetch(`${d.baseUrl}/readyz`)).status === 200, 15_000);
      const pods = (await d.listPods()) as { id: string; name: string; state: string; error: { code: string } | null }[];
      const diff = await disagreement(view, sid, pods);
      t.ok(isClean(diff), `cycle ${cycle}: store and engine agree ${JSON.stringify(diff)}`);
      const listed = new Set(pods.map((p) => p.id));
      const lost = [...acked.keys()].filter((id) => !listed.has(id) && !deleteSent.has(id));
      t.same(lost, [], `cycle ${cycle}: no acknowledged pod lost`);
      paused = false;
    }
    done = true;
    await Promise.all(clients);

    // The event stream came back too: a kill behind pinacled's back shows without a reconcile
    // (the periodic pass is 60 s here).
    const probe = (await d.request('POST', '/v1/pods', sleepPod('probe'))).body;
    t.equal(probe.state, 'running');
    await engine.docker(['kill', `pinacle-pod-${probe.id}`]);
    await eventually(async () => (await d.request('GET', `/v1/pods/${probe.id}`)).body.state === 'stopped', 5000);
    t.pass('events flow again after the engine restarts');

    t.comment(`5 dockerd stop/start cycles: ${cycles.map((c) => `not-ready ${c.notReadyMs} ms, down ${c.downForMs} ms, dockerd start ${c.engineStartMs} ms, ready ${c.recoverMs} ms after dockerd answered`).join(' | ')}`);
    t.comment(`load answers by status: ${JSON.stringify(statuses)}; slowest 503 ${max503Ms} ms`);
  });
});

t.test('a hung engine: container create/start/remove end at their longer deadline', async (t) => {
  checkTimed(t, await slowCalls);
});
