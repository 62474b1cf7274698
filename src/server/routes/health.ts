/** `GET /api/health`: liveness, version, queue, limits, whether a PACS and a token are configured. */
import type { FastifyPluginAsync } from 'fastify';
import type { RoutesOptions } from './shared.js';

/** Options of the health route: the services, the version and whether requests need a token. */
export interface HealthOptions extends RoutesOptions {
  version: string;
  auth: boolean;
}

/** `GET /api/health`. */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { services, version, auth }) => {
  app.get('/api/health', async () => ({
    ok: true,
    version,
    dicomweb: services.pacs.client !== undefined,
    auth,
    queue: services.queue.stats(),
    limits: services.studies.limits,
  }));
};
