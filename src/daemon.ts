import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { buildApp } from './app.js';
import type { Config } from './config/schema.js';
import { createMetrics } from './metrics/registry.js';
import { EngineMonitor } from './pods/engine-monitor.js';
import { PodLocks } from './pods/locks.js';
import { Reconciler } from './pods/reconciler.js';
import { PodService } from './pods/service.js';
import { builtinTemplates } from './pods/templates.js';
import { EventWatcher } from './pods/watcher.js';
import type { ContainerRuntime } from './runtime/types.js';
import { openDb, storeId } from './store/db.js';
import { PodsRepo } from './store/pods-repo.js';

export interface Daemon {
  app: FastifyInstance;
  service: PodService;
  reconciler: Reconciler;
  engine: EngineMonitor;
  /** Stops background work and closes the HTTP server and the store. Pods keep running. */
  close(): Promise<void>;
}

/**
 * Wires the daemon from a config and a runtime: store -> engine monitor -> service -> watcher ->
 * reconciler -> app. Shared by main.ts and the tests (which pass a fake or a real runtime).
 */
export async function createDaemon(config: Config, runtime: ContainerRuntime, log: Logger, openapiPath: string): Promise<Daemon> {
  const db = openDb(config.dataDir);
  const repo = new PodsRepo(db);
  const metrics = createMetrics();
  const locks = new PodLocks();
  const engine = new EngineMonitor({ runtime, intervalMs: 2000, log });
  const templates = builtinTemplates({ imagePrefix: config.imagePrefix, imageTag: config.imageTag });
  const sid = storeId(db);
  const service = new PodService({
    repo,
    runtime,
    engine,
    locks,
    templates,
    log,
    storeId: sid,
    runtimeName: config.runtime,
    allowUnsandboxed: config.allowUnsandboxed,
    publishHost: config.publishHost,
    portRange: config.portRange,
    stopTimeoutS: config.stopTimeoutS,
    logMaxSize: config.logMaxSize,
    logMaxFile: config.logMaxFile,
  });
  const watcher = new EventWatcher({ runtime, service, locks, engine, log });
  const reconciler = new Reconciler({
    runtime,
    repo,
    service,
    locks,
    engine,
    storeId: sid,
    intervalMs: config.reconcileIntervalMs,
    stopTimeoutS: config.stopTimeoutS,
    log,
    onRepair: (kind) => metrics.reconcileRepairs.inc({ kind }),
  });
  const openapi = parseYaml(readFileSync(openapiPath, 'utf8')) as unknown;
  const app = await buildApp({
    log,
    tokens: config.tokens,
    metricsToken: config.metricsToken,
    bodyLimit: config.bodyLimit,
    service,
    engine,
    reconciler,
    runtime,
    templates,
    metrics,
    openapi,
    runtimeName: config.runtime,
    allowUnsandboxed: config.allowUnsandboxed,
  });
  if (config.allowUnsandboxed) log.warn('PINACLED_ALLOW_UNSANDBOXED is set: pods may run WITHOUT the gVisor sandbox');
  await engine.start();
  if (engine.health.reachable) await watcher.start();
  else {
    engine.once('up', () => void watcher.start());
  }
  // The first reconcile pass runs before the daemon reports ready (readyz), not before listen:
  // an operator must be able to ask /readyz why it is not ready.
  void reconciler.start();
  return {
    app,
    service,
    reconciler,
    engine,
    async close() {
      reconciler.stop();
      watcher.stop();
      engine.stop();
      await app.close();
      db.close();
    },
  };
}
