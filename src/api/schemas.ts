import { z } from 'zod';
import { pageLimit } from './queries.js';
import { MAX_OPERATION_S } from '../limits.js';
import { MAX_PIDS_LIMIT } from '../pods/spec.js';
import { POD_STATES, SANDBOX_PLATFORMS, TEMPLATE_NAMES, type CreatePodInput } from '../pods/types.js';

/**
 * Request schemas. openapi.yaml describes the same shapes; test/contract checks that they agree
 * on the examples. Every object is strict: unknown fields are rejected, so nothing a client
 * sends (privileged, binds, networkMode, ...) can reach the engine unless modelled here.
 */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const dnsLabel = z.string().regex(DNS_LABEL, 'must be a DNS label: 1-63 of a-z, 0-9 and -, not starting or ending with -');
/** Docker image reference: [registry[:port]/]path[:tag][@digest], lowercase path. */
const IMAGE_REF = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$/;
/** Reserved: set by pinacled itself. */
const RESERVED_ENV = /^PINACLE_/;

const maxEntries = (n: number) => (r: Record<string, string>) => Object.keys(r).length <= n;

export const resourcesSchema = z.strictObject({
  cpuCores: z.number().gt(0).max(64).multipleOf(0.01).optional(),
  memoryMb: z.number().int().min(32).max(262144).optional(),
  pidsLimit: z.number().int().min(8).max(MAX_PIDS_LIMIT).optional(),
});

/** A create's body; what it accepts is the pod service's create input (pods/types.ts). */
export const createPodSchema = z
  .strictObject({
    name: dnsLabel,
    template: z.enum(TEMPLATE_NAMES),
    image: z.string().max(255).regex(IMAGE_REF, 'must be a Docker image reference').optional(),
    command: z.array(z.string().max(8192)).min(1).max(256).optional(),
    resources: resourcesSchema.optional(),
    /** gVisor platform; absent: the template's default (README "gVisor builds and platforms"). */
    sandbox: z.strictObject({ platform: z.enum(SANDBOX_PLATFORMS).optional() }).optional(),
    ports: z
      .array(z.strictObject({ containerPort: z.number().int().min(1).max(65535), name: dnsLabel.optional() }))
      .max(16)
      .optional(),
    env: z
      .record(
        z.string().regex(ENV_KEY, 'env keys must match [A-Za-z_][A-Za-z0-9_]*').refine((k) => !RESERVED_ENV.test(k), 'PINACLE_* env keys are reserved'),
        z.string().max(32768).refine((v) => !v.includes('\0'), 'must not contain NUL'),
      )
      .refine(maxEntries(128), 'at most 128 entries')
      .optional(),
    labels: z
      .record(z.string().regex(LABEL_KEY, 'label keys must be 1-63 of a-z, 0-9, . _ / -'), z.string().max(255))
      .refine(maxEntries(64), 'at most 64 entries')
      .optional(),
  })
  .superRefine((b, ctx) => {
    if (b.template === 'custom' && !b.image) ctx.addIssue({ code: 'custom', path: ['image'], message: 'is required for the custom template' });
    if (b.template !== 'custom' && b.image) {
      ctx.addIssue({ code: 'custom', path: ['image'], message: `must not be set: template ${b.template} brings its own image` });
    }
    const seen = new Set<number>();
    b.ports?.forEach((p, i) => {
      if (seen.has(p.containerPort)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'containerPort'], message: 'is listed twice' });
      seen.add(p.containerPort);
    });
  }) satisfies z.ZodType<CreatePodInput>;

export const podIdParams = z.strictObject({ id: z.string().min(1).max(64) });

/** Pods per page of GET /v1/pods: a page's cost must not grow with the pods a host holds. */
export const PODS_PAGE_DEFAULT = 100;
export const PODS_PAGE_MAX = 1000;

/**
 * A GET /v1/pods cursor: the sort key (createdAt, id) of the last pod of a page, base64url.
 * Opaque to clients; keyed, not positional, so deletes between pages skip or repeat nothing.
 */
export function encodePodCursor(k: { createdAt: string; id: string }): string {
  return Buffer.from(`${k.createdAt} ${k.id}`).toString('base64url');
}
const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z) ([a-z0-9]{1,64})$/;
const podCursor = z
  .string()
  .max(200)
  .transform((s, ctx) => {
    const m = /^[A-Za-z0-9_-]+$/.test(s) ? CURSOR.exec(Buffer.from(s, 'base64url').toString()) : null;
    if (!m) {
      ctx.addIssue({ code: 'custom', message: "is not a cursor this API gave out (pass the previous page's `next`)" });
      return z.NEVER;
    }
    return { createdAt: m[1]!, id: m[2]! };
  });

export const listPodsQuery = z.strictObject({
  state: z.enum(POD_STATES).optional(),
  /** `key=value` or `key` (presence); repeatable. */
  label: z.union([z.string(), z.array(z.string())]).optional(),
  limit: pageLimit(PODS_PAGE_MAX).optional(),
  after: podCursor.optional(),
});

/** Seconds as a query string: digits only (an empty `?timeout=` is a 400, not 0). */
const seconds = z
  .string()
  .regex(/^\d{1,4}$/, 'must be a whole number of seconds')
  .transform(Number)
  .pipe(z.number().int().min(0).max(MAX_OPERATION_S));

export const stopQuery = z.strictObject({
  timeout: seconds.optional(),
});

/** Empty or absent bodies for action routes; anything else is a 400. */
export const emptyBody = z.union([z.undefined(), z.null(), z.strictObject({})]);
