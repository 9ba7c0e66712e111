import type { FastifyInstance } from 'fastify';
import type { Template } from '../../pods/templates.js';
import type { TemplateName } from '../../pods/types.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';

export function templateRoutes(app: FastifyInstance, templates: Record<TemplateName, Template>, runtime: ContainerRuntime): void {
  app.get('/v1/templates', async () => ({
    items: await Promise.all(
      Object.values(templates).map(async (t) => ({
        name: t.name,
        description: t.description,
        image: t.image,
        ports: t.ports,
        resources: t.resources,
        imagePresent: t.image ? await runtime.imageExists(t.image) : null,
      })),
    ),
  }));
}
