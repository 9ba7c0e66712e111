import { z } from 'zod';
import { MAX_OPERATION_S } from '../limits.js';
import { parseCidr } from '../network/cidr.js';
import { parseAllowances } from '../network/firewall-rules.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Environment variables as read. Defaults are documented in README.md (configuration table). */
export const envSchema = z
  .object({
    PINACLED_HOST: z.string().min(1).default('127.0.0.1'),
    PINACLED_PORT: z.coerce.number().int().min(0).max(65535).default(7070),
    PINACLED_DATA_DIR: z.string().min(1).default('/var/lib/pinacled'),
    PINACLED_TOKEN: z.string().optional(),
    PINACLED_TOKEN_FILE: z.string().optional(),
    PINACLED_METRICS_TOKEN: z.string().optional(),
    PINACLED_METRICS_TOKEN_FILE: z.string().optional(),
    PINACLED_RUNTIME: z.string().min(1).default('runsc'),
    PINACLED_ALLOW_UNSANDBOXED: bool.default(false),
    PINACLED_REQUIRE_NETSTACK: bool.default(false),
    PINACLED_PUBLISH_HOST: z
      .ipv4()
      .or(z.ipv6())
      // CIS 5.13: pod ports go on one chosen address, never on every interface.
      .refine((h) => h !== '0.0.0.0' && !/^[0:]+$/.test(h), 'must be a specific address (127.0.0.1, or the address a proxy reaches), not 0.0.0.0 or ::')
      .default('127.0.0.1'),
    PINACLED_PORT_RANGE: z
      .string()
      .regex(/^\d+-\d+$/, 'must look like 30000-32767')
      .default('30000-32767'),
    PINACLED_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    PINACLED_IMAGE_PREFIX: z.string().min(1).default('pinacled'),
    PINACLED_IMAGE_TAG: z.string().min(1).default('0.1.0'),
    PINACLED_ENGINE_TIMEOUT_MS: z.coerce.number().int().min(100).default(15000),
    PINACLED_RECONCILE_INTERVAL_S: z.coerce.number().int().min(1).default(30),
    PINACLED_STATS_INTERVAL_S: z.coerce.number().min(0.5).max(3600).default(10),
    PINACLED_STOP_TIMEOUT_S: z.coerce.number().int().min(0).max(MAX_OPERATION_S).default(10),
    PINACLED_LOG_MAX_SIZE: z.string().regex(/^\d+[kmg]$/, 'must look like 10m').default('10m'),
    PINACLED_LOG_MAX_FILE: z.coerce.number().int().min(1).max(100).default(3),
    // Default: a quarter of kernel.pid_max (src/config/load.ts).
    PINACLED_POD_MAX_HOST_PIDS: z.coerce.number().int().min(1024).optional(),
    // Default: the hard open-files limit of the engine's process (src/config/host-limits.ts).
    PINACLED_POD_NOFILE_MAX: z.coerce.number().int().min(1024).optional(),
    PINACLED_ENGINE_PIDFILE: z.string().min(1).default('/var/run/docker.pid'),
    PINACLED_BODY_LIMIT: z.coerce.number().int().min(1024).default(256 * 1024),
    PINACLED_IDEMPOTENCY_TTL_S: z.coerce.number().int().min(60).default(24 * 3600),
    PINACLED_LOG_LINE_MAX_BYTES: z.coerce.number().int().min(256).max(1024 * 1024).default(16 * 1024),
    // At least 1 MiB: the send buffer also counts what was written in the current tick, and one
    // engine chunk of short lines becomes ~100 KiB of frames.
    PINACLED_WS_MAX_STREAMS_PER_TOKEN: z.coerce.number().int().min(1).max(100_000).default(32),
    PINACLED_WS_MAX_STREAMS: z.coerce.number().int().min(1).max(100_000).default(256),
    PINACLED_WS_MAX_BUFFER_BYTES: z.coerce.number().int().min(1024 * 1024).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
    PINACLED_EXEC_MAX_OUTPUT_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    PINACLED_EXEC_TIMEOUT_S: z.coerce.number().int().min(1).max(MAX_OPERATION_S).default(300),
    PINACLED_EVENTS_MAX_AGE_S: z.coerce.number().int().min(60).default(30 * 24 * 3600),
    PINACLED_EVENTS_MAX_COUNT: z.coerce.number().int().min(100).default(100_000),
    PINACLED_EVENTS_PRUNE_INTERVAL_S: z.coerce.number().int().min(1).max(86400).default(3600),
    PINACLED_RECONCILE_MAX_REMOVALS: z.coerce.number().int().min(0).max(10000).default(10),
    PINACLED_POD_SUBNET_POOL: z
      .string()
      .refine((s) => !!parseCidr(s), 'must be an IPv4 CIDR with no host bits, like 10.213.0.0/16')
      .default('10.213.0.0/16'),
    PINACLED_POD_SUBNET_PREFIX: z.coerce.number().int().min(16).max(29).default(28),
    PINACLED_FIREWALL: z.enum(['install', 'check', 'off']).default('install'),
    PINACLED_FIREWALL_CHECK_INTERVAL_S: z.coerce.number().int().min(1).max(3600).default(30),
    PINACLED_FIREWALL_ALLOW: z.string().default(''),
    PINACLED_FIREWALL_BLOCK: z.string().default(''),
    PINACLED_RATE_LIMIT_PER_MIN: z.coerce.number().int().min(0).default(120),
    PINACLED_RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(60),
    PINACLED_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
    PINACLED_CONNECTION_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(130_000),
    PINACLED_TLS_CERT: z.string().min(1).optional(),
    PINACLED_TLS_KEY: z.string().min(1).optional(),
    PINACLED_TLS_CLIENT_CA: z.string().min(1).optional(),
    DOCKER_HOST: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    const [lo, hi] = env.PINACLED_PORT_RANGE.split('-').map(Number) as [number, number];
    if (!(lo >= 1024 && hi <= 65535 && lo <= hi)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PINACLED_PORT_RANGE'],
        message: 'must be LOW-HIGH with 1024 <= LOW <= HIGH <= 65535',
      });
    }
    const pool = parseCidr(env.PINACLED_POD_SUBNET_POOL);
    if (pool && pool.prefix > env.PINACLED_POD_SUBNET_PREFIX) {
      ctx.addIssue({ code: 'custom', path: ['PINACLED_POD_SUBNET_PREFIX'], message: `must be at least the pool's prefix (/${pool.prefix})` });
    }
    try {
      parseAllowances(env.PINACLED_FIREWALL_ALLOW);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['PINACLED_FIREWALL_ALLOW'], message: `${(err as Error).message}; use comma-separated CIDR[:PORT[/tcp|udp]]` });
    }
    for (const c of env.PINACLED_FIREWALL_BLOCK.split(',').map((x) => x.trim()).filter(Boolean)) {
      if (!parseCidr(c.includes('/') ? c : `${c}/32`)) ctx.addIssue({ code: 'custom', path: ['PINACLED_FIREWALL_BLOCK'], message: `"${c}" is not an IPv4 CIDR` });
    }
    if (!!env.PINACLED_TLS_CERT !== !!env.PINACLED_TLS_KEY) {
      ctx.addIssue({ code: 'custom', path: [env.PINACLED_TLS_CERT ? 'PINACLED_TLS_KEY' : 'PINACLED_TLS_CERT'], message: 'set both PINACLED_TLS_CERT and PINACLED_TLS_KEY, or neither' });
    }
    if (env.PINACLED_TLS_CLIENT_CA && !env.PINACLED_TLS_CERT) {
      ctx.addIssue({ code: 'custom', path: ['PINACLED_TLS_CLIENT_CA'], message: 'client certificates need TLS: set PINACLED_TLS_CERT and PINACLED_TLS_KEY too' });
    }
    if (!env.PINACLED_TOKEN && !env.PINACLED_TOKEN_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['PINACLED_TOKEN_FILE'],
        message: 'set PINACLED_TOKEN_FILE (a file with one token per line) or PINACLED_TOKEN; pinacled refuses to run without authentication',
      });
    }
  });

export type Env = z.output<typeof envSchema>;

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** Accepted bearer tokens (several, so tokens can be rotated without downtime). */
  tokens: string[];
  /** Tokens for GET /metrics only (a 403 anywhere else); none: /metrics takes the API tokens. */
  metricsTokens: string[];
  runtime: string;
  allowUnsandboxed: boolean;
  /** Refuse creates (503) and report not ready while the runtime uses the host's network stack. */
  requireNetstack: boolean;
  publishHost: string;
  portRange: { low: number; high: number };
  logLevel: Env['PINACLED_LOG_LEVEL'];
  imagePrefix: string;
  imageTag: string;
  engineTimeoutMs: number;
  reconcileIntervalMs: number;
  /** How often the stats collector samples every running pod (cgroup files; no engine call). */
  statsIntervalMs: number;
  stopTimeoutS: number;
  logMaxSize: string;
  logMaxFile: number;
  /** Ceiling of one pod's host pids cap (src/pods/spec.ts hostPidsLimit). */
  podMaxHostPids: number;
  /** Ceiling of a runc pod's open-files limit (the engine's own hard limit); none when unknown. */
  podNofileMax: number | undefined;
  bodyLimit: number;
  idempotencyTtlS: number;
  /** Longer log lines are cut there, with a marker (src/logs/lines.ts). */
  logLineMaxBytes: number;
  /** Bytes queued for one WebSocket client that does not read before it is dropped (close 4001). */
  wsMaxBufferBytes: number;
  /** Open WebSocket streams per token and in all (src/api/stream-slots.ts). */
  streams: { perToken: number; total: number };
  /** Exec in pods (src/access/). */
  access: {
    execMaxOutputBytes: number;
    execTimeoutS: number;
  };
  /** Pod events older than this, or beyond the newest `eventsMaxCount`, are pruned. */
  eventsMaxAgeS: number;
  eventsMaxCount: number;
  eventsPruneIntervalMs: number;
  /** Most stray containers (and volumes) one reconcile pass removes; more means lost rows: it refuses. */
  reconcileMaxRemovals: number;
  dockerHost: string | undefined;
  /** Per-pod networks take /podSubnetPrefix blocks of this IPv4 pool. */
  podSubnetPool: string;
  podSubnetPrefix: number;
  firewall: {
    mode: 'install' | 'check' | 'off';
    checkIntervalMs: number;
    /** Raw PINACLED_FIREWALL_ALLOW (validated): exceptions to the private-range block. */
    allow: string;
    /** Extra IPv4 CIDRs pods may not reach. */
    block: string[];
  };
  /** Mutating requests per minute per token (0: no limit), with this burst. */
  rateLimit: { perMinute: number; burst: number };
  /** Time to receive a whole request (headers and body); handlers may take longer. */
  requestTimeoutMs: number;
  /** Idle socket timeout: a connection with no request in progress (a running handler gets limits.ts's). */
  connectionTimeoutMs: number;
  /** File paths; cert and key together, client CA only with them. */
  tls: { cert: string; key: string; clientCa: string | undefined } | undefined;
}
