/** Routes of a study's exports of its current findings (docs/api.md, "Exports"). */
import type { FastifyPluginAsync } from 'fastify';
import { OUTPUT_FILES } from '../../analyze/outputs.js';
import type { ExportName } from '../services/exports.js';
import { pathParams, queryParams, type RoutesOptions } from './shared.js';

/** The export files served, with their content type and whether they open in the browser. */
const EXPORTS: { url: string; name: ExportName; type: string; inline: boolean }[] = [
  { url: 'report.html', name: OUTPUT_FILES.report, type: 'text/html; charset=utf-8', inline: true },
  { url: 'overlay.png', name: OUTPUT_FILES.overlay, type: 'image/png', inline: true },
  { url: 'sr.dcm', name: OUTPUT_FILES.sr, type: 'application/dicom', inline: false },
  { url: 'seg.dcm', name: OUTPUT_FILES.seg, type: 'application/dicom', inline: false },
];

/** The HTML report is self-contained; it must not run scripts or fetch anything on this origin. */
export const REPORT_POLICY =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/** `GET /api/studies/:id/{findings.json, report.html, overlay.png, sr.dcm, seg.dcm}`. */
export const exportRoutes: FastifyPluginAsync<RoutesOptions> = async (app, { services }) => {
  const { studies, exports } = services;

  app.get('/api/studies/:id/findings.json', async (request, reply) => {
    const study = studies.get(pathParams(request).id as string);
    const text = exports.findingsJson(study);
    return reply
      .type('application/json; charset=utf-8')
      .header('Content-Disposition', `attachment; filename="${study.id}-findings.json"`)
      .send(text);
  });

  for (const spec of EXPORTS) {
    app.get(`/api/studies/:id/${spec.url}`, async (request, reply) => {
      const study = studies.get(pathParams(request).id as string);
      const data = await exports.file(study, spec.name);
      const download = queryParams(request).download !== undefined;
      reply
        .type(spec.type)
        .header(
          'Content-Disposition',
          `${spec.inline && !download ? 'inline' : 'attachment'}; filename="${study.id}-${spec.url}"`,
        );
      if (spec.name === OUTPUT_FILES.report) reply.header('Content-Security-Policy', REPORT_POLICY);
      return reply.send(Buffer.from(data));
    });
  }
};
