import type { FastifyInstance } from 'fastify';
import type { PodService } from '../../pods/service.js';

export function templateRoutes(app: FastifyInstance, service: PodService): void {
  app.get('/v1/templates', async () => ({
    items: (await service.templates()).map((t) => ({
      name: t.name,
      description: t.description,
      image: t.image,
      ports: t.ports,
      resources: t.resources,
      imagePresent: t.imagePresent,
    })),
  }));
}
