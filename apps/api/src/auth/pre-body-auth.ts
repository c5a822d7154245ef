import type { NextFunction, Request, Response } from 'express';
import { toErrorResponse } from '../errors/error-body.filter';
import { ApiError } from '../errors/api-error';
import type { Authenticator } from './authenticator';

/** Methods whose requests carry no body worth guarding: the route guard checks them as usual. */
const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Checks the key of every /v1 request that may carry a body before a byte of the body is read:
 * a 100 MB upload without a valid key is answered 401 at once and the connection closed, instead
 * of being read, buffered and parsed first. The key found is kept on the request, so the route
 * guard (role, rate) does not look it up again.
 */
export function preBodyAuth(authenticator: Authenticator) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (BODYLESS.has(req.method) || !req.path.startsWith('/v1/')) return next();
    authenticator.authenticate(req).then(
      () => next(),
      (err: unknown) => {
        const { status, body } = toErrorResponse(err);
        if (err instanceof ApiError && err.headers) res.set(err.headers);
        // The body was never read; closing the connection stops the client sending the rest.
        res.setHeader('Connection', 'close');
        res.status(status).json(body);
      },
    );
  };
}
