import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { makeAuthHook, TokenChecker } from './api/auth.js';
import { installProblemHandlers } from './api/problem.js';
import { healthRoutes } from './api/routes/health.js';
import { openapiRoutes } from './api/routes/openapi.js';
import { podRoutes } from './api/routes/pods.js';
import { templateRoutes } from './api/routes/templates.js';
import type { Metrics } from './metrics/registry.js';
import type { EngineMonitor } from './pods/engine-monitor.js';
import type { Reconciler } from './pods/reconciler.js';
import type { PodService } from './pods/service.js';
import type { Template } from './pods/templates.js';
import type { TemplateName } from './pods/types.js';
import type { ContainerRuntime } from './runtime/types.js';

export interface AppDeps {
  log: Logger;
  tokens: string[];
  metricsToken?: string | undefined;
  bodyLimit: number;
  service: PodService;
  engine: EngineMonitor;
  reconciler: Pick<Reconciler, 'ready'>;
  runtime: ContainerRuntime;
  templates: Record<TemplateName, Template>;
  metrics: Metrics;
  openapi: unknown;
  runtimeName: string;
  allowUnsandboxed: boolean;
}

/** Public routes: everything else needs a bearer token. */
export const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/openapi.json']);

/** Builds the HTTP app: plugins, routes, error handling. No env reads, no listen. */
export async function buildApp(d: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: d.log as FastifyBaseLogger,
    // Request logs at debug level come from the onResponse hook below, with the route template.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: d.bodyLimit,
    // Creates wait for the container to start; nothing legitimate takes 2 minutes.
    requestTimeout: 120_000,
    connectionTimeout: 130_000,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false } },
  });
  installProblemHandlers(app);
  // JSON only: a text/plain body is a 415, not a string the schemas then reject.
  app.removeContentTypeParser('text/plain');

  const checker = new TokenChecker(d.tokens);
  const auth = makeAuthHook(checker);
  const metricsChecker = d.metricsToken ? new TokenChecker([d.metricsToken]) : checker;
  const metricsAuth = makeAuthHook(metricsChecker);
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route && PUBLIC_ROUTES.has(route)) return;
    if (route === '/metrics') return metricsAuth(req, reply);
    return auth(req, reply);
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    d.metrics.httpRequests.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    req.log.debug({ method: req.method, route, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  healthRoutes(app, d);
  openapiRoutes(app, d.openapi);
  podRoutes(app, d.service);
  templateRoutes(app, d.templates, d.runtime);
  app.get('/metrics', async (_req, reply) => {
    reply.type(d.metrics.registry.contentType);
    return d.metrics.registry.metrics();
  });
  return app;
}
