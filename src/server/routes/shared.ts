/** What every route plugin shares: its options (the services) and reading a request's JSON body and path parameters. */
import type { FastifyRequest } from 'fastify';
import { ServiceError } from '../errors.js';
import { HttpError } from '../http/errors.js';
import type { ServerServices } from '../services/index.js';

/** The options every route plugin is registered with. */
export interface RoutesOptions {
  services: ServerServices;
}

/** A request's path parameters. */
export function pathParams(request: FastifyRequest): Record<string, string> {
  return request.params as Record<string, string>;
}

/** A request's query parameters. */
export function queryParams(request: FastifyRequest): Record<string, unknown> {
  return request.query as Record<string, unknown>;
}

/** The JSON object a request carries (`{}` without a body); 415 for another content type, `BAD_REQUEST` for a non-object. */
export function jsonBody(request: FastifyRequest): Record<string, unknown> {
  const type = request.headers['content-type'];
  if (request.body !== undefined && type !== undefined && !/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  }
  const body = request.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new ServiceError('BAD_REQUEST', 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}
