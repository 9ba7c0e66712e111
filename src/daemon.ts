import { readFileSync } from 'node:fs';
import { ExecService } from './access/exec.js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { buildApp } from './app.js';
import type { Config } from './config/schema.js';
import { StatsCollector } from './metrics/collector.js';
import { operationTimer } from './metrics/instrument.js';
import { registerDaemonMetrics } from './metrics/daemon-metrics.js';
import { registerPodMetrics } from './metrics/pod-metrics.js';
import { createMetrics } from './metrics/registry.js';
import { IdempotencyLedger } from './idempotency/ledger.js';
import { EventFeed } from './events/feed.js';
import { EventPruner } from './events/pruner.js';
import { LogService } from './logs/service.js';
import { EngineMonitor } from './pods/engine-monitor.js';
import { GuardedRuntime } from './runtime/guarded-runtime.js';
import { InstrumentedRuntime } from './runtime/instrumented-runtime.js';
import { PodLocks } from './pods/locks.js';
import { Reconciler } from './pods/reconciler.js';
import { PodService } from './pods/service.js';
import type { PodTransition } from './pods/transitions.js';
import { builtinTemplates } from './pods/templates.js';
import { PodWaiters } from './pods/wait.js';
import { EventWatcher } from './pods/watcher.js';
import type { ContainerRuntime } from './runtime/container-runtime.js';
import { readiness } from './api/routes/health.js';
import { httpsOptions } from './api/tls.js';
import type { BuildInfo } from './build-info.js';
import { HostFirewall } from './network/firewall.js';
import { parseAllowances } from './network/firewall-rules.js';
import type { FirewallBackend } from './network/iptables.js';
import { PodNetworks } from './network/pod-networks.js';
import { hostDnsServers } from './network/resolv.js';
import { openDb, storeId } from './store/db.js';
import { inFlightTimeoutMs } from './limits.js';
import { EventsRepo } from './store/events-repo.js';
import { IdempotencyRepo } from './store/idempotency-repo.js';
import { PodsRepo } from './store/pods-repo.js';

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
  /** Stops background work and closes the HTTP server and the store. Pods keep running. */
  close(): Promise<void>;
}

/**
 * Wires the daemon from a config and a runtime: store -> engine monitor -> service -> watcher ->
 * reconciler -> app. Shared by main.ts and the tests (which pass a fake or a real runtime).
 */
/** Host seams main.ts provides; tests leave them out (or pass fakes). */
export interface DaemonSystem {
  /** Runs iptables. Absent: this process does not manage the pod firewall (fake-runtime tests). */
  firewall?: FirewallBackend;
  /** Version and commit for pinacled_build_info (main.ts reads them once; default unknown). */
  build?: BuildInfo;
}

export async function createDaemon(config: Config, runtime: ContainerRuntime, log: Logger, openapiPath: string, system: DaemonSystem = {}): Promise<Daemon> {
  const db = openDb(config.dataDir);
  const repo = new PodsRepo(db);
  const metrics = createMetrics();
  // Every engine call from here on is counted by operation (and its failures).
  const counted = new InstrumentedRuntime(runtime, metrics);
  const locks = new PodLocks();
  const engine = new EngineMonitor({ runtime: counted, intervalMs: 2000, log });
  // Everything but the monitor fails fast (503) while the engine is known to be down, and
  // reports an unreachable engine to it (once, there).
  runtime = new GuardedRuntime(counted, engine);
  const templates = builtinTemplates({ imagePrefix: config.imagePrefix, imageTag: config.imageTag });
  const sid = storeId(db);
  // Read once; a bad file stops the start with its name (main.ts exits EX_CONFIG).
  const https = config.tls ? httpsOptions(config.tls) : undefined;
  const firewall = system.firewall
    ? new HostFirewall({
        mode: config.firewall.mode,
        backend: system.firewall,
        policy: () => ({
          podPool: config.podSubnetPool,
          dnsServers: hostDnsServers(),
          allow: parseAllowances(config.firewall.allow),
          extraBlock: config.firewall.block,
        }),
        intervalMs: config.firewall.checkIntervalMs,
        log,
      })
    : undefined;
  // Every transition, including those the watcher saw in the engine's own event stream, is
  // stored with the next sequence number before anything else hears of it: the service tells
  // the feed (its transitions sink) before its 'transition' listeners.
  const eventsRepo = new EventsRepo(db);
  const events = new EventFeed({ repo: eventsRepo, log });
  const service = new PodService({
    repo,
    runtime,
    engine,
    locks,
    templates,
    log,
    transitions: events,
    storeId: sid,
    runtimeName: config.runtime,
    allowUnsandboxed: config.allowUnsandboxed,
    requireNetstack: config.requireNetstack,
    publishHost: config.publishHost,
    portRange: config.portRange,
    stopTimeoutS: config.stopTimeoutS,
    logMaxSize: config.logMaxSize,
    logMaxFile: config.logMaxFile,
    maxHostPids: config.podMaxHostPids,
    maxNofile: config.podNofileMax,
    networks: new PodNetworks({ runtime, pool: config.podSubnetPool, prefix: config.podSubnetPrefix }),
    firewall,
    timeOperation: operationTimer(metrics.podOperations),
  });
  const pruner = new EventPruner({
    repo: eventsRepo,
    maxAgeS: config.eventsMaxAgeS,
    maxCount: config.eventsMaxCount,
    intervalMs: config.eventsPruneIntervalMs,
    log,
  });
  const logs = new LogService({
    runtime,
    pods: service,
    maxLineBytes: config.logLineMaxBytes,
    maxQueuedBytes: config.wsMaxBufferBytes,
    log,
    onUpstream: (delta) => metrics.logEngineStreams.inc(delta),
  });
  const collector = new StatsCollector({
    pods: () => service.list(),
    runtime,
    engineReachable: () => engine.health.reachable,
    intervalMs: config.statsIntervalMs,
    log,
  });
  registerPodMetrics(metrics.registry, { pods: () => service.list(), collector });
  service.on('transition', (tr: PodTransition) => {
    if (tr.type === 'started') collector.sampleSoon(tr.podId);
    else if (tr.type === 'deleted') collector.forget(tr.podId);
  });
  // An event naming a pod the store does not know (a stray) triggers a full pass.
  const watcher = new EventWatcher({ runtime, service, locks, engine, log, onUnknownPod: () => reconciler.kick() });
  const reconciler = new Reconciler({
    runtime,
    repo,
    service,
    locks,
    engine,
    storeId: sid,
    intervalMs: config.reconcileIntervalMs,
    stopTimeoutS: config.stopTimeoutS,
    maxRemovals: config.reconcileMaxRemovals,
    log,
    onRepair: (kind) => metrics.reconcileRepairs.inc({ kind }),
  });
  registerDaemonMetrics(metrics.registry, {
    build: system.build ?? { version: 'unknown', commit: 'unknown' },
    runtimeName: config.runtime,
    allowUnsandboxed: config.allowUnsandboxed,
    engine,
    readiness: () =>
      readiness({ engine, reconciler, runtimeName: config.runtime, allowUnsandboxed: config.allowUnsandboxed, requireNetstack: config.requireNetstack, firewall }),
  });
  const idempotency = new IdempotencyLedger({
    repo: new IdempotencyRepo(db),
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
  const exec = new ExecService({
    runtime,
    pods: service,
    log,
    maxOutputBytes: config.access.execMaxOutputBytes,
    defaultTimeoutS: config.access.execTimeoutS,
  });
  const openapi = parseYaml(readFileSync(openapiPath, 'utf8')) as unknown;
  const app = await buildApp({
    log,
    tokens: config.tokens,
    metricsTokens: config.metricsTokens,
    bodyLimit: config.bodyLimit,
    requestTimeoutMs: config.requestTimeoutMs,
    connectionTimeoutMs: config.connectionTimeoutMs,
    inFlightTimeoutMs: inFlightTimeoutMs(config.engineTimeoutMs),
    https,
    rateLimit: config.rateLimit,
    firewall,
    service,
    engine,
    reconciler,
    runtime,
    metrics,
    stats: collector,
    idempotency,
    waiters,
    logs,
    events,
    exec,
    wsMaxBufferBytes: config.wsMaxBufferBytes,
    streams: config.streams,
    openapi,
    runtimeName: config.runtime,
    allowUnsandboxed: config.allowUnsandboxed,
    requireNetstack: config.requireNetstack,
  });
  if (config.allowUnsandboxed) log.warn('PINACLED_ALLOW_UNSANDBOXED is set: pods may run WITHOUT the gVisor sandbox');
  if (firewall) {
    // A dockerd restart is when DOCKER-USER may be rebuilt: check again as soon as it is back.
    engine.on('up', firewall.kick);
    void firewall.start();
  }
  await engine.start();
  // Subscribes now, or when the engine comes up.
  await watcher.start();
  idempotency.start();
  pruner.start();
  // The first reconcile pass runs before the daemon reports ready (readyz), not before listen:
  // an operator must be able to ask /readyz why it is not ready.
  void reconciler.start();
  collector.start();
  let closing: Promise<void> | undefined;
  return {
    app,
    service,
    reconciler,
    engine,
    collector,
    firewall,
    events,
    logs,
    waiters,
    close() {
      // Once: a second SIGTERM (or a test's teardown after its own close) waits for the first.
      closing ??= closeAll();
      return closing;
    },
  };
  async function closeAll(): Promise<void> {
    // Stop accepting first; requests in flight (creates) finish or roll back, waits end with
    // 503. Then background work, each waiting for what it has in flight, then the store.
    // Containers are never touched: running pods keep running. Log followers get their
    // final message (reason shutdown) before the server closes their sockets.
    logs.close();
    pruner.stop();
    await app.close();
    // Closing the sockets stopped their streaming execs; their kills finish while the engine is still ours.
    await exec.close();
    await collector.stop();
    await reconciler.stop();
    await watcher.stop();
    idempotency.stop();
    engine.stop();
    firewall?.stop();
    db.close();
  }
}
