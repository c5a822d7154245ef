import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Config, CreateKey, CreatedKey, Key, KeyDirectoryEntry } from '@amend/contracts';
import { Store, type StoredKey } from '@amend/store';
import { CONFIG } from '@amend/runtime';
import { ApiError, notFound } from '../errors/api-error';
import { displayPrefix, generateKey, hashKey, strongEnough } from '../auth/api-key';
import type { Principal } from '../auth/principal';
import { OPERATOR_TEAM, isOperatorAdmin, readsEveryTeamsKeys } from './key-scope';

/** Team of the first admin key: the operator's, whose admins manage the keys of every team. */
export const BOOTSTRAP_TEAM = OPERATOR_TEAM;

export function toKeyView(k: StoredKey): Key {
  return {
    id: k.id,
    prefix: k.prefix,
    role: k.role,
    team: k.team,
    name: k.name,
    limits: { requests_per_minute: k.requests_per_minute, concurrent_runs: k.concurrent_runs, prompts_per_run: k.prompts_per_run },
    created_by: k.created_by,
    created_at: k.created_at.toISOString(),
    revoked_at: k.revoked_at?.toISOString() ?? null,
  };
}

/** Who a key is, for the directory: nothing that would let anyone use it (no hash, no prefix). */
export function toDirectoryEntry(k: Pick<StoredKey, 'id' | 'name' | 'role' | 'team' | 'created_at' | 'revoked_at'>): KeyDirectoryEntry {
  return { id: k.id, name: k.name, role: k.role, team: k.team, created_at: k.created_at.toISOString(), revoked_at: k.revoked_at?.toISOString() ?? null };
}

/**
 * API keys: created at random and shown once, stored as sha256, revoked (never deleted). The first
 * admin key is the one in AMEND_ADMIN_KEY, registered at boot if no key has that hash (a revoked
 * one stays revoked: to recover, set a new value).
 */
@Injectable()
export class KeysService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Keys');

  constructor(
    private readonly store: Store,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async onApplicationBootstrap() {
    const key = this.config.AMEND_ADMIN_KEY;
    if (!key) {
      if ((await this.store.keys.list({ role: 'admin' })).length === 0) {
        this.logger.warn(
          "no admin key: set AMEND_ADMIN_KEY to an amd_... key to register one (node -e \"console.log('amd_'+require('crypto').randomBytes(32).toString('base64url'))\")",
        );
      }
      return;
    }
    if (!strongEnough(key)) {
      throw new Error(
        'AMEND_ADMIN_KEY must be "amd_" followed by at least 32 random bytes in base64url (43 characters, not a pattern): ' +
          `node -e "console.log('amd_'+require('crypto').randomBytes(32).toString('base64url'))"`,
      );
    }
    const created = await this.store.keys.create({
      hash: hashKey(key),
      prefix: displayPrefix(key),
      role: 'admin',
      team: BOOTSTRAP_TEAM,
      name: 'AMEND_ADMIN_KEY',
      created_by: 'system:boot',
    });
    if (created) this.logger.log(`registered the admin key from AMEND_ADMIN_KEY (${created.prefix}..., id ${created.id})`);
  }

  /**
   * An operator admin (team "admin") creates keys of any team and role. An admin of another team
   * is scoped to it: keys of its own team only, and no auditors (who read every team's data).
   */
  async create(body: CreateKey, caller: Pick<Principal, 'role' | 'team' | 'actor'>): Promise<CreatedKey> {
    const actor = caller.actor;
    if (!isOperatorAdmin(caller)) {
      if (body.team !== caller.team) {
        throw new ApiError(
          'forbidden',
          `an admin of team "${caller.team}" creates keys of its own team only; ask an operator admin (team "${OPERATOR_TEAM}") for a key of "${body.team}"`,
          {
            team: caller.team,
          },
        );
      }
      if (body.role === 'auditor') {
        throw new ApiError('forbidden', `auditors read every team's data: only an operator admin (team "${OPERATOR_TEAM}") creates them`, {
          team: caller.team,
        });
      }
    }
    const { key, hash, prefix } = generateKey();
    const stored = await this.store.keys.create({
      hash,
      prefix,
      role: body.role,
      team: body.team,
      name: body.name ?? null,
      requests_per_minute: body.limits?.requests_per_minute ?? null,
      concurrent_runs: body.limits?.concurrent_runs ?? null,
      prompts_per_run: body.limits?.prompts_per_run ?? null,
      created_by: actor,
    });
    // 256 random bits do not collide; if they ever did, the caller asks again.
    if (!stored) throw new ApiError('unavailable', 'could not create a key; retry');
    return { ...toKeyView(stored), key };
  }

  /** A team-scoped admin lists its own team's keys whatever `team` it asks for. */
  async list(q: { team?: string; role?: Key['role']; revoked?: 'true' | 'false' }, caller: Pick<Principal, 'role' | 'team'>): Promise<Key[]> {
    const team = isOperatorAdmin(caller) ? q.team : caller.team;
    if (q.team !== undefined && q.team !== team) return [];
    return (await this.store.keys.list({ team, role: q.role, includeRevoked: q.revoked === 'true' })).map(toKeyView);
  }

  /**
   * The key directory auditors read, to put a name, role and team to an event's `key:<id>`: their
   * own team's keys, or every team's for the operator team's auditors (who audit every team).
   */
  async directory(
    q: { team?: string; role?: Key['role']; revoked?: 'true' | 'false' },
    caller: Pick<Principal, 'role' | 'team'>,
  ): Promise<KeyDirectoryEntry[]> {
    const team = readsEveryTeamsKeys(caller) ? q.team : caller.team;
    if (q.team !== undefined && q.team !== team) return [];
    return (await this.store.keys.list({ team, role: q.role, includeRevoked: q.revoked === 'true' })).map(toDirectoryEntry);
  }

  async get(id: string): Promise<Key> {
    const key = await this.store.keys.get(id);
    if (!key) throw notFound('key', id);
    return toKeyView(key);
  }

  /** Another team's key is a 404 to a team-scoped admin, as if it did not exist. */
  async revoke(id: string, caller: Pick<Principal, 'role' | 'team' | 'actor'>): Promise<Key> {
    if (!isOperatorAdmin(caller)) {
      const key = await this.store.keys.get(id);
      if (!key || key.team !== caller.team) throw notFound('key', id);
    }
    const result = await this.store.keys.revoke(id, caller.actor);
    if (!result) throw notFound('key', id);
    return toKeyView(result.key);
  }
}
