import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Store } from '@amend/store';

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** The token of `Authorization: Bearer <key>` (scripts) or the password of `Basic` (browsers, which then resend it for every asset). */
export function adminToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  if (bearer) return bearer;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)?.[1];
  if (!basic) return undefined;
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/**
 * Admins only: the operator's AMEND_ADMIN_KEY, or any API key with the admin role (once keys
 * are registered, AMEND_ADMIN_KEY is one of them). Without either configured the page is off.
 * The comparison hashes first, so it takes the same time whatever the key's length.
 */
export function requireAdmin(adminKey: string | undefined, store: Store) {
  const expected = adminKey ? sha256(adminKey) : undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    const refuse = (status: number, code: string, message: string) => {
      if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="amend-admin", charset="UTF-8"');
      res.status(status).json({ error: { code, message } });
    };
    const token = adminToken(req.headers.authorization);
    if (!token) return refuse(401, 'unauthenticated', 'the queue dashboard is for admins: send "Authorization: Bearer <admin key>" (a browser asks for it: any user name, the key as password)');
    const hash = sha256(token);
    if (expected && timingSafeEqual(Buffer.from(hash, 'hex'), Buffer.from(expected, 'hex'))) return next();
    store.keys.byHash(hash).then(
      (key) => {
        if (key && !key.revoked_at && key.role === 'admin') return next();
        refuse(key && !key.revoked_at ? 403 : 401, key && !key.revoked_at ? 'forbidden' : 'invalid_key', key && !key.revoked_at ? 'the queue dashboard needs an admin key' : 'this key is not an admin key');
      },
      () => refuse(503, 'unavailable', 'the database is unavailable; retry shortly'),
    );
  };
}
