import type { NextFunction, Request, Response } from 'express';
import type { Role } from '../auth/access.decorators';
import { bearerToken, type Authenticator } from '../auth/authenticator';
import { ApiError } from '../errors/api-error';
import { toErrorResponse } from '../errors/error-body.filter';
import { isOperatorAdmin } from '../keys/key-scope';

/** The token of `Authorization: Bearer <key>` (scripts) or the password of `Basic` (browsers, which then resend it for every asset). */
export function adminToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const bearer = bearerToken(header);
  if (bearer) return bearer;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)?.[1];
  if (!basic) return undefined;
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/**
 * Pages outside the v1 API (the queue dashboard, /metrics) take the same keys as the API: a
 * stored key that is not revoked (AMEND_ADMIN_KEY is one once registered, and a revoked one opens
 * nothing), with one of `roles`; failed attempts count against the client address like the API's.
 * `operatorOnly`: an admin scoped to one team is refused (the dashboard shows every team's jobs).
 * A browser is asked for the key as a Basic password.
 */
export function requireKey(authenticator: Authenticator, what: string, roles: Role[], opts: { operatorOnly?: boolean; basicPrompt?: boolean } = {}) {
  return (req: Request, res: Response, next: NextFunction) => {
    const refuse = (err: unknown) => {
      const { status, body } = toErrorResponse(err);
      if (err instanceof ApiError && err.headers) res.set(err.headers);
      if (status === 401 && opts.basicPrompt) res.setHeader('WWW-Authenticate', 'Basic realm="amend-admin", charset="UTF-8"');
      res.status(status).json(body);
    };
    const token = adminToken(req.headers.authorization);
    authenticator.authenticate(req, token).then((key) => {
      if (!roles.includes(key.role) || (opts.operatorOnly && !isOperatorAdmin(key))) {
        const needs = opts.operatorOnly ? 'an operator admin key (team "admin")' : `a key with the role ${roles.join(' or ')}`;
        return refuse(new ApiError('forbidden', `${what} needs ${needs}`, { role: key.role, team: key.team }));
      }
      next();
    }, refuse);
  };
}
