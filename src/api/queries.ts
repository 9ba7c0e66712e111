import { z } from 'zod';
import { parseTimeParam } from '../logs/time.js';
import type { LogRequest } from '../logs/types.js';
import { POD_STATES } from '../pods/types.js';

// Every route's query string, in one place (request bodies and path params: schemas.ts).

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** `limit` of a paged GET (events, pods): a whole number from 1 to `max`, as a query string. */
export const pageLimit = (max: number) =>
  z
    .string()
    .regex(/^\d{1,4}$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max));

const seq = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a sequence number (0 or more)')
  .transform(Number);

const eventFilter = {
  after: seq.optional(),
  podId: z.string().min(1).max(64).optional(),
};

/** GET /v1/events */
export const eventsQuery = z.strictObject({ ...eventFilter, limit: pageLimit(MAX_PAGE).optional() });

/** GET /v1/events/stream (WebSocket). Without `after`, only events from now on are sent. */
export const eventStreamQuery = z.strictObject(eventFilter);

/** GET /v1/pods/{id}/wait: at most 120 s (a client re-asks for longer waits); below MAX_OPERATION_S, so the server keeps the socket. */
export const waitQuery = z.strictObject({
  state: z.enum(POD_STATES),
  timeout: z.coerce.number().int().min(0).max(120).default(30),
});

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const time = z.string().transform((v, ctx) => {
  const t = parseTimeParam(v);
  if (t === null) {
    ctx.addIssue({ code: 'custom', message: 'must be RFC 3339, Unix seconds, or a duration such as 90s, 10m, 2h' });
    return z.NEVER;
  }
  return t;
});

const logCommon = {
  /** Lines from the end of the log; `all` (the default) for everything the engine holds. */
  tail: z.union([z.literal('all'), z.string().regex(/^\d{1,9}$/, 'must be a number of lines or all').transform(Number)]).optional(),
  since: time.optional(),
  until: time.optional(),
  timestamps: bool.optional(),
  stream: z.enum(['stdout', 'stderr', 'both']).optional(),
};

/** GET /v1/pods/{id}/logs */
export const logQuery = z.strictObject(logCommon);
/** GET /v1/pods/{id}/logs/stream (WebSocket): the same plus `follow` (default true). */
export const logStreamQuery = z.strictObject({ ...logCommon, follow: bool.optional() });

export function toLogRequest(q: z.output<typeof logStreamQuery>, followDefault: boolean): LogRequest {
  return {
    tail: q.tail ?? 'all',
    since: q.since ?? null,
    until: q.until ?? null,
    timestamps: q.timestamps ?? false,
    stream: q.stream ?? 'both',
    follow: q.follow ?? followDefault,
  };
}
