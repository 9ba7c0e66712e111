import type { FastifyInstance } from 'fastify';
import { createPodSchema, emptyBody, encodePodCursor, listPodsQuery, PODS_PAGE_DEFAULT, podIdParams, stopQuery } from '../schemas.js';
import { VersionedBytesCache } from '../page-cache.js';
import { parse } from '../validate.js';
import { createdAnswer, podJson, podListJson, podView } from '../views.js';
import type { PodService } from '../../pods/service.js';

/** What Fastify itself sends for an object; reads send pre-serialized JSON bytes (api/views.ts). */
const JSON_TYPE = 'application/json; charset=utf-8';

export function podRoutes(app: FastifyInstance, service: PodService): void {
  const pages = new VersionedBytesCache();
  app.post('/v1/pods', async (req, reply) => {
    const { pod, secrets } = await service.create(parse(createPodSchema, req.body, 'body'), { onIntent: req.podIntent });
    const created = createdAnswer(pod);
    reply.code(created.status).header('location', created.location);
    return { ...created.view, secrets };
  });

  app.get('/v1/pods', async (req, reply) => {
    const q = parse(listPodsQuery, req.query, 'query');
    const labels = [q.label ?? []].flat().map((l) => {
      const i = l.indexOf('=');
      return i < 0 ? { key: l, value: undefined } : { key: l.slice(0, i), value: l.slice(i + 1) };
    });
    const limit = q.limit ?? PODS_PAGE_DEFAULT;
    const key = JSON.stringify([q.state, labels, q.after, limit]);
    const body = pages.get(service.listVersion, key, () => {
      const page = service.page({ state: q.state, labels }, q.after, limit);
      const last = page.items.at(-1);
      return podListJson(page.items, page.more && last ? encodePodCursor(last) : null);
    });
    return reply.type(JSON_TYPE).send(body);
  });

  app.get('/v1/pods/:id', async (req, reply) => reply.type(JSON_TYPE).send(podJson(service.get(parse(podIdParams, req.params, 'params').id))));

  app.post('/v1/pods/:id/start', async (req) => {
    parse(emptyBody, req.body, 'body');
    return podView(await service.start(parse(podIdParams, req.params, 'params').id));
  });

  app.post('/v1/pods/:id/stop', async (req) => {
    parse(emptyBody, req.body, 'body');
    const { timeout } = parse(stopQuery, req.query, 'query');
    return podView(await service.stop(parse(podIdParams, req.params, 'params').id, timeout));
  });

  app.post('/v1/pods/:id/restart', async (req) => {
    parse(emptyBody, req.body, 'body');
    const { timeout } = parse(stopQuery, req.query, 'query');
    return podView(await service.restart(parse(podIdParams, req.params, 'params').id, timeout));
  });

  app.delete('/v1/pods/:id', async (req, reply) => {
    const { timeout } = parse(stopQuery, req.query, 'query');
    await service.delete(parse(podIdParams, req.params, 'params').id, timeout);
    return reply.code(204).send();
  });
}
