import type { FastifyInstance } from 'fastify';

/** Serves the contract (openapi.yaml, loaded once by main.ts) as JSON. */
export function openapiRoutes(app: FastifyInstance, document: unknown): void {
  app.get('/openapi.json', async () => document);
}
