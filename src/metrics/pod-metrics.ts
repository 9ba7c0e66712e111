import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { POD_STATES, type Pod } from '../pods/types.js';
import type { PassReport, PodSample, StatsCollector } from './collector.js';

const POD_LABELS = ['pod_id', 'pod_name', 'template'] as const;
type PodLabels = Record<(typeof POD_LABELS)[number], string>;

export interface PodMetricsDeps {
  /** Every pod in the store: read at scrape time, no engine call. */
  pods: () => Pod[];
  collector: Pick<StatsCollector, 'latest' | 'lastPassAtMs' | 'on'>;
  now?: () => number;
}

/** The sample of the pod's current container run, if the collector has one. */
export function currentSample(pod: Pod, s: PodSample | undefined): PodSample | undefined {
  return s && s.runStartedAt === pod.startedAt && (pod.containerId === null || s.containerId === pod.containerId) ? s : undefined;
}

/**
 * What a scrape shows per pod, decided from the store and the collector's memory only:
 * - running: every series, from the latest sample of the current run;
 * - stopped (or failed, stopping, starting): only the counters of the last run (CPU seconds,
 *   throttled seconds, network bytes, OOM kills), frozen, until the pod is deleted or started
 *   again; usage gauges vanish because nothing runs;
 * - deleted: nothing (the pod is not in the store).
 */
interface Row {
  labels: PodLabels;
  pod: Pod;
  sample: PodSample | undefined;
  running: boolean;
}

export function registerPodMetrics(registry: Registry, d: PodMetricsDeps) {
  const now = d.now ?? Date.now;
  // One store read per scrape: a scrape runs every collect() in one synchronous stretch, so
  // the rows are shared until the next microtask.
  let cache: Row[] | undefined;
  const rows = (): Row[] => {
    if (cache) return cache;
    const out = d.pods().map((pod) => {
      const last = d.collector.latest(pod.id);
      const running = pod.state === 'running';
      // A stopped pod keeps its last run's sample; a started one only shows its new run's.
      const sample = running ? currentSample(pod, last) : last && last.runStartedAt === pod.startedAt ? last : undefined;
      return { labels: { pod_id: pod.id, pod_name: pod.name, template: pod.template }, pod, sample, running };
    });
    cache = out;
    queueMicrotask(() => (cache = undefined));
    return out;
  };

  const counter = (name: string, help: string, value: (r: Row) => number | null | undefined) =>
    new Counter({
      name,
      help,
      labelNames: POD_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const r of rows()) {
          const v = r.sample ? value(r) : null;
          if (v !== null && v !== undefined) this.inc(r.labels, v);
        }
      },
    });
  const gauge = (name: string, help: string, value: (r: Row) => number | null | undefined, runningOnly = true) =>
    new Gauge({
      name,
      help,
      labelNames: POD_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const r of rows()) {
          if (runningOnly && !r.running) continue;
          const v = value(r);
          if (v !== null && v !== undefined) this.set(r.labels, v);
        }
      },
    });

  const RUN = 'in its current run (or, once stopped, its last run until deleted or restarted)';
  counter('pinacled_pod_cpu_usage_seconds_total', `CPU time used by the pod's container cgroup (user processes plus the gVisor sandbox and gofer) ${RUN}`, (r) => r.sample!.cpuUsageSeconds);
  counter('pinacled_pod_cpu_cfs_throttled_seconds_total', `Time the pod was throttled by its CPU limit ${RUN}`, (r) => r.sample!.cpuThrottledSeconds);
  counter('pinacled_pod_network_receive_bytes_total', `Bytes received on the pod's network interfaces, loopback excluded, ${RUN}`, (r) => r.sample!.networkRxBytes);
  counter('pinacled_pod_network_transmit_bytes_total', `Bytes sent on the pod's network interfaces, loopback excluded, ${RUN}`, (r) => r.sample!.networkTxBytes);
  counter('pinacled_pod_oom_kills_total', `Processes of the pod killed by the kernel OOM killer ${RUN} (at least 1 when the run ended OOM-killed)`, (r) =>
    Math.max(r.sample!.oomKills ?? 0, !r.running && r.pod.oomKilled ? 1 : 0),
  );
  gauge('pinacled_pod_memory_working_set_bytes', 'Memory of a running pod that cannot be reclaimed: usage minus inactive file cache, as the kubelet computes it; at the latest sample', (r) => r.sample?.memoryWorkingSetBytes);
  gauge('pinacled_pod_memory_usage_bytes', "Memory charged to a running pod's cgroup, page cache and the sandbox's memory-backed root filesystem included; at the latest sample", (r) => r.sample?.memoryUsageBytes);
  gauge('pinacled_pod_memory_limit_bytes', 'Memory limit of a running pod as its cgroup enforces it', (r) => r.sample?.memoryLimitBytes);
  gauge('pinacled_pod_cpu_limit_cores', 'CPU limit of a running pod in cores (quota / period of its cgroup)', (r) => r.sample?.cpuLimitCores);
  gauge('pinacled_pod_pids', 'Host processes and threads in a running pod\'s cgroup (under runsc about 9 per guest process plus the sandbox\'s own); at the latest sample', (r) => r.sample?.pids);
  gauge('pinacled_pod_pids_limit', "Cap on host pids of a running pod's cgroup (see docs: a requested process limit maps to a larger host cap under runsc)", (r) => r.sample?.pidsLimit);
  gauge('pinacled_pod_start_time_seconds', 'Unix time at which the running pod\'s container last started', (r) => (r.pod.startedAt ? Date.parse(r.pod.startedAt) / 1000 : null));

  new Gauge({
    name: 'pinacled_pods',
    help: "Pods on this host by state, from the daemon's store at scrape time",
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(POD_STATES.map((s) => [s, 0]));
      for (const r of rows()) counts.set(r.pod.state, (counts.get(r.pod.state) ?? 0) + 1);
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });

  new Gauge({
    name: 'pinacled_collector_last_sample_age_seconds',
    help: 'Seconds since the stats collector last finished a pass over the running pods (absent before the first pass)',
    registers: [registry],
    collect() {
      this.reset();
      const at = d.collector.lastPassAtMs;
      if (at !== null) this.set(Math.max(0, (now() - at) / 1000));
    },
  });
  const passDuration = new Histogram({
    name: 'pinacled_collector_sample_duration_seconds',
    help: 'Duration of one stats collector pass over every running pod (cgroup reads, plus engine stats calls in the fallback)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const samples = new Counter({
    name: 'pinacled_collector_samples_total',
    help: 'Pod samples taken by the stats collector passes, by source (cgroup: files read directly; engine: the stats API fallback)',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'pinacled_collector_errors_total',
    help: 'Pod samples the stats collector could not take (the container ended mid-read, unreadable files, engine errors)',
    registers: [registry],
  });
  samples.inc({ source: 'cgroup' }, 0);
  samples.inc({ source: 'engine' }, 0);

  d.collector.on('pass', (r: PassReport) => {
    passDuration.observe(r.durationS);
    samples.inc({ source: 'cgroup' }, r.cgroup);
    samples.inc({ source: 'engine' }, r.engine);
    errors.inc(r.errors);
  });
}
