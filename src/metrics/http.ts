import type { Histogram } from 'prom-client';

type RequestHistogram = Histogram<'method' | 'route' | 'status'>;

/**
 * Observes one served request. The labelled child is looked up once per (method, route,
 * status) and kept: prom-client otherwise hashes the label object on every observe, a cost
 * paid by every request (issue 8). Routes are templates and statuses a small set, so the map
 * stays small; unmatched URLs all share the route label `unmatched`.
 */
export function requestObserver(h: RequestHistogram) {
  const children = new Map<string, ReturnType<RequestHistogram['labels']>>();
  return (method: string, route: string, status: number, seconds: number): void => {
    const key = `${method} ${status} ${route}`;
    let child = children.get(key);
    if (!child) {
      child = h.labels({ method, route, status: String(status) });
      children.set(key, child);
    }
    child.observe(seconds);
  };
}
