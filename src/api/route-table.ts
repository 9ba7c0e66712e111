import type { FastifyInstance } from 'fastify';

export interface RouteSummary {
  method: string;
  url: string;
  websocket: boolean;
}

const routeTables = new WeakMap<FastifyInstance, RouteSummary[]>();

/** Records every route `app` registers from now on (Fastify's onRoute), HEAD routes included. */
export function recordRoutes(app: FastifyInstance): void {
  const routes: RouteSummary[] = [];
  routeTables.set(app, routes);
  app.addHook('onRoute', (r) => {
    const ws = r as { websocket?: boolean; wsHandler?: unknown };
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, websocket: !!(ws.websocket || ws.wsHandler) });
  });
}

/** Every route the app registered, HEAD routes included. */
export function routesOf(app: FastifyInstance): readonly RouteSummary[] {
  return routeTables.get(app) ?? [];
}

/**
 * The methods Fastify's router serves for a concrete path (for `Allow` on a 405), asked of the
 * router itself for each method some route registered: no hand-kept list to drift.
 */
export function methodsFor(app: FastifyInstance, path: string): string[] {
  const methods = new Set(routesOf(app).map((r) => r.method));
  return [...methods].filter((method) => app.findRoute({ method: method as 'GET', url: path }) !== null).sort();
}
