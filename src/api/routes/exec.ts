import type { FastifyInstance } from 'fastify';
import type { ExecService } from '../../access/exec.js';
import { execSchema } from '../../access/schemas.js';
import { podIdParams } from '../schemas.js';
import { parse } from '../validate.js';

/** JSON escaping can double stdin's size (1 MiB of it may arrive as 2+ MiB of body). */
const EXEC_BODY_LIMIT = 4 * 1024 * 1024 + 64 * 1024;

export function execRoutes(app: FastifyInstance, exec: ExecService): void {
  app.post('/v1/pods/:id/exec', { bodyLimit: EXEC_BODY_LIMIT }, async (req, reply) => {
    const { id } = parse(podIdParams, req.params, 'params');
    const body = parse(execSchema, req.body, 'body');
    // A client that goes away kills the command (and everything it started).
    const gone = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    return exec.run(id, body, gone.signal);
  });
}
