import { KeySelfSchema, type KeyRoleName } from '@amend/contracts';
import { createClient, type Client } from './api';

export type Role = KeyRoleName;

/** What the signed-in key may do; the console offers exactly that. */
export interface Abilities {
  readRuns: boolean;
  submitRuns: boolean;
  reviewPairs: boolean;
  readConstitutions: boolean;
  publish: boolean;
  preview: boolean;
  audit: boolean;
  manageKeys: boolean;
  /** Read constitution A/B evaluations (authors of the team, auditors and admins of every team). */
  readEvaluations: boolean;
  /** Start one. */
  evaluate: boolean;
}

export interface Session {
  key: string;
  role: Role;
  team: string;
  /** How audit events and reviews name the key (`key:<id>`). */
  actor: string;
  can: Abilities;
  client: Client;
}

/** The API's access rules (docs/architecture.md#roles-and-access), as the routes' @Allow decorators state them. */
export function abilitiesOf(role: Role): Abilities {
  return {
    readRuns: role === 'submitter' || role === 'auditor',
    submitRuns: role === 'submitter',
    // Reviewing changes a team's dataset: its submitters do it; auditors read and change nothing.
    reviewPairs: role === 'submitter',
    readConstitutions: role !== 'admin',
    publish: role === 'author',
    preview: role === 'author',
    audit: role === 'auditor',
    manageKeys: role === 'admin',
    readEvaluations: role === 'author' || role === 'auditor' || role === 'admin',
    evaluate: role === 'author' || role === 'admin',
  };
}

const STORAGE = 'amend.console.key';

export function storedKey(): string | null {
  return sessionStorage.getItem(STORAGE);
}

export function forgetKey(): void {
  sessionStorage.removeItem(STORAGE);
}

/** Signs in with a key: the server says its role and team (`GET /v1/keys/me`), the console follows. */
export async function signIn(key: string, onUnauthorized?: () => void): Promise<Session> {
  const client = createClient(key, { onUnauthorized });
  const me = await client.get(KeySelfSchema, '/v1/keys/me');
  sessionStorage.setItem(STORAGE, key);
  return { key, role: me.role, team: me.team, actor: me.actor, can: abilitiesOf(me.role), client };
}
