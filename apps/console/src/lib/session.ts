import { abilitiesOf, KeySelfSchema, type Abilities, type KeyRoleName } from '@amend/contracts';
import { createClient, type Client } from './api';

export type Role = KeyRoleName;

export interface Session {
  key: string;
  role: Role;
  team: string;
  /** How audit events and reviews name the key (`key:<id>`). */
  actor: string;
  /** What the key's role may do (the API's own table, libs/contracts/src/access.ts): the console offers exactly that. */
  can: Abilities;
  client: Client;
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
