import { z } from 'zod';
import { parseTimeParam } from './time.js';
import type { LogRequest } from './types.js';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const time = z.string().transform((v, ctx) => {
  const t = parseTimeParam(v);
  if (t === null) {
    ctx.addIssue({ code: 'custom', message: 'must be RFC 3339, Unix seconds, or a duration such as 90s, 10m, 2h' });
    return z.NEVER;
  }
  return t;
});

const common = {
  /** Lines from the end of the log; `all` (the default) for everything the engine holds. */
  tail: z.union([z.literal('all'), z.string().regex(/^\d{1,9}$/, 'must be a number of lines or all').transform(Number)]).optional(),
  since: time.optional(),
  until: time.optional(),
  timestamps: bool.optional(),
  stream: z.enum(['stdout', 'stderr', 'both']).optional(),
};

/** GET /v1/pods/{id}/logs */
export const logQuery = z.strictObject(common);
/** GET /v1/pods/{id}/logs/stream (WebSocket): the same plus `follow` (default true). */
export const logStreamQuery = z.strictObject({ ...common, follow: bool.optional() });

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
