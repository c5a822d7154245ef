import { SetMetadata } from '@nestjs/common';
import { ABILITIES, KEY_ROLE_NAMES, type Ability, type KeyRoleName } from '@amend/contracts';

export type Role = KeyRoleName;
export const ROLES: readonly Role[] = KEY_ROLE_NAMES;

/** Metadata key of a route's access rule. Every route has one; the guard refuses a route without. */
export const ACCESS_RULE = 'amend:access';

export type AccessRule = { public: true } | { public: false; ability: Ability; roles: readonly Role[] };

/**
 * Who may call a route (docs/architecture.md#roles-and-access): the roles of the ability named, with
 * a key. The abilities table (libs/contracts/src/access.ts) is shared with the console, which offers
 * a key what its role may do; these decorators on each handler are the route table, and the
 * role-matrix test walks it.
 */
export const Allow = (ability: Ability) => SetMetadata(ACCESS_RULE, { public: false, ability, roles: ABILITIES[ability] } satisfies AccessRule);

/** Anyone, with or without a key: liveness, readiness, the API documents. */
export const Public = () => SetMetadata(ACCESS_RULE, { public: true } satisfies AccessRule);
