/** Routes of a study's images for the viewer: series, instances, PNG slices, raw files (docs/api.md, "Series and images"). */
import type { FastifyPluginAsync } from 'fastify';
import { pathParams, queryParams, type RoutesOptions } from './shared.js';

const CACHE_AN_HOUR = 'private, max-age=3600';

/** `GET /api/studies/:id/series…` and `GET /api/studies/:id/files/:fileId`. */
export const imageRoutes: FastifyPluginAsync<RoutesOptions> = async (app, { services }) => {
  const { studies, images } = services;

  app.get('/api/studies/:id/series', async (request) => {
    const study = studies.get(pathParams(request).id as string);
    return { series: (await images.series(study)).map((s) => s.info) };
  });

  app.get('/api/studies/:id/series/:n/instances', async (request) => {
    const { id, n } = pathParams(request) as { id: string; n: string };
    const study = studies.get(id);
    const { series, instances } = await images.instances(study, n);
    return {
      series,
      instances: instances.map((instance) => ({
        ...instance,
        url: `/api/studies/${study.id}/files/${instance.fileId}`,
      })),
    };
  });

  app.get('/api/studies/:id/series/:n/slices/:slice', async (request, reply) => {
    const { id, n, slice } = pathParams(request) as { id: string; n: string; slice: string };
    const png = await images.slice(id, n, slice, queryParams(request).window);
    return reply.type('image/png').header('Cache-Control', CACHE_AN_HOUR).send(Buffer.from(png));
  });

  app.get('/api/studies/:id/series/:n/heat/:level', async (request, reply) => {
    const { id, n, level } = pathParams(request) as { id: string; n: string; level: string };
    const png = await images.heat(studies.get(id), n, level);
    return reply.type('image/png').header('Cache-Control', 'private, no-cache').send(png);
  });

  app.get('/api/studies/:id/files/:fileId', async (request, reply) => {
    const { id, fileId } = pathParams(request) as { id: string; fileId: string };
    const { file, bytes } = await images.file(id, fileId);
    return reply
      .type(file.kind === 'dicom' ? 'application/dicom' : 'application/octet-stream')
      .header('Cache-Control', CACHE_AN_HOUR)
      .send(bytes);
  });
};
