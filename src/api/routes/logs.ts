import { PassThrough } from 'node:stream';
import type {} from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { isPinacledError } from '../../errors.js';
import { logQuery, logStreamQuery, toLogRequest } from '../queries.js';
import type { LogService } from '../../logs/service.js';
import type { LogSession } from '../../logs/session.js';
import { BodyLogSink, WsLogSink } from '../../logs/sinks.js';
import { podIdParams } from '../schemas.js';
import { parse } from '../validate.js';
import { checkSubprotocols, JsonSocket, upgradeRequired } from '../websocket.js';

export interface LogRouteDeps {
  logs: LogService;
  wsMaxBufferBytes: number;
}

/** A one-shot read has this long to finish before the response is cut (every stream has a deadline). */
const READ_DEADLINE_MS = 120_000;

export function logRoutes(app: FastifyInstance, d: LogRouteDeps): void {
  app.get('/v1/pods/:id/logs', async (req, reply) => {
    const target = d.logs.target(parse(podIdParams, req.params, 'params').id);
    const q = toLogRequest(parse(logQuery, req.query, 'query'), false);
    const session = await d.logs.open(target, q);
    const ndjson = /application\/x-ndjson/i.test(req.headers.accept ?? '');
    const body = new PassThrough();
    const deadline = setTimeout(() => body.destroy(new Error('log read deadline')), READ_DEADLINE_MS);
    body.on('close', () => {
      clearTimeout(deadline);
      session.close();
    });
    reply.raw.on('close', () => body.destroy());
    session.run(new BodyLogSink(body, { ndjson, timestamps: q.timestamps })).catch((err: Error) => {
      req.log.error({ err }, 'log read failed');
      body.destroy(err);
    });
    return reply.type(ndjson ? 'application/x-ndjson' : 'text/plain; charset=utf-8').send(body);
  });

  app.route({
    method: 'GET',
    url: '/v1/pods/:id/logs/stream',
    // Everything that can be refused is refused before the upgrade, as an HTTP problem.
    preHandler: async (req) => {
      await checkSubprotocols(req);
      const { id } = parse(podIdParams, req.params, 'params');
      parse(logStreamQuery, req.query, 'query');
      d.logs.target(id);
    },
    handler: upgradeRequired,
    wsHandler: async (socket, req) => {
      const id = parse(podIdParams, req.params, 'params').id;
      const q = toLogRequest(parse(logStreamQuery, req.query, 'query'), true);
      const ch = new JsonSocket(socket, { maxBufferBytes: d.wsMaxBufferBytes, log: req.log });
      const sink = new WsLogSink(ch);
      let session: LogSession | undefined;
      ch.onClose(() => session?.close());
      try {
        session = await d.logs.open(d.logs.target(id), q);
      } catch (err) {
        req.log.warn({ podId: id, code: isPinacledError(err) ? err.code : undefined }, 'cannot open the log stream');
        return sink.end(isPinacledError(err, 'PINACLED_ERR_POD_NOT_FOUND') ? 'deleted' : 'error');
      }
      if (ch.closed) return session.close();
      await session.run(sink);
    },
  });
}
