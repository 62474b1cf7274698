/** Routes comparing two of the server's studies (docs/api.md, "Comparing two studies"). */
import type { FastifyPluginAsync } from 'fastify';
import { REPORT_POLICY } from './exports.js';
import { pathParams, type RoutesOptions } from './shared.js';

/** `GET /api/studies/:id/compare/:otherId` (JSON; `.json` optional) and `…/:otherId.html` (the page). */
export const compareRoutes: FastifyPluginAsync<RoutesOptions> = async (app, { services }) => {
  const { studies, compare } = services;

  app.get('/api/studies/:id/compare/:other', async (request, reply) => {
    const { id, other } = pathParams(request) as { id: string; other: string };
    const page = other.endsWith('.html');
    const otherId = other.replace(/\.(html|json)$/, '');
    const baseline = studies.get(id);
    const followUp = studies.get(otherId);
    if (!page) return compare.comparison(baseline, followUp);
    const html = await compare.page(baseline, followUp);
    return reply
      .type('text/html; charset=utf-8')
      .header('Content-Disposition', `inline; filename="${baseline.id}-${followUp.id}-comparison.html"`)
      .header('Content-Security-Policy', REPORT_POLICY)
      .send(html);
  });
};
