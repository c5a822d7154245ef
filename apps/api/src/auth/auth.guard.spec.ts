import { Reflector } from '@nestjs/core';
import type { ExecutionContext } from '@nestjs/common';
import { loadConfig } from '@amend/contracts';
import type { Store, StoredKey } from '@amend/store';
import { ApiError } from '../errors/api-error';
import { Allow, Public } from './access.decorators';
import { generateKey } from './api-key';
import { AuthGuard } from './auth.guard';
import { Authenticator } from './authenticator';
import type { RateLimiter } from './rate-limiter';

class Routes {
  unruled() {}
  @Public() open() {}
  @Allow('audit') auditOnly() {}
}

const issued = generateKey();
const stored: StoredKey = {
  id: '4b0a3f5e-5a63-4c8e-9b1d-0c4a8d1e2f3a',
  prefix: issued.prefix,
  role: 'submitter',
  team: 'alpha',
  name: null,
  requests_per_minute: null,
  concurrent_runs: null,
  prompts_per_run: null,
  created_by: 'test',
  created_at: new Date(),
  revoked_at: null,
  revoked_by: null,
};
const store = { keys: { byHash: async (hash: string) => (hash === issued.hash ? stored : undefined) } } as unknown as Store;
const limiter = {
  take: async () => ({ allowed: true }),
  authFailuresExceeded: async () => null,
  recordAuthFailure: async () => null,
} as unknown as RateLimiter;

function context(handler: keyof Routes, authorization?: string): { ctx: ExecutionContext; req: any } {
  const req: any = { method: 'GET', path: '/x', ip: '127.0.0.1', headers: authorization ? { authorization } : {} };
  const ctx = {
    getType: () => 'http',
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({}) }),
  } as unknown as ExecutionContext;
  return { ctx, req };
}

async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return { status: e.status, code: e.code };
    throw e;
  }
  throw new Error('the guard let the request through');
}

describe('the access guard', () => {
  const guard = new AuthGuard(new Reflector(), new Authenticator(store, limiter), limiter, loadConfig({}));

  it('refuses a route that has no access rule, even with a valid key', async () => {
    expect(await refusal(guard.canActivate(context('unruled', `Bearer ${issued.key}`).ctx))).toEqual({ status: 403, code: 'no_access_rule' });
  });

  it('lets anyone through a public route', async () => {
    expect(await guard.canActivate(context('open').ctx)).toBe(true);
  });

  it('answers 401 without a key or with an unknown one, 403 to a role the rule does not list', async () => {
    expect(await refusal(guard.canActivate(context('auditOnly').ctx))).toEqual({ status: 401, code: 'unauthenticated' });
    expect(await refusal(guard.canActivate(context('auditOnly', `Bearer ${generateKey().key}`).ctx))).toEqual({ status: 401, code: 'invalid_key' });
    expect(await refusal(guard.canActivate(context('auditOnly', `Bearer ${issued.key}`).ctx))).toEqual({ status: 403, code: 'forbidden' });
  });

  it('names the caller by key id, never by the key', async () => {
    class Own {
      @Allow('submitRuns') run() {}
    }
    const { ctx, req } = context('auditOnly', `Bearer ${issued.key}`);
    (ctx as any).getHandler = () => Own.prototype.run;
    (ctx as any).getClass = () => Own;
    expect(await guard.canActivate(ctx)).toBe(true);
    expect(req.principal).toMatchObject({ key_id: stored.id, role: 'submitter', team: 'alpha', actor: `key:${stored.id}` });
    expect(JSON.stringify(req.principal)).not.toContain(issued.key);
  });
});
