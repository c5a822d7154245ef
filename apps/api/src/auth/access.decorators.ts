import { SetMetadata } from '@nestjs/common';
import type { KeyRoleName } from '@amend/contracts';

export type Role = KeyRoleName;
export const ROLES: readonly Role[] = ['submitter', 'author', 'auditor', 'admin'];

/** Metadata key of a route's access rule. Every route has one; the guard refuses a route without. */
export const ACCESS_RULE = 'amend:access';

export type AccessRule = { public: true } | { public: false; roles: Role[] };

/**
 * Who may call a route (docs/architecture.md#roles-and-access): the roles listed, with a key. This decorator on
 * each handler is the route table; the role-matrix test is generated from it.
 */
export const Allow = (...roles: [Role, ...Role[]]) => SetMetadata(ACCESS_RULE, { public: false, roles } satisfies AccessRule);

/** Anyone, with or without a key: liveness, readiness, the API documents. */
export const Public = () => SetMetadata(ACCESS_RULE, { public: true } satisfies AccessRule);
