/** The bearer-token check on `/api` (docs/api.md, "Authentication"). */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * An `onRequest` hook refusing `/api` requests without `token` (in `Authorization: Bearer`, or for a
 * `GET`/`HEAD` in `?access_token=`) with 401 `UNAUTHORIZED`.
 */
export function bearerTokenCheck(token: string): (request: FastifyRequest) => Promise<void> {
  const expected = tokenDigest(token);
  return async (request) => {
    if (!request.url.startsWith('/api')) return;
    const header = request.headers.authorization;
    let given: string | undefined;
    if (typeof header === 'string' && /^Bearer\s+/i.test(header)) given = header.replace(/^Bearer\s+/i, '').trim();
    else if (request.method === 'GET' || request.method === 'HEAD') {
      const query = request.query as Record<string, unknown> | undefined;
      if (typeof query?.access_token === 'string') given = query.access_token;
    }
    if (given === undefined || given === '') {
      throw new HttpError(401, 'UNAUTHORIZED', 'this server needs a token: send "Authorization: Bearer <token>"', {
        'WWW-Authenticate': 'Bearer',
      });
    }
    if (!timingSafeEqual(tokenDigest(given), expected)) {
      throw new HttpError(401, 'UNAUTHORIZED', 'the token is not valid', {
        'WWW-Authenticate': 'Bearer error="invalid_token"',
      });
    }
  };
}
