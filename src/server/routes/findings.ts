/** Routes of a study's findings and the reader's corrections (docs/api.md, "Findings and corrections"). */
import type { FastifyPluginAsync } from 'fastify';
import { parseCorrectionRequest } from '../corrections.js';
import { jsonBody, pathParams, type RoutesOptions } from './shared.js';

/** `GET /api/studies/:id/findings`, `GET/POST /api/studies/:id/corrections`. */
export const findingsRoutes: FastifyPluginAsync<RoutesOptions> = async (app, { services }) => {
  const { studies, findings } = services;

  app.get('/api/studies/:id/findings', async (request) =>
    findings.findings(studies.get(pathParams(request).id as string)),
  );

  app.get('/api/studies/:id/corrections', async (request) => ({
    corrections: findings.corrections(studies.get(pathParams(request).id as string)),
  }));

  app.post('/api/studies/:id/corrections', async (request, reply) => {
    const study = studies.get(pathParams(request).id as string);
    const result = findings.correct(study, parseCorrectionRequest(jsonBody(request)));
    if (result.job) {
      reply.code(202);
      return { jobId: result.job.id, correction: result.correction };
    }
    reply.code(201);
    return { correction: result.correction, revision: result.revision };
  });
};
