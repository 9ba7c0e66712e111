import type {} from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { ExecService } from '../../access/exec.js';
import { execSchema } from '../../access/schemas.js';
import { requireEngine, type EngineGate } from '../../runtime/guarded-runtime.js';
import { serveExecStream } from '../exec-socket.js';
import { podIdParams } from '../schemas.js';
import { parse } from '../validate.js';
import { checkSubprotocols, JsonSocket, upgradeRequired } from '../websocket.js';

/** JSON escaping can double stdin's size (1 MiB of it may arrive as 2+ MiB of body). */
const EXEC_BODY_LIMIT = 4 * 1024 * 1024 + 64 * 1024;

export interface ExecRouteDeps {
  exec: ExecService;
  engine: EngineGate;
  wsMaxBufferBytes: number;
}

export function execRoutes(app: FastifyInstance, d: ExecRouteDeps): void {
  app.post('/v1/pods/:id/exec', { bodyLimit: EXEC_BODY_LIMIT }, async (req, reply) => {
    const { id } = parse(podIdParams, req.params, 'params');
    const body = parse(execSchema, req.body, 'body');
    // A client that goes away kills the command (and everything it started).
    const gone = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    return d.exec.run(id, body, gone.signal);
  });

  app.route({
    method: 'GET',
    url: '/v1/pods/:id/exec/stream',
    // Unknown pod (404), pod not running (409), engine away (503): refused before the upgrade.
    preHandler: async (req) => {
      await checkSubprotocols(req);
      d.exec.target(parse(podIdParams, req.params, 'params').id);
      await requireEngine(d.engine);
    },
    handler: upgradeRequired,
    wsHandler: (socket, req) => {
      const ch = new JsonSocket(socket, { maxBufferBytes: d.wsMaxBufferBytes, log: req.log });
      serveExecStream(ch, { exec: d.exec, podId: parse(podIdParams, req.params, 'params').id, log: req.log });
    },
  });
}
