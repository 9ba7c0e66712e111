import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { EventFeed } from '../events/feed.js';
import { operationTimer } from '../metrics/instrument.js';
import type { Metrics } from '../metrics/registry.js';
import type { HostFirewall } from '../network/firewall.js';
import { PodNetworks } from '../network/pod-networks.js';
import { PodLocks } from '../pods/locks.js';
import { PodService } from '../pods/service.js';
import { builtinTemplates } from '../pods/templates.js';
import type { Store } from '../store/store.js';
import type { Engine } from './engine.js';

export interface PodsDeps {
  config: Config;
  store: Store;
  engine: Engine;
  firewall: HostFirewall | undefined;
  /** Every transition is stored here, with the next sequence number, before anyone else hears of it. */
  transitions: EventFeed;
  metrics: Metrics;
  log: Logger;
}

/** The pod service and the per-pod locks it shares with the watcher and the reconciler. */
export function podService(d: PodsDeps): { service: PodService; locks: PodLocks } {
  const { config } = d;
  const locks = new PodLocks();
  const service = new PodService({
    repo: d.store.pods,
    runtime: d.engine.runtime,
    engine: d.engine.monitor,
    locks,
    templates: builtinTemplates({ imagePrefix: config.imagePrefix, imageTag: config.imageTag }),
    log: d.log,
    transitions: d.transitions,
    storeId: d.store.id,
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
    networks: new PodNetworks({ runtime: d.engine.runtime, pool: config.podSubnetPool, prefix: config.podSubnetPrefix }),
    firewall: d.firewall,
    timeOperation: operationTimer(d.metrics.podOperations),
  });
  return { service, locks };
}
