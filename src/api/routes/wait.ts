import type { FastifyInstance } from 'fastify';
import type { PodWaiters } from '../../pods/wait.js';
import { waitQuery } from '../queries.js';
import { podIdParams } from '../schemas.js';
import { parse } from '../validate.js';
import { podView } from '../views.js';

/** GET /v1/pods/{id}/wait: answers when the pod reaches the state, 408 when it does not in time. */
export function waitRoutes(app: FastifyInstance, waiters: PodWaiters): void {
  // Shutdown must not wait for long polls: they end with 503 before the server closes.
  app.addHook('preClose', async () => waiters.close());

  app.get('/v1/pods/:id/wait', async (req, reply) => {
    const { id } = parse(podIdParams, req.params, 'params');
    const { state, timeout } = parse(waitQuery, req.query, 'query');
    const gone = new AbortController();
    // The client hung up: drop its waiter rather than keep it until the timeout. (The
    // response's `close`, not the request's: that one fires once a bodiless request is read.)
    reply.raw.once('close', () => gone.abort());
    return podView(await waiters.wait(id, state, timeout * 1000, gone.signal));
  });
}
