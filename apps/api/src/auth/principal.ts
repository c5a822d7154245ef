import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { Role } from './access.decorators';

/** The key a request came with, once the guard has checked it. */
export interface Principal {
  key_id: string;
  role: Role;
  team: string;
  /** How events and rows name the caller: `key:<id>`, never the key. */
  actor: string;
  /** The key's name as an admin gave it (null: none). */
  name?: string | null;
  limits: { requests_per_minute: number; concurrent_runs: number; prompts_per_run: number };
}

export type WithPrincipal = Request & { principal?: Principal };

/** The caller of a route that requires a key. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<WithPrincipal>().principal;
  // The guard runs before any handler; a handler reading a caller on a public route is a bug.
  if (!principal) throw new Error('no caller on this request: the route is public or the guard did not run');
  return principal;
});

/**
 * The team whose runs a caller may see: its own, or every team for auditors (who read
 * everything and change nothing). Undefined means no team filter.
 */
export function teamScope(p: Principal): string | undefined {
  return p.role === 'auditor' ? undefined : p.team;
}
