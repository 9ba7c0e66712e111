import { readFileSync, statSync } from 'node:fs';
import { engineNofileHard, hostPidMax } from './host-limits.js';
import { envSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads a token file (`variable` names it in errors): one token per line, blank lines and `#` comments ignored. */
function readTokens(variable: string, file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  // Group/other access to the file would let other local users read the API tokens.
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) {
    throw new ConfigError(`${variable}: ${file} must not be readable by group or others (chmod 600 ${file})`);
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** The metrics-only tokens: PINACLED_METRICS_TOKEN and/or the lines of PINACLED_METRICS_TOKEN_FILE. */
function metricsTokensOf(e: { PINACLED_METRICS_TOKEN?: string | undefined; PINACLED_METRICS_TOKEN_FILE?: string | undefined }, apiTokens: string[]): string[] {
  const tokens = [...(e.PINACLED_METRICS_TOKEN ? [e.PINACLED_METRICS_TOKEN] : []), ...(e.PINACLED_METRICS_TOKEN_FILE ? readTokens('PINACLED_METRICS_TOKEN_FILE', e.PINACLED_METRICS_TOKEN_FILE) : [])];
  if (e.PINACLED_METRICS_TOKEN_FILE && tokens.length === 0) throw new ConfigError('PINACLED_METRICS_TOKEN_FILE: the file holds no token');
  if (tokens.some((t) => t.length < 16)) throw new ConfigError('PINACLED_METRICS_TOKEN/PINACLED_METRICS_TOKEN_FILE: the token must be at least 16 characters');
  // A token in both lists would be an API token handed to Prometheus: the point of the split.
  if (tokens.some((t) => apiTokens.includes(t))) {
    throw new ConfigError('PINACLED_METRICS_TOKEN/PINACLED_METRICS_TOKEN_FILE: a metrics token is also an API token; give Prometheus its own');
  }
  return tokens;
}

/** Reads and validates configuration once; nothing else in src/ reads process.env. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const tokens = [...(e.PINACLED_TOKEN ? [e.PINACLED_TOKEN] : []), ...(e.PINACLED_TOKEN_FILE ? readTokens('PINACLED_TOKEN_FILE', e.PINACLED_TOKEN_FILE) : [])];
  if (tokens.length === 0) throw new ConfigError('PINACLED_TOKEN_FILE: the file holds no token');
  if (tokens.some((t) => t.length < 16)) throw new ConfigError('PINACLED_TOKEN/PINACLED_TOKEN_FILE: tokens must be at least 16 characters');
  const metricsTokens = metricsTokensOf(e, tokens);
  const [low, high] = e.PINACLED_PORT_RANGE.split('-').map(Number) as [number, number];
  return {
    host: e.PINACLED_HOST,
    port: e.PINACLED_PORT,
    dataDir: e.PINACLED_DATA_DIR,
    tokens,
    metricsTokens,
    runtime: e.PINACLED_RUNTIME,
    allowUnsandboxed: e.PINACLED_ALLOW_UNSANDBOXED,
    requireNetstack: e.PINACLED_REQUIRE_NETSTACK,
    publishHost: e.PINACLED_PUBLISH_HOST,
    portRange: { low, high },
    logLevel: e.PINACLED_LOG_LEVEL,
    imagePrefix: e.PINACLED_IMAGE_PREFIX,
    imageTag: e.PINACLED_IMAGE_TAG,
    engineTimeoutMs: e.PINACLED_ENGINE_TIMEOUT_MS,
    reconcileIntervalMs: e.PINACLED_RECONCILE_INTERVAL_S * 1000,
    statsIntervalMs: Math.round(e.PINACLED_STATS_INTERVAL_S * 1000),
    stopTimeoutS: e.PINACLED_STOP_TIMEOUT_S,
    logMaxSize: e.PINACLED_LOG_MAX_SIZE,
    logMaxFile: e.PINACLED_LOG_MAX_FILE,
    podMaxHostPids: e.PINACLED_POD_MAX_HOST_PIDS ?? Math.floor(hostPidMax() / 4),
    podNofileMax: e.PINACLED_POD_NOFILE_MAX ?? engineNofileHard(e.PINACLED_ENGINE_PIDFILE),
    bodyLimit: e.PINACLED_BODY_LIMIT,
    idempotencyTtlS: e.PINACLED_IDEMPOTENCY_TTL_S,
    logLineMaxBytes: e.PINACLED_LOG_LINE_MAX_BYTES,
    wsMaxBufferBytes: e.PINACLED_WS_MAX_BUFFER_BYTES,
    streams: { perToken: e.PINACLED_WS_MAX_STREAMS_PER_TOKEN, total: e.PINACLED_WS_MAX_STREAMS },
    access: {
      execMaxOutputBytes: e.PINACLED_EXEC_MAX_OUTPUT_BYTES,
      execTimeoutS: e.PINACLED_EXEC_TIMEOUT_S,
    },
    eventsMaxAgeS: e.PINACLED_EVENTS_MAX_AGE_S,
    eventsMaxCount: e.PINACLED_EVENTS_MAX_COUNT,
    eventsPruneIntervalMs: e.PINACLED_EVENTS_PRUNE_INTERVAL_S * 1000,
    reconcileMaxRemovals: e.PINACLED_RECONCILE_MAX_REMOVALS,
    dockerHost: e.DOCKER_HOST,
    podSubnetPool: e.PINACLED_POD_SUBNET_POOL,
    podSubnetPrefix: e.PINACLED_POD_SUBNET_PREFIX,
    firewall: {
      mode: e.PINACLED_FIREWALL,
      checkIntervalMs: e.PINACLED_FIREWALL_CHECK_INTERVAL_S * 1000,
      allow: e.PINACLED_FIREWALL_ALLOW,
      block: e.PINACLED_FIREWALL_BLOCK.split(',').map((x) => x.trim()).filter(Boolean),
    },
    rateLimit: { perMinute: e.PINACLED_RATE_LIMIT_PER_MIN, burst: e.PINACLED_RATE_LIMIT_BURST },
    requestTimeoutMs: e.PINACLED_REQUEST_TIMEOUT_MS,
    connectionTimeoutMs: e.PINACLED_CONNECTION_TIMEOUT_MS,
    tls: e.PINACLED_TLS_CERT && e.PINACLED_TLS_KEY ? { cert: e.PINACLED_TLS_CERT, key: e.PINACLED_TLS_KEY, clientCa: e.PINACLED_TLS_CLIENT_CA } : undefined,
  };
}
