/** Routes of the PACS: import a study, store the SR and SEG, the PACS's study list (docs/api.md). */
import type { FastifyPluginAsync } from 'fastify';
import { jsonBody, pathParams, queryParams, type RoutesOptions } from './shared.js';

/** `POST /api/studies/from-dicomweb`, `POST /api/studies/:id/store`, `GET /api/dicomweb/studies`. */
export const pacsRoutes: FastifyPluginAsync<RoutesOptions> = async (app, { services }) => {
  const { studies, pacs } = services;

  app.post('/api/studies/from-dicomweb', async (request, reply) => {
    const study = await pacs.importStudy(jsonBody(request).studyInstanceUid);
    reply.code(201);
    return { id: study.id, status: study.status };
  });

  app.post('/api/studies/:id/store', async (request) => {
    const study = studies.get(pathParams(request).id as string);
    jsonBody(request);
    return { stored: await pacs.store(study) };
  });

  app.get('/api/dicomweb/studies', async (request) => ({ studies: await pacs.search(queryParams(request)) }));
};
