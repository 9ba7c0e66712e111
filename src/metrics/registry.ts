import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REPAIR_KINDS } from '../pods/reconciler.js';
import { ENGINE_ERROR_REASONS, ENGINE_OPERATIONS } from '../runtime/instrumented-runtime.js';

/** The daemon's private registry and the metrics the core updates. */
export function createMetrics() {
  const registry = new Registry();
  // The stock process_/nodejs_ names, unprefixed, so stock dashboards and alerts apply.
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool
  // flags them); their per-type twins (nodejs_active_handles{type}, ...) carry the same numbers.
  for (const m of registry.getMetricsAsArray()) {
    if (/nodejs_active_\w+_total$/.test(m.name)) registry.removeSingleMetric(m.name);
  }
  const reconcileRepairs = new Counter({
    name: 'pinacled_reconcile_repairs_total',
    help: 'Repairs made by the reconciler since the daemon started, by kind of repair',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const httpRequests = new Histogram({
    name: 'pinacled_http_request_duration_seconds',
    help: 'HTTP requests served, by method, route template and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const engineRequests = new Counter({
    name: 'pinacled_engine_requests_total',
    help: 'Calls the daemon made to the container engine since it started, by runtime operation (stats scrapes make none)',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  const engineErrors = new Counter({
    name: 'pinacled_engine_errors_total',
    help: 'Engine calls that failed, by operation and reason (unavailable, rejected, conflict, not_found, other)',
    labelNames: ['operation', 'reason'] as const,
    registers: [registry],
  });
  const podOperations = new Histogram({
    name: 'pinacled_pod_operation_duration_seconds',
    help: 'Pod operations requested through the API, by operation and outcome (success, rejected, failed); create includes the container start',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const logEngineStreams = new Gauge({
    name: 'pinacled_log_engine_streams',
    help: 'Log follow streams open to the engine: one per followed pod, shared by all of its followers',
    registers: [registry],
  });
  // Every known label value starts at zero, so rate() and increase() see the first event and an
  // alert on a counter has a series before anything happened.
  for (const kind of REPAIR_KINDS) reconcileRepairs.inc({ kind }, 0);
  for (const operation of ENGINE_OPERATIONS) {
    engineRequests.inc({ operation }, 0);
    for (const reason of ENGINE_ERROR_REASONS) engineErrors.inc({ operation, reason }, 0);
  }
  return { registry, reconcileRepairs, httpRequests, engineRequests, engineErrors, podOperations, logEngineStreams };
}

export type Metrics = ReturnType<typeof createMetrics>;
