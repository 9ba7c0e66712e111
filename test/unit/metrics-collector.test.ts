import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { StatsCollector, type PassReport } from '../../src/metrics/collector.js';
import type { Pod } from '../../src/pods/types.js';
import type { ContainerRuntime, ContainerStatus } from '../../src/runtime/container-runtime.js';

const ID = 'c'.repeat(64);
const PID = 4711;

function pod(over: Partial<Pod> = {}): Pod {
  return {
    id: 'p1', name: 'one', template: 'custom', image: 'x', command: null, state: 'running', runtime: 'runsc', sandboxed: true,
    resources: { cpuCores: 0.5, memoryMb: 256, pidsLimit: 100 }, ports: [], env: {}, labels: {}, containerName: 'pinacle-p1',
    volumeName: 'v', containerId: ID, createdAt: '', updatedAt: '', startedAt: '2030-01-01T00:00:00Z', finishedAt: null,
    exitCode: null, oomKilled: false, error: null, ...over,
  };
}

function setup(t: Test) {
  const root = mkdtempSync(join(tmpdir(), 'pinacled-col-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const cg = join(root, 'cgroup');
  const proc = join(root, 'proc');
  const write = (p: string, v: string) => {
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, v);
  };
  const setCpu = (ns: number) => write(join(cg, 'cpuacct/docker', ID, 'cpuacct.usage'), `${ns}\n`);
  write(join(cg, 'memory/docker', ID, 'memory.usage_in_bytes'), '300000000\n');
  write(join(cg, 'memory/docker', ID, 'memory.limit_in_bytes'), '268435456\n');
  write(join(cg, 'memory/docker', ID, 'memory.stat'), 'total_inactive_file 100000000\n');
  write(join(cg, 'pids/docker', ID, 'pids.current'), '40\n');
  setCpu(1e9);
  write(join(proc, String(PID), 'cgroup'), `4:memory:/docker/${ID}\n2:cpuacct:/docker/${ID}\n1:cpu:/docker/${ID}\n8:pids:/docker/${ID}\n`);
  write(join(proc, String(PID), 'net/dev'), 'h\nh\n  eth0: 10 1 0 0 0 0 0 0 20 1 0 0 0 0 0 0\n');
  const inspects: string[] = [];
  let running = true;
  const runtime = {
    async inspectContainer(id: string): Promise<ContainerStatus | undefined> {
      inspects.push(id);
      return { id: ID, running, pid: PID } as ContainerStatus;
    },
  } as unknown as ContainerRuntime;
  let now = 1_000_000;
  let pods = [pod()];
  const reports: PassReport[] = [];
  const c = new StatsCollector({
    pods: () => pods,
    runtime,
    engineReachable: () => true,
    intervalMs: 1000,
    log: pino({ level: 'silent' }),
    cgroupRoot: cg,
    procRoot: proc,
    now: () => now,
  });
  c.on('pass', (r: PassReport) => reports.push(r));
  return {
    c, cg, proc, inspects, reports, setCpu,
    tick: (ms: number) => (now += ms),
    setPods: (p: Pod[]) => (pods = p),
    setRunning: (r: boolean) => (running = r),
  };
}

t.test('cgroup samples: one inspect per run, CPU cores from deltas, network from the netns', async (t) => {
  const s = setup(t);
  await s.c.sampleAll();
  let x = s.c.latest('p1')!;
  t.equal(x.source, 'cgroup');
  t.equal(x.cpuUsageSeconds, 1);
  t.equal(x.cpuCores, null, 'no rate from one reading');
  t.equal(x.memoryWorkingSetBytes, 200000000);
  t.equal(x.networkRxBytes, 10);
  t.equal(x.networkTxBytes, 20);
  t.equal(x.cpuLimitCores, 0.5, 'no quota file: the pod\'s request');
  s.tick(2000);
  s.setCpu(2e9);
  await s.c.sampleAll();
  x = s.c.latest('p1')!;
  t.equal(x.cpuCores, 0.5);
  t.same(s.inspects, [ID], 'the engine was asked once for the whole run');
  t.same(s.reports.map((r) => [r.cgroup, r.engine, r.errors]), [[1, 0, 0], [1, 0, 0]]);
  t.ok(s.c.lastPassAtMs);
});

t.test('a new run (restart) starts a new baseline and is resolved again', async (t) => {
  const s = setup(t);
  await s.c.sampleAll();
  s.tick(1000);
  s.setCpu(0.1e9); // the new container's counter starts near zero
  s.setPods([pod({ startedAt: '2030-01-01T01:00:00Z' })]);
  await s.c.sampleAll();
  const x = s.c.latest('p1')!;
  t.equal(x.runStartedAt, '2030-01-01T01:00:00Z');
  t.equal(x.cpuCores, null, 'no rate across runs');
  t.equal(s.inspects.length, 2);
});

t.test('a vanished cgroup is an error for that pass and is resolved again next time', async (t) => {
  const s = setup(t);
  await s.c.sampleAll();
  rmSync(join(s.cg, 'memory'), { recursive: true });
  await s.c.sampleAll();
  t.equal(s.reports[1]!.errors, 1);
  s.setRunning(false);
  await s.c.sampleAll();
  t.equal(s.inspects.length, 2, 'resolved again; the container is not running, nothing sampled');
  t.equal(s.reports[2]!.errors, 0);
});

t.test('pods that left the store are forgotten; stopped pods keep their last sample', async (t) => {
  const s = setup(t);
  await s.c.sampleAll();
  s.setPods([pod({ state: 'stopped' })]);
  await s.c.sampleAll();
  t.ok(s.c.latest('p1'), 'stopped: kept');
  s.setPods([]);
  await s.c.sampleAll();
  t.equal(s.c.latest('p1'), undefined, 'deleted: gone');
});

t.test('start/stop: passes run on the interval and stop waits for the one in flight', async (t) => {
  const s = setup(t);
  s.c.start();
  await once(s.c, 'pass');
  await s.c.stop();
  t.equal(s.reports.length, 1, 'one pass at start, the next one is an interval away');
  // Absence needs a window: past the next pass's due time (interval 1 s).
  await new Promise((r) => setTimeout(r, 1_100));
  t.equal(s.reports.length, 1, 'nothing after stop');
});

t.test('stop does not wait past its deadline for a hung engine call', async (t) => {
  let inspecting!: () => void;
  const inFlight = new Promise<void>((r) => (inspecting = r));
  const c = new StatsCollector({
    pods: () => [pod()],
    runtime: {
      inspectContainer: () => {
        inspecting();
        return new Promise(() => {});
      },
    } as unknown as ContainerRuntime,
    engineReachable: () => true,
    intervalMs: 1000,
    log: pino({ level: 'silent' }),
  });
  // The deadline timer is unref'd (it must not hold a daemon open): keep this process alive.
  const alive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(alive));
  c.start();
  await inFlight;
  const t0 = Date.now();
  await c.stop(100);
  const waited = Date.now() - t0;
  t.ok(waited >= 90 && waited < 1000, `stop returned after ${waited} ms`);
});

t.test('a cgroup that cannot be read here falls back to the engine stats API', async (t) => {
  const s = setup(t);
  rmSync(join(s.cg, 'cpuacct'), { recursive: true });
  let statsCalls = 0;
  const c = new StatsCollector({
    pods: () => [pod()],
    runtime: {
      inspectContainer: async () => ({ id: ID, running: true, pid: PID }) as ContainerStatus,
      containerStats: async () => {
        statsCalls++;
        return { readAt: new Date().toISOString(), cpuUsageNs: 5e9, cpuThrottledNs: null, memoryUsageBytes: 9, memoryWorkingSetBytes: 8, memoryLimitBytes: 10, pids: 3, pidsLimit: null, networkRxBytes: 1, networkTxBytes: 2 };
      },
    } as unknown as ContainerRuntime,
    engineReachable: () => true,
    intervalMs: 1000,
    log: pino({ level: 'silent' }),
    cgroupRoot: s.cg,
    procRoot: s.proc,
  });
  const reports: PassReport[] = [];
  c.on('pass', (r: PassReport) => reports.push(r));
  await c.sampleAll();
  t.equal(c.latest('p1')?.source, 'engine');
  t.equal(c.latest('p1')?.memoryWorkingSetBytes, 8);
  t.equal(c.latest('p1')?.cpuLimitCores, 0.5, "the pod's request stands in for the quota");
  t.equal(statsCalls, 1);
  t.same([reports[0]!.cgroup, reports[0]!.engine, reports[0]!.errors], [0, 1, 0]);
});
