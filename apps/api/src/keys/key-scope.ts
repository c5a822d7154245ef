import type { StoredKey } from '@amend/store';

/**
 * The operator's team: admins of it manage keys of every team and open the queue dashboard; the
 * AMEND_ADMIN_KEY bootstrap key belongs to it. An admin of any other team is scoped to that team.
 * Authors of it own the bundled constitutions (those registered from CONSTITUTIONS_DIR).
 */
export const OPERATOR_TEAM = 'admin';

export function isOperatorAdmin(key: Pick<StoredKey, 'role' | 'team'>): boolean {
  return key.role === 'admin' && key.team === OPERATOR_TEAM;
}

/** Operator admins and the operator team's auditors see every team's keys; anyone else its own team's. */
export function readsEveryTeamsKeys(key: Pick<StoredKey, 'role' | 'team'>): boolean {
  return (key.role === 'admin' || key.role === 'auditor') && key.team === OPERATOR_TEAM;
}
