import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ExecService } from './access/exec.js';
import { readiness } from './api/routes/health.js';
import type { BuildInfo } from './build-info.js';
import type { Config } from './config/schema.js';
import { EventFeed } from './events/feed.js';
import { EventPruner } from './events/pruner.js';
import { IdempotencyLedger } from './idempotency/ledger.js';
import { LogService } from './logs/service.js';
import type { StatsCollector } from './metrics/collector.js';
import { registerDaemonMetrics } from './metrics/daemon-metrics.js';
import { createMetrics } from './metrics/registry.js';
import type { HostFirewall } from './network/firewall.js';
import type { FirewallBackend } from './network/iptables.js';
import type { EngineMonitor } from './pods/engine-monitor.js';
import type { Reconciler } from './pods/reconciler.js';
import type { PodService } from './pods/service.js';
import type { PodTransition } from './pods/transitions.js';
import { PodActivity } from './pods/activity.js';
import { PodWaiters } from './pods/wait.js';
import type { ContainerRuntime } from './runtime/container-runtime.js';
import { openStore } from './store/store.js';
import { guardEngine } from './wiring/engine.js';
import { hostFirewall } from './wiring/firewall.js';
import { httpApp } from './wiring/http.js';
import { engineObservers, usageCollector } from './wiring/observers.js';
import { type Part, startParts, stopParts } from './wiring/part.js';
import { podService } from './wiring/pods.js';

export interface Daemon {
  app: FastifyInstance;
  service: PodService;
  reconciler: Reconciler;
  engine: EngineMonitor;
  /** The pod firewall guard, when this process manages one (DaemonSystem.firewall). */
  firewall?: HostFirewall | undefined;
  collector: StatsCollector;
  /** The pod event feed (GET /v1/events, /v1/events/stream). */
  events: EventFeed;
  /** Pod logs and their shared follow streams. */
  logs: LogService;
  /** Requests waiting for a pod state (GET /v1/pods/{id}/wait). */
  waiters: PodWaiters;
  /** Per-pod last-activity times (exec, terminals, files, proxy). */
  activity: PodActivity;
  /** Stops background work and closes the HTTP server and the store. Pods keep running. */
  close(): Promise<void>;
}

/** Host seams main.ts provides; tests leave them out (or pass fakes). */
export interface DaemonSystem {
  /** Runs iptables. Absent: this process does not manage the pod firewall (fake-runtime tests). */
  firewall?: FirewallBackend;
  /** Version and commit for pinacled_build_info (main.ts reads them once; default unknown). */
  build?: BuildInfo;
}

/**
 * Wires the daemon from a config and a runtime, part by part (each built in src/wiring/ or by its
 * own constructor), then starts the parts with background work in order. Shared by main.ts and
 * the tests (which pass a fake or a real runtime).
 */
export async function createDaemon(config: Config, raw: ContainerRuntime, log: Logger, openapiPath: string, system: DaemonSystem = {}): Promise<Daemon> {
  const store = openStore(config.dataDir);
  const metrics = createMetrics();
  const engine = guardEngine(raw, metrics, log);
  const { runtime } = engine;
  const firewall = hostFirewall(config, system.firewall, log);
  // The service tells the feed of each transition (stored with its sequence number) before its
  // 'transition' listeners hear of it.
  const events = new EventFeed({ repo: store.events, log });
  const { service, locks } = podService({ config, store, engine, firewall, transitions: events, metrics, log });
  const pruner = new EventPruner({ repo: store.events, maxAgeS: config.eventsMaxAgeS, maxCount: config.eventsMaxCount, intervalMs: config.eventsPruneIntervalMs, log });
  const { watcher, reconciler } = engineObservers({ config, store, engine, service, locks, metrics, log });
  const collector = usageCollector({ config, engine, service, metrics, log });
  const logs = new LogService({
    runtime,
    pods: service,
    maxLineBytes: config.logLineMaxBytes,
    maxQueuedBytes: config.wsMaxBufferBytes,
    log,
    onUpstream: (delta) => metrics.logEngineStreams.inc(delta),
  });
  const idempotency = new IdempotencyLedger({
    repo: store.idempotency,
    ttlS: config.idempotencyTtlS,
    log,
    pods: service,
    // Keys a crash interrupted are settled only once the reconciler has settled the pods.
    settled: () => reconciler.passes > 0,
  });
  reconciler.on('pass', () => {
    try {
      idempotency.settleInterrupted();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not settle interrupted idempotency keys');
    }
  });
  const waiters = new PodWaiters(service);
  const activity = new PodActivity();
  service.on('transition', (tr: PodTransition) => {
    if (tr.type === 'deleted') activity.forget(tr.podId);
  });
  const exec = new ExecService({
    runtime,
    pods: service,
    log,
    maxOutputBytes: config.access.execMaxOutputBytes,
    defaultTimeoutS: config.access.execTimeoutS,
    // A command that ran in the pod is activity (idle auto-stop): the exec's end is when it counts.
    onExec: (e) => activity.touch(e.podId, 'exec'),
  });
  const ready = { engine: engine.monitor, reconciler, runtimeName: config.runtime, allowUnsandboxed: config.allowUnsandboxed, requireNetstack: config.requireNetstack, firewall };
  registerDaemonMetrics(metrics.registry, {
    build: system.build ?? { version: 'unknown', commit: 'unknown' },
    runtimeName: config.runtime,
    allowUnsandboxed: config.allowUnsandboxed,
    engine: engine.monitor,
    readiness: () => readiness(ready),
  });
  const app = await httpApp(
    config,
    { service, engine: engine.monitor, reconciler, runtime, metrics, stats: collector, idempotency, waiters, logs, events, exec, firewall },
    openapiPath,
    log,
  );
  if (config.allowUnsandboxed) log.warn('PINACLED_ALLOW_UNSANDBOXED is set: pods may run WITHOUT the gVisor sandbox');

  // Background work, in start order (stopped in reverse). The first reconcile pass runs before
  // the daemon reports ready (/readyz), not before listen: an operator must be able to ask
  // /readyz why it is not ready.
  const listed: (Part | undefined)[] = [
    firewall && {
      start() {
        // A dockerd restart is when DOCKER-USER may be rebuilt: check again as soon as it is back.
        engine.monitor.on('up', firewall.kick);
        void firewall.start();
      },
      stop: () => firewall.stop(),
    },
    engine.monitor,
    watcher, // subscribes now, or when the engine comes up
    idempotency,
    pruner,
    { start: () => void reconciler.start(), stop: () => reconciler.stop() },
    collector,
  ];
  const parts = listed.filter((p): p is Part => p !== undefined);
  await startParts(parts);

  let closing: Promise<void> | undefined;
  return {
    app,
    service,
    reconciler,
    engine: engine.monitor,
    collector,
    firewall,
    events,
    logs,
    waiters,
    activity,
    close() {
      // Once: a second SIGTERM (or a test's teardown after its own close) waits for the first.
      closing ??= closeAll();
      return closing;
    },
  };
  async function closeAll(): Promise<void> {
    // Stop accepting first; requests in flight (creates) finish or roll back, waits end with
    // 503. Log followers get their final message (reason shutdown) before the server closes
    // their sockets; closing the sockets stopped their streaming execs, whose kills finish
    // while the engine is still ours. Then background work, each part waiting for what it has
    // in flight, then the store. Containers are never touched: running pods keep running.
    logs.close();
    await app.close();
    await exec.close();
    await stopParts(parts);
    store.close();
  }
}
