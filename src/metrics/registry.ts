import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The daemon's private registry and the metrics the core updates. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pinacled_process_' });
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
  return { registry, reconcileRepairs, httpRequests };
}

export type Metrics = ReturnType<typeof createMetrics>;
