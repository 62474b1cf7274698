/** Routes of the analyses and their jobs, with progress as Server-Sent Events (docs/api.md, "Analysis and jobs"). */
import type { FastifyPluginAsync } from 'fastify';
import type { JobView } from '../queue.js';
import { parseAnalyzeRequest } from '../services/analysis.js';
import { jsonBody, pathParams, type RoutesOptions } from './shared.js';

const ended = (view: JobView): boolean => view.status === 'done' || view.status === 'failed';

/** `POST /api/studies/:id/analyze`, `GET /api/jobs`, `GET /api/jobs/:jobId[/events]`. */
export const analysisRoutes: FastifyPluginAsync<RoutesOptions> = async (app, { services }) => {
  const { studies, analysis } = services;

  app.post('/api/studies/:id/analyze', async (request, reply) => {
    const study = studies.get(pathParams(request).id as string);
    const job = analysis.analyze(study, parseAnalyzeRequest(jsonBody(request)));
    reply.code(202);
    return { jobId: job.id, job };
  });

  app.get('/api/jobs', async () => ({ jobs: analysis.queue.list() }));

  app.get('/api/jobs/:jobId', async (request) => analysis.job(pathParams(request).jobId as string));

  app.get('/api/jobs/:jobId/events', async (request, reply) => {
    const job = analysis.job(pathParams(request).jobId as string);
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
    });
    const send = (view: JobView): void => {
      out.write(`event: job\ndata: ${JSON.stringify(view)}\n\n`);
    };
    send(job);
    if (ended(job)) {
      out.end();
      return;
    }
    const unsubscribe = analysis.queue.subscribe(job.id, (view) => {
      send(view);
      if (ended(view)) {
        unsubscribe();
        out.end();
      }
    });
    request.raw.on('close', unsubscribe);
  });
};
