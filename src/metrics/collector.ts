import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Pod } from '../pods/types.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { detectCgroupVersion, readCgroup, resolveCgroupPaths, type CgroupPaths, type CgroupReading, type CgroupVersion } from './cgroup.js';
import { readNetCounters } from './netns.js';

/** One reading of a pod's container, plus rates derived from the reading before it. */
export interface PodSample {
  podId: string;
  containerId: string;
  /** The container run this sample belongs to (the pod's startedAt when it was taken). */
  runStartedAt: string | null;
  /** cgroup: files read directly; engine: the stats API fallback. */
  source: 'cgroup' | 'engine';
  sampledAtMs: number;
  cpuUsageSeconds: number;
  cpuThrottledSeconds: number | null;
  /** Cores used between the previous sample and this one; null on a run's first sample. */
  cpuCores: number | null;
  cpuLimitCores: number | null;
  memoryUsageBytes: number;
  memoryWorkingSetBytes: number;
  memoryLimitBytes: number | null;
  networkRxBytes: number | null;
  networkTxBytes: number | null;
  pids: number | null;
  pidsLimit: number | null;
  oomKills: number | null;
}

export interface PassReport {
  durationS: number;
  cgroup: number;
  engine: number;
  errors: number;
}

export interface StatsCollectorOptions {
  /** Every pod in the store (the collector samples the running ones). No engine call. */
  pods: () => Pod[];
  runtime: ContainerRuntime;
  /** Skip engine calls (pid lookup, stats fallback) while the engine is known to be down. */
  engineReachable: () => boolean;
  intervalMs: number;
  log: Logger;
  cgroupRoot?: string;
  procRoot?: string;
  /** Concurrent stats-API calls in the fallback path (each takes about 1 s). */
  fallbackConcurrency?: number;
  now?: () => number;
}

/** How to read one container run: its cgroup and init pid, or the engine's stats API. */
interface Target {
  key: string;
  containerId: string;
  paths: CgroupPaths | null;
  pid: number | null;
}

/** One raw reading, from the cgroup or the engine. */
type Reading = CgroupReading & { sampledAtMs: number; networkRxBytes: number | null; networkTxBytes: number | null };

/** cheap: cgroup reads only (a stats-API pod answers `fallback`); any: the stats API too. */
type Mode = 'cheap' | 'any';
type Outcome = 'cgroup' | 'engine' | 'fallback' | 'skipped' | 'error';

const runKey = (p: Pod): string => `${p.containerId ?? p.containerName}@${p.startedAt ?? ''}`;

/**
 * Samples every running pod on an interval, the way cAdvisor and the kubelet do, so that
 * /metrics and /v1/pods/{id}/stats answer from memory. Per pod and interval it reads a handful
 * of cgroup files and /proc/<pid>/net/dev; the engine is asked only once per container run
 * (inspect, for the init pid) and, where the cgroup cannot be read here (a remote engine), for
 * stats as a fallback. Passes never overlap: the next one is scheduled when one ends.
 * Emits `pass` with a PassReport after each pass.
 */
export class StatsCollector extends EventEmitter {
  readonly #o: StatsCollectorOptions;
  readonly #cgroupRoot: string;
  readonly #procRoot: string;
  readonly #version: CgroupVersion;
  readonly #now: () => number;
  readonly #samples = new Map<string, PodSample>();
  readonly #targets = new Map<string, Target>();
  readonly #inFlight = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #lastPassAtMs: number | null = null;

  constructor(o: StatsCollectorOptions) {
    super();
    this.#o = o;
    this.#cgroupRoot = o.cgroupRoot ?? '/sys/fs/cgroup';
    this.#procRoot = o.procRoot ?? '/proc';
    this.#version = detectCgroupVersion(this.#cgroupRoot);
    this.#now = o.now ?? Date.now;
  }

  get cgroupVersion(): CgroupVersion {
    return this.#version;
  }

  /** When the last full pass ended (ms since the epoch), null before the first. */
  get lastPassAtMs(): number | null {
    return this.#lastPassAtMs;
  }

  /** The latest sample of a pod, whatever run it belongs to (callers compare runStartedAt). */
  latest(podId: string): PodSample | undefined {
    return this.#samples.get(podId);
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const loop = async () => {
      this.#running = this.sampleAll();
      await this.#running;
      if (!this.#stopped) {
        this.#timer = setTimeout(() => void loop(), this.#o.intervalMs);
        this.#timer.unref();
      }
    };
    void loop();
  }

  /**
   * Stops the passes and waits for the one in flight, but not past `maxWaitMs`: a pass can
   * sit in an engine call (up to the engine deadline), and a shutdown must not wait for it.
   */
  async stop(maxWaitMs = 2000): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => {
      timer = setTimeout(r, maxWaitMs);
      timer.unref();
    });
    await Promise.race([Promise.all([this.#running, ...this.#inFlight.values()]), deadline]);
    clearTimeout(timer);
  }

  /** Drops everything known about a pod (it was deleted): its series vanish at once. */
  forget(podId: string): void {
    this.#samples.delete(podId);
    this.#targets.delete(podId);
  }

  /** Samples one pod now, in the background (a pod just started: no need to wait a pass). */
  sampleSoon(podId: string): void {
    if (this.#stopped) return;
    const pod = this.#o.pods().find((p) => p.id === podId);
    if (pod?.state === 'running') void this.#samplePodOnce(pod, 'any');
  }

  /** One pass over every running pod. Never throws: a pod that cannot be read is skipped. */
  async sampleAll(): Promise<void> {
    const t0 = performance.now();
    const report: PassReport = { durationS: 0, cgroup: 0, engine: 0, errors: 0 };
    let pods: Pod[];
    try {
      pods = this.#o.pods();
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'stats collector: cannot list pods');
      return;
    }
    const known = new Set(pods.map((p) => p.id));
    for (const id of [...this.#samples.keys()]) if (!known.has(id)) this.forget(id);
    const running = pods.filter((p) => p.state === 'running');
    for (const p of pods) if (p.state !== 'running') this.#targets.delete(p.id);

    const fallback: Pod[] = [];
    for (const pod of running) {
      const r = await this.#samplePodOnce(pod, 'cheap');
      if (r === 'fallback') fallback.push(pod);
      else if (r === 'cgroup') report.cgroup++;
      else if (r === 'error') report.errors++;
    }
    // The stats API is slow (about 1 s per call): a few at a time, after the cheap readings.
    const workers = Math.max(1, this.#o.fallbackConcurrency ?? 2);
    const queue = [...fallback];
    await Promise.all(
      Array.from({ length: Math.min(workers, queue.length) }, async () => {
        for (let pod = queue.shift(); pod; pod = queue.shift()) {
          const r = await this.#samplePodOnce(pod, 'any');
          if (r === 'engine') report.engine++;
          else if (r === 'error') report.errors++;
        }
      }),
    );
    this.#lastPassAtMs = this.#now();
    report.durationS = (performance.now() - t0) / 1000;
    this.emit('pass', report);
  }

  /** Serializes sampling per pod (a pass and a sampleSoon may meet). */
  async #samplePodOnce(pod: Pod, mode: Mode): Promise<Outcome> {
    const prev = this.#inFlight.get(pod.id);
    if (prev) await prev;
    let result: Outcome = 'skipped';
    const p = this.#samplePod(pod, mode).then(
      (r) => void (result = r),
      (err: unknown) => {
        result = 'error';
        this.#o.log.debug({ podId: pod.id, err: (err as Error).message }, 'stats collector: sample failed');
      },
    );
    this.#inFlight.set(pod.id, p);
    await p;
    if (this.#inFlight.get(pod.id) === p) this.#inFlight.delete(pod.id);
    return result;
  }

  async #samplePod(pod: Pod, mode: Mode): Promise<Outcome> {
    let target = this.#targets.get(pod.id);
    if (!target || target.key !== runKey(pod)) {
      target = await this.#resolve(pod);
      if (!target) return 'skipped';
      this.#targets.set(pod.id, target);
    }
    if (target.paths) {
      try {
        this.#store(pod, target, 'cgroup', this.#readCgroupTarget(target));
        return 'cgroup';
      } catch (err) {
        // The run ended (cgroup or process gone): resolve again next time.
        this.#targets.delete(pod.id);
        throw err;
      }
    }
    if (mode === 'cheap') return 'fallback';
    if (!this.#o.engineReachable() || !this.#o.runtime.containerStats) return 'skipped';
    const s = await this.#o.runtime.containerStats(target.containerId);
    if (!s) {
      this.#targets.delete(pod.id);
      return 'skipped';
    }
    this.#store(pod, target, 'engine', {
      ...s,
      cpuLimitCores: null,
      oomKills: null,
      sampledAtMs: Date.parse(s.readAt) || this.#now(),
    });
    return 'engine';
  }

  #readCgroupTarget(t: Target): Reading {
    const sampledAtMs = this.#now();
    const c = readCgroup(t.paths!);
    let net: { rxBytes: number; txBytes: number } | null = null;
    if (t.pid) {
      try {
        net = readNetCounters(t.pid, this.#procRoot);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        // The init process is gone while the cgroup lingers: the run is ending.
        t.pid = null;
      }
    }
    return { ...c, sampledAtMs, networkRxBytes: net?.rxBytes ?? null, networkTxBytes: net?.txBytes ?? null };
  }

  /** Asks the engine once per container run for the init pid, then finds its cgroup here. */
  async #resolve(pod: Pod): Promise<Target | undefined> {
    if (!this.#o.engineReachable()) return undefined;
    const st = await this.#o.runtime.inspectContainer(pod.containerId ?? pod.containerName);
    if (!st?.running) return undefined;
    let paths: CgroupPaths | null = null;
    if (st.pid) {
      try {
        const procCgroup = readFileSync(join(this.#procRoot, String(st.pid), 'cgroup'), 'utf8');
        paths = resolveCgroupPaths(procCgroup, st.id, this.#version, this.#cgroupRoot) ?? null;
        // A path is not a readable cgroup (another mount namespace, a hierarchy not mounted here).
        if (paths) readCgroup(paths);
      } catch {
        // Not a process of this host (remote engine), already gone, or its cgroup cannot be
        // read here: the stats API covers it.
        paths = null;
      }
    }
    if (!paths) this.#o.log.debug({ podId: pod.id }, 'stats collector: cgroup not readable here; using the engine stats API');
    return { key: runKey(pod), containerId: st.id, paths, pid: paths ? st.pid : null };
  }

  #store(
    pod: Pod,
    t: Target,
    source: PodSample['source'],
    r: Reading,
  ): void {
    const prev = this.#samples.get(pod.id);
    const sameRun = prev && prev.containerId === t.containerId && prev.runStartedAt === pod.startedAt;
    const cpuUsageSeconds = r.cpuUsageNs / 1e9;
    let cpuCores: number | null = null;
    if (sameRun && r.sampledAtMs > prev.sampledAtMs && cpuUsageSeconds >= prev.cpuUsageSeconds) {
      cpuCores = (cpuUsageSeconds - prev.cpuUsageSeconds) / ((r.sampledAtMs - prev.sampledAtMs) / 1000);
    } else if (sameRun) {
      // Two readings in the same millisecond (a pass meeting a sampleSoon): keep the last rate.
      cpuCores = prev.cpuCores;
    }
    this.#samples.set(pod.id, {
      podId: pod.id,
      containerId: t.containerId,
      runStartedAt: pod.startedAt,
      source,
      sampledAtMs: r.sampledAtMs,
      cpuUsageSeconds,
      cpuThrottledSeconds: r.cpuThrottledNs === null ? null : r.cpuThrottledNs / 1e9,
      cpuCores,
      // The cgroup's quota is what the kernel enforces; the pod's request covers the fallback.
      cpuLimitCores: r.cpuLimitCores ?? pod.resources.cpuCores,
      memoryUsageBytes: r.memoryUsageBytes,
      memoryWorkingSetBytes: r.memoryWorkingSetBytes,
      memoryLimitBytes: r.memoryLimitBytes,
      networkRxBytes: r.networkRxBytes,
      networkTxBytes: r.networkTxBytes,
      pids: r.pids,
      pidsLimit: r.pidsLimit,
      oomKills: r.oomKills,
    });
  }
}
