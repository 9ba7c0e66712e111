import { z } from 'zod';

const portNumber = z.coerce.number().int().min(1).max(65535);
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
    PINACLED_RUNTIME: z.string().min(1).default('runsc'),
    PINACLED_ALLOW_UNSANDBOXED: bool.default(false),
    PINACLED_PUBLISH_HOST: z.ipv4().or(z.ipv6()).default('127.0.0.1'),
    PINACLED_PORT_RANGE: z
      .string()
      .regex(/^\d+-\d+$/, 'must look like 30000-32767')
      .default('30000-32767'),
    PINACLED_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    PINACLED_IMAGE_PREFIX: z.string().min(1).default('pinacled'),
    PINACLED_IMAGE_TAG: z.string().min(1).default('0.1.0'),
    PINACLED_ENGINE_TIMEOUT_MS: z.coerce.number().int().min(100).default(15000),
    PINACLED_RECONCILE_INTERVAL_S: z.coerce.number().int().min(1).default(30),
    PINACLED_STOP_TIMEOUT_S: z.coerce.number().int().min(0).max(600).default(10),
    PINACLED_LOG_MAX_SIZE: z.string().regex(/^\d+[kmg]$/, 'must look like 10m').default('10m'),
    PINACLED_LOG_MAX_FILE: z.coerce.number().int().min(1).max(100).default(3),
    PINACLED_BODY_LIMIT: z.coerce.number().int().min(1024).default(256 * 1024),
    PINACLED_IDEMPOTENCY_TTL_S: z.coerce.number().int().min(60).default(24 * 3600),
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
  metricsToken: string | undefined;
  runtime: string;
  allowUnsandboxed: boolean;
  publishHost: string;
  portRange: { low: number; high: number };
  logLevel: Env['PINACLED_LOG_LEVEL'];
  imagePrefix: string;
  imageTag: string;
  engineTimeoutMs: number;
  reconcileIntervalMs: number;
  stopTimeoutS: number;
  logMaxSize: string;
  logMaxFile: number;
  bodyLimit: number;
  idempotencyTtlS: number;
  dockerHost: string | undefined;
}
