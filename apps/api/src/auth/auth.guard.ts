import { CanActivate, ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import type { Config } from '@amend/contracts';
import { CONFIG } from '@amend/runtime';
import { Reflector } from '@nestjs/core';
import { ApiError } from '../errors/api-error';
import { ACCESS_RULE, type AccessRule } from './access.decorators';
import { Authenticator } from './authenticator';
import { effectiveLimits } from './key-limits';
import { RateLimiter } from './rate-limiter';
import type { WithPrincipal } from './principal';

/**
 * The one gate of every route: no rule -> refused (a route must say who may call it); public ->
 * through; otherwise a valid key (401), a role the rule lists (403) and a request within the key's
 * rate (429). Teams are checked where the data is read: another team's run is a 404.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('AuthGuard');

  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
    private readonly limiter: RateLimiter,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const req = ctx.switchToHttp().getRequest<WithPrincipal>();
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [ctx.getHandler(), ctx.getClass()]);
    if (!rule) {
      this.logger.error(`${req.method} ${req.route?.path ?? req.path} has no access rule (@Allow or @Public); refused`);
      throw new ApiError('no_access_rule', 'this route has no access rule yet, so nobody may call it');
    }
    if (rule.public) return true;

    const key = await this.authenticator.authenticate(req);
    const limits = effectiveLimits(key, this.config);
    const rate = await this.limiter.take(key.id, limits.requests_per_minute);
    if (!rate.allowed) {
      throw new ApiError(
        'rate_limited',
        `this key may make ${rate.limit} requests a minute; retry in ${rate.retryAfterS} s`,
        { limit_per_minute: rate.limit, retry_after_s: rate.retryAfterS },
        { 'Retry-After': String(rate.retryAfterS) },
      );
    }
    if (!rule.roles.includes(key.role)) {
      throw new ApiError('forbidden', `${withArticle(key.role)} key may not call this route; it needs a key with the role ${rule.roles.join(' or ')}`, {
        role: key.role,
        allowed_roles: rule.roles,
      });
    }
    req.principal = { key_id: key.id, role: key.role, team: key.team, actor: `key:${key.id}`, name: key.name, limits };
    return true;
  }
}

/** "an author", "an auditor", "an admin", "a submitter": the roles start with a vowel sound exactly when they start with a vowel. */
export function withArticle(role: string): string {
  return `${/^[aeiou]/i.test(role) ? 'an' : 'a'} ${role}`;
}
