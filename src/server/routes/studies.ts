/** Routes of the studies: list, upload, one study, delete (docs/api.md, "Studies"). */
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { HttpError } from '../http/errors.js';
import type { UploadPart } from '../services/studies.js';
import { pathParams, type RoutesOptions } from './shared.js';

/** A multipart request's parts as the upload service reads them. */
async function* uploadParts(request: FastifyRequest): AsyncIterable<UploadPart> {
  for await (const item of request.parts() as AsyncIterable<MultipartFile | MultipartValue>) {
    if (item.type === 'field') yield { kind: 'field', name: item.fieldname, value: String(item.value) };
    else yield { kind: 'file', name: item.filename, stream: item.file, truncated: () => item.file.truncated };
  }
}

/** `GET/POST /api/studies`, `GET/DELETE /api/studies/:id`. */
export const studyRoutes: FastifyPluginAsync<RoutesOptions> = async (app, { services }) => {
  const { studies } = services;

  app.get('/api/studies', async () => ({ studies: studies.list().map((s) => studies.view(s)) }));

  app.post('/api/studies', async (request, reply) => {
    if (!request.isMultipart()) {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'upload the files as multipart/form-data (one part per file)');
    }
    studies.checkDeclaredUpload(Number(request.headers['content-length']));
    // A connection that closes before the body is complete (the client went away, or the HTTP
    // parser gave up on a malformed body) ends the upload at once; nothing of it is kept.
    const controller = new AbortController();
    const onClose = (): void => {
      if (!request.raw.complete) {
        controller.abort(
          new HttpError(
            400,
            'UPLOAD_ABORTED',
            'the connection closed before the upload was complete; nothing was kept',
          ),
        );
      }
    };
    request.raw.once('close', onClose);
    let created: Awaited<ReturnType<typeof studies.upload>>;
    try {
      created = await studies.upload(uploadParts(request), controller.signal);
    } finally {
      request.raw.off('close', onClose);
    }
    reply.code(201);
    return created;
  });

  app.get('/api/studies/:id', async (request) => studies.view(studies.get(pathParams(request).id as string)));

  app.delete('/api/studies/:id', async (request, reply) => {
    await studies.remove(pathParams(request).id as string);
    reply.code(204);
    return reply.send();
  });
};
