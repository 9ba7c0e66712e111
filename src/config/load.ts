import { readFileSync, statSync } from 'node:fs';
import { envSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the token file: one token per line, blank lines and `#` comments ignored. */
function readTokens(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`PINACLED_TOKEN_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  // Group/other access to the file would let other local users read the API tokens.
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) {
    throw new ConfigError(`PINACLED_TOKEN_FILE: ${file} must not be readable by group or others (chmod 600 ${file})`);
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Reads and validates configuration once; nothing else in src/ reads process.env. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const tokens = [...(e.PINACLED_TOKEN ? [e.PINACLED_TOKEN] : []), ...(e.PINACLED_TOKEN_FILE ? readTokens(e.PINACLED_TOKEN_FILE) : [])];
  if (tokens.length === 0) throw new ConfigError('PINACLED_TOKEN_FILE: the file holds no token');
  if (tokens.some((t) => t.length < 16)) throw new ConfigError('PINACLED_TOKEN/PINACLED_TOKEN_FILE: tokens must be at least 16 characters');
  const [low, high] = e.PINACLED_PORT_RANGE.split('-').map(Number) as [number, number];
  return {
    host: e.PINACLED_HOST,
    port: e.PINACLED_PORT,
    dataDir: e.PINACLED_DATA_DIR,
    tokens,
    metricsToken: e.PINACLED_METRICS_TOKEN,
    runtime: e.PINACLED_RUNTIME,
    allowUnsandboxed: e.PINACLED_ALLOW_UNSANDBOXED,
    publishHost: e.PINACLED_PUBLISH_HOST,
    portRange: { low, high },
    logLevel: e.PINACLED_LOG_LEVEL,
    imagePrefix: e.PINACLED_IMAGE_PREFIX,
    imageTag: e.PINACLED_IMAGE_TAG,
    engineTimeoutMs: e.PINACLED_ENGINE_TIMEOUT_MS,
    reconcileIntervalMs: e.PINACLED_RECONCILE_INTERVAL_S * 1000,
    stopTimeoutS: e.PINACLED_STOP_TIMEOUT_S,
    logMaxSize: e.PINACLED_LOG_MAX_SIZE,
    logMaxFile: e.PINACLED_LOG_MAX_FILE,
    bodyLimit: e.PINACLED_BODY_LIMIT,
    idempotencyTtlS: e.PINACLED_IDEMPOTENCY_TTL_S,
    dockerHost: e.DOCKER_HOST,
  };
}
