import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { StatsCollector } from '../metrics/collector.js';
import { registerPodMetrics } from '../metrics/pod-metrics.js';
import type { Metrics } from '../metrics/registry.js';
import type { PodLocks } from '../pods/locks.js';
import { Reconciler } from '../pods/reconciler.js';
import type { PodService } from '../pods/service.js';
import type { PodTransition } from '../pods/transitions.js';
import { EventWatcher } from '../pods/watcher.js';
import type { Store } from '../store/store.js';
import type { Engine } from './engine.js';

export interface ObserverDeps {
  config: Config;
  store: Store;
  engine: Engine;
  service: PodService;
  locks: PodLocks;
  metrics: Metrics;
  log: Logger;
}

/** What keeps the store true against the engine: the event watcher and the periodic reconciler. */
export function engineObservers(d: ObserverDeps): { watcher: EventWatcher; reconciler: Reconciler } {
  const { config, engine, service, locks, log } = d;
  const reconciler = new Reconciler({
    runtime: engine.runtime,
    repo: d.store.pods,
    service,
    locks,
    engine: engine.monitor,
    storeId: d.store.id,
    intervalMs: config.reconcileIntervalMs,
    stopTimeoutS: config.stopTimeoutS,
    maxRemovals: config.reconcileMaxRemovals,
    log,
    onRepair: (kind) => d.metrics.reconcileRepairs.inc({ kind }),
  });
  // An event naming a pod the store does not know (a stray) triggers a full pass.
  const watcher = new EventWatcher({ runtime: engine.runtime, service, locks, engine: engine.monitor, log, onUnknownPod: () => reconciler.kick() });
  return { watcher, reconciler };
}

/** The background usage sampler behind /v1/pods/{id}/stats and the pod gauges of /metrics. */
export function usageCollector(d: Omit<ObserverDeps, 'store' | 'locks'>): StatsCollector {
  const { service } = d;
  const collector = new StatsCollector({
    pods: () => service.list(),
    runtime: d.engine.runtime,
    engineReachable: () => d.engine.monitor.health.reachable,
    intervalMs: d.config.statsIntervalMs,
    log: d.log,
  });
  registerPodMetrics(d.metrics.registry, { pods: () => service.list(), collector });
  service.on('transition', (tr: PodTransition) => {
    if (tr.type === 'started') collector.sampleSoon(tr.podId);
    else if (tr.type === 'deleted') collector.forget(tr.podId);
  });
  return collector;
}
