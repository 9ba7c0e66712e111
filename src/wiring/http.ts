import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { httpsOptions } from '../api/tls.js';
import { type AppDeps, buildApp } from '../app.js';
import type { Config } from '../config/schema.js';
import { inFlightTimeoutMs } from '../limits.js';

/** What the routes serve: the daemon's parts, as AppDeps names them. */
export type ServedParts = Pick<
  AppDeps,
  'service' | 'engine' | 'reconciler' | 'runtime' | 'metrics' | 'stats' | 'idempotency' | 'waiters' | 'logs' | 'events' | 'exec' | 'firewall'
>;

/** The HTTP app over the parts, with the config's transport, limits and tokens. */
export async function httpApp(config: Config, parts: ServedParts, openapiPath: string, log: Logger): Promise<FastifyInstance> {
  // Read once; a bad TLS file stops the start with its name (main.ts exits EX_CONFIG).
  const https = config.tls ? httpsOptions(config.tls) : undefined;
  const openapi = parseYaml(readFileSync(openapiPath, 'utf8')) as unknown;
  return buildApp({
    ...parts,
    log,
    tokens: config.tokens,
    metricsTokens: config.metricsTokens,
    bodyLimit: config.bodyLimit,
    requestTimeoutMs: config.requestTimeoutMs,
    connectionTimeoutMs: config.connectionTimeoutMs,
    inFlightTimeoutMs: inFlightTimeoutMs(config.engineTimeoutMs),
    https,
    rateLimit: config.rateLimit,
    wsMaxBufferBytes: config.wsMaxBufferBytes,
    streams: config.streams,
    openapi,
    runtimeName: config.runtime,
    allowUnsandboxed: config.allowUnsandboxed,
    requireNetstack: config.requireNetstack,
  });
}
