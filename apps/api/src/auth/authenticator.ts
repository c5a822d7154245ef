import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { Store, type StoredKey } from '@amend/store';
import { ApiError } from '../errors/api-error';
import { hashKey, looksLikeKey } from './api-key';
import { RateLimiter } from './rate-limiter';

const INVALID_TOKEN = { 'WWW-Authenticate': 'Bearer realm="amend", error="invalid_token"' };

/** A request that already showed a valid key (the pre-body check found it), so nobody looks it up twice. */
export type WithKey = Request & { authKey?: StoredKey };

/** The address failed attempts are counted against: Express's `req.ip` (honours `trust proxy`). */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket?.remoteAddress ?? 'unknown';
}

/**
 * Who a request is: the one place that turns an `Authorization: Bearer amd_...` header into a
 * stored, unrevoked key, used by the pre-body check, the route guard and the queue dashboard.
 *
 * Failed attempts (no key, a malformed, unknown or revoked one) are counted per client address
 * in Redis; past AMEND_AUTH_FAILURES_PER_MINUTE the address gets 429 for the rest of the minute,
 * even with a key that would be right, so keys cannot be guessed faster than that.
 */
@Injectable()
export class Authenticator {
  constructor(
    private readonly store: Store,
    private readonly limiter: RateLimiter,
  ) {}

  async authenticate(req: Request, token = bearerToken(req.headers.authorization)): Promise<StoredKey> {
    const known = (req as WithKey).authKey;
    if (known) return known;
    const address = clientAddress(req);
    const header = req.headers.authorization;
    // The lookup and the address's failure count go together: a blocked address waits for neither.
    const [key, blocked] = await Promise.all([
      token && looksLikeKey(token) ? this.store.keys.byHash(hashKey(token)) : Promise.resolve(undefined),
      this.limiter.authFailuresExceeded(address),
    ]);
    if (blocked) throw tooManyFailures(blocked);
    if (key && !key.revoked_at) {
      (req as WithKey).authKey = key;
      return key;
    }
    const exceeded = await this.limiter.recordAuthFailure(address);
    if (exceeded) throw tooManyFailures(exceeded);
    if (!header) {
      throw new ApiError('unauthenticated', 'this route needs an API key: send "Authorization: Bearer amd_..." (AMEND_API_KEY for the CLI)', undefined, {
        'WWW-Authenticate': 'Bearer realm="amend"',
      });
    }
    if (!token || !looksLikeKey(token)) {
      throw new ApiError('invalid_key', 'the Authorization header is not "Bearer amd_..." with an Amend API key', undefined, INVALID_TOKEN);
    }
    throw new ApiError('invalid_key', key ? 'this API key was revoked; ask an admin for a new one' : 'this API key is not known', undefined, INVALID_TOKEN);
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

function tooManyFailures(d: { retryAfterS: number; limit: number }): ApiError {
  return new ApiError(
    'too_many_auth_failures',
    `more than ${d.limit} failed authentications from this address in a minute; retry in ${d.retryAfterS} s with a valid key`,
    { limit_per_minute: d.limit, retry_after_s: d.retryAfterS },
    { 'Retry-After': String(d.retryAfterS) },
  );
}
