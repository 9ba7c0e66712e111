import type {} from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { PinacledError } from '../../errors.js';
import type { EventFeed } from '../../events/feed.js';
import { DEFAULT_PAGE, eventStreamQuery, eventsQuery } from '../queries.js';
import { streamEvents } from '../../events/stream.js';
import { parse } from '../validate.js';
import { checkSubprotocols, JsonSocket, upgradeRequired } from '../websocket.js';

export interface EventRouteDeps {
  events: EventFeed;
  wsMaxBufferBytes: number;
}

/** A client's `after` beyond the newest seq: the store was replaced; its cursor means nothing here. */
function checkAfter(events: EventFeed, after: number | undefined): void {
  const latest = events.latestSeq();
  if (after !== undefined && after > latest) {
    throw new PinacledError('PINACLED_ERR_VALIDATION', `after=${after} is beyond the newest event (${latest}); this event store is not the one the cursor came from: start again from 0`, {
      fields: [{ field: 'query.after', message: `is beyond the newest event (${latest})` }],
    });
  }
}

export function eventRoutes(app: FastifyInstance, d: EventRouteDeps): void {
  app.get('/v1/events', async (req) => {
    const q = parse(eventsQuery, req.query, 'query');
    const after = q.after ?? 0;
    checkAfter(d.events, after);
    const items = d.events.list(after, q.limit ?? DEFAULT_PAGE, q.podId);
    return { items, next: items.at(-1)?.seq ?? after, latestSeq: d.events.latestSeq(), oldestSeq: d.events.oldestSeq() };
  });

  app.route({
    method: 'GET',
    url: '/v1/events/stream',
    preHandler: async (req) => {
      await checkSubprotocols(req);
      checkAfter(d.events, parse(eventStreamQuery, req.query, 'query').after);
    },
    handler: upgradeRequired,
    wsHandler: async (socket, req) => {
      const q = parse(eventStreamQuery, req.query, 'query');
      const ch = new JsonSocket(socket, { maxBufferBytes: d.wsMaxBufferBytes, log: req.log });
      await streamEvents(d.events, ch, { after: q.after, podId: q.podId });
    },
  });
}
