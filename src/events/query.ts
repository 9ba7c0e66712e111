import { z } from 'zod';

const seq = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a sequence number (0 or more)')
  .transform(Number);

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** `limit` of a paged GET (events, pods): a whole number from 1 to `max`, as a query string. */
export const pageLimit = (max: number) =>
  z
    .string()
    .regex(/^\d{1,4}$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max));

/** GET /v1/events */
export const eventsQuery = z.strictObject({
  after: seq.optional(),
  podId: z.string().min(1).max(64).optional(),
  limit: pageLimit(MAX_PAGE).optional(),
});

/** GET /v1/events/stream (WebSocket). Without `after`, only events from now on are sent. */
export const eventStreamQuery = z.strictObject({
  after: seq.optional(),
  podId: z.string().min(1).max(64).optional(),
});
