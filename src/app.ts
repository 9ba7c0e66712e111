import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { callerKey, METRICS_ROUTE, RouteAccess } from './api/auth.js';
import { clientErrorHandler, frameworkErrorHandler } from './api/client-errors.js';
import { rateLimiter, TokenBuckets } from './api/rate-limit.js';
import { recordRoutes } from './api/route-table.js';
import { StreamSlots, streamLimiter } from './api/stream-slots.js';
import { requestObserver } from './metrics/http.js';
import type { HttpsOptions } from './api/tls.js';
import { installProblemHandlers, problemOf, sendProblem } from './api/problem.js';
import { eventRoutes } from './api/routes/events.js';
import { execRoutes } from './api/routes/exec.js';
import { healthRoutes } from './api/routes/health.js';
import { logRoutes } from './api/routes/logs.js';
import { openapiRoutes } from './api/routes/openapi.js';
import { podRoutes } from './api/routes/pods.js';
import { statsRoutes } from './api/routes/stats.js';
import { templateRoutes } from './api/routes/templates.js';
import { waitRoutes } from './api/routes/wait.js';
import { flushQueued, selectSubprotocol, WS_CLOSE, WS_MAX_CLIENT_MESSAGE_BYTES } from './api/websocket.js';
import type { ExecService } from './access/exec.js';
import type { EventFeed } from './events/feed.js';
import type { IdempotencyLedger } from './idempotency/ledger.js';
import type { LogService } from './logs/service.js';
import { idempotencyHooks } from './idempotency/plugin.js';
import type { PodWaiters } from './pods/wait.js';
import type { StatsCollector } from './metrics/collector.js';
import type { Metrics } from './metrics/registry.js';
import type { EngineMonitor } from './pods/engine-monitor.js';
import type { Reconciler } from './pods/reconciler.js';
import type { PodService } from './pods/service.js';
import type { ContainerRuntime } from './runtime/container-runtime.js';
import { inFlightTimeoutMs } from './limits.js';

export interface AppDeps {
  log: Logger;
  tokens: string[];
  /** Tokens that open GET /metrics only (absent or empty: /metrics takes the API tokens). */
  metricsTokens?: string[] | undefined;
  bodyLimit: number;
  service: PodService;
  engine: EngineMonitor;
  reconciler: Pick<Reconciler, 'ready'>;
  runtime: ContainerRuntime;
  metrics: Metrics;
  /** Latest usage samples, kept by the background collector (no engine call per request). */
  stats: Pick<StatsCollector, 'latest'>;
  /** Idempotency-Key records (absent: the header is ignored). */
  idempotency?: IdempotencyLedger | undefined;
  /** Waiters for GET /v1/pods/{id}/wait (absent: the route is not served). */
  waiters?: PodWaiters | undefined;
  /** Pod logs (GET /v1/pods/{id}/logs and its WebSocket; absent: not served). */
  logs?: LogService | undefined;
  /** Pod event feed (GET /v1/events and its WebSocket; absent: not served). */
  events?: EventFeed | undefined;
  /** Exec in pods (POST /v1/pods/{id}/exec and its streaming WebSocket; absent: not served). */
  exec?: ExecService | undefined;
  /** Bytes queued for a WebSocket client that does not read before it is dropped. */
  wsMaxBufferBytes?: number;
  openapi: unknown;
  runtimeName: string;
  allowUnsandboxed: boolean;
  requireNetstack?: boolean;
  /** Time to receive a whole request (default 30 s); handlers may run longer. */
  requestTimeoutMs?: number;
  /** Idle socket timeout: a connection with no request in progress (default 130 s). */
  connectionTimeoutMs?: number;
  /** Socket timeout while a request's handler runs (default: limits.ts for a 15 s engine deadline). */
  inFlightTimeoutMs?: number;
  /** Serve HTTPS (and verify client certificates when it carries a CA). */
  https?: HttpsOptions | undefined;
  /** Mutating requests per token (absent or perMinute 0: no limit). */
  rateLimit?: { perMinute: number; burst: number };
  /** Open WebSocket streams per token and in all (api/stream-slots.ts). */
  streams?: { perToken: number; total: number };
  /** Host firewall state for /readyz (absent: this process does not manage it). */
  firewall?: { readonly status: { mode: string; ok: boolean; detail: string } } | undefined;
}

export { routesOf, type RouteSummary } from './api/route-table.js';

/** Public routes: everything else needs a bearer token. */
export const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/openapi.json']);

/** Sets a socket's inactivity timeout (inject()'s mock socket has none to set). */
function armSocket(socket: { setTimeout?: (ms: number) => unknown } | null | undefined, ms: number): void {
  if (typeof socket?.setTimeout === 'function') socket.setTimeout(ms);
}

/** Builds the HTTP app: plugins, routes, error handling. No env reads, no listen. */
export async function buildApp(d: AppDeps): Promise<FastifyInstance> {
  const requestTimeout = d.requestTimeoutMs ?? 30_000;
  const idleTimeout = d.connectionTimeoutMs ?? 130_000;
  // The idle timeout is the socket's inactivity limit, and a handler waiting on the engine sends
  // nothing: while one runs, the socket gets the longest operation's limit instead (limits.ts),
  // and the idle one again once the answer starts (a client that stops reading is cut as before;
  // after the answer Node arms keepAliveTimeout itself). WebSockets clear it (ws sets 0).
  const inFlight = Math.max(d.inFlightTimeoutMs ?? inFlightTimeoutMs(15_000), idleTimeout);
  // Node 20 enforces requestTimeout only when it is given to createServer (Fastify sets it on
  // the server afterwards, which Node ignores: measured), and checks it every 30 s by default.
  // It bounds receiving a request (slow clients), not the handler: a create may take longer.
  const nodeServer = {
    requestTimeout,
    headersTimeout: Math.min(requestTimeout, 30_000),
    connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(requestTimeout / 10))),
  };
  const opts: FastifyServerOptions & { https?: unknown } = {
    loggerInstance: d.log as FastifyBaseLogger,
    // Request logs at debug level come from the onResponse hook below, with the route template.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: d.bodyLimit,
    requestTimeout,
    connectionTimeout: idleTimeout,
    // Requests that arrive while closing get our problem+json 503 (hook below), not Fastify's body.
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false } },
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
    ...(d.https ? { https: { ...d.https, ...nodeServer } } : { http: nodeServer }),
  };
  const app = Fastify(opts) as unknown as FastifyInstance;
  recordRoutes(app);
  // WebSockets (logs, events, exec): the server answers with the subprotocol pinacled.v1 (see
  // api/websocket.ts); clients send at most an exec's command and its stdin, in messages of
  // at most WS_MAX_CLIENT_MESSAGE_BYTES (ws closes with 1009 beyond). Registered before any
  // hook that can answer (auth, shutdown): its onRequest hook marks upgrade requests so that a
  // refused upgrade's socket is destroyed after the answer, instead of staying open half-closed.
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_CLIENT_MESSAGE_BYTES, handleProtocols: selectSubprotocol },
    preClose(done) {
      for (const c of this.websocketServer.clients) {
        flushQueued(c);
        c.close(WS_CLOSE.GOING_AWAY, 'shutdown');
      }
      this.websocketServer.close();
      done();
    },
  });
  installProblemHandlers(app);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Requests in flight when the close began (creates) finish; their answers then end the
  // connection. Otherwise a keep-alive connection that was busy at the start of the close
  // stays open, idle, and server.close() waits for it until the keep-alive timeout (the grace
  // period of SIGTERM runs out first: exit 1).
  // Hooks that run on every request are callback-style, not async: each async hook costs a
  // promise and a microtask turn per request (issue 8: GET /v1/pods/{id} against bare Fastify).
  app.addHook('onSend', (_req, reply, payload, done) => {
    armSocket(reply.raw.socket, idleTimeout);
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  // JSON only: a text/plain body is a 415, not a string the schemas then reject.
  app.removeContentTypeParser('text/plain');
  // Some clients send `Content-Type: application/json` with an empty body on action routes
  // (start/stop/...): treat that as no body; everything else goes through Fastify's own
  // JSON parser (which also guards against prototype poisoning).
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') return done(null, undefined);
    return jsonParser(req, body as string, done);
  });

  // The gate every request passes, in order: shutting down (503), authentication (401/403), rate
  // limit (429; after authentication, so only valid tokens get a bucket). Each answers the
  // request itself and then ends the chain (no done()).
  const access = new RouteAccess(d.tokens, d.metricsTokens ?? []);
  const buckets = new TokenBuckets(d.rateLimit ?? { perMinute: 0, burst: 1 });
  const rateLimit = rateLimiter(buckets, callerKey);
  const streamLimit = streamLimiter(new StreamSlots(d.streams ?? { perToken: 32, total: 256 }), callerKey);
  app.addHook('onRequest', (req, reply, done) => {
    armSocket(req.raw.socket, inFlight);
    if (closing) {
      reply.header('connection', 'close');
      sendProblem(reply, problemOf('PINACLED_ERR_NOT_READY', 'The daemon is shutting down; retry shortly', undefined, req.url.split('?')[0]));
      return;
    }
    const route = req.routeOptions.url;
    if (!route || !PUBLIC_ROUTES.has(route)) {
      if (access.refuse(route, req, reply)) return;
      if (rateLimit(req, reply)) return;
      if (streamLimit(req, reply)) return;
    }
    done();
  });
  const observe = requestObserver(d.metrics.httpRequests);
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    observe(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
    req.log.debug({ method: req.method, route, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    done();
  });

  if (d.idempotency) idempotencyHooks(app, d.idempotency);
  healthRoutes(app, d);
  openapiRoutes(app, d.openapi);
  podRoutes(app, d.service);
  if (d.waiters) waitRoutes(app, d.waiters);
  statsRoutes(app, d.service, d.stats);
  templateRoutes(app, d.service);
  const wsMaxBufferBytes = d.wsMaxBufferBytes ?? 4 * 1024 * 1024;
  if (d.logs) logRoutes(app, { logs: d.logs, wsMaxBufferBytes });
  if (d.events) eventRoutes(app, { events: d.events, wsMaxBufferBytes });
  if (d.exec) execRoutes(app, { exec: d.exec, engine: d.engine, wsMaxBufferBytes });
  app.get(METRICS_ROUTE, async (_req, reply) => {
    reply.type(d.metrics.registry.contentType);
    return d.metrics.registry.metrics();
  });
  return app;
}
