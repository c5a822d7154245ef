import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, ApiKeysTable } from './schema';
import { insertAuditEvents } from './audit-events';

export const KEY_ROLES = ['submitter', 'author', 'auditor', 'admin', 'reviewer'] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

export interface KeyLimits {
  requests_per_minute: number | null;
  concurrent_runs: number | null;
  prompts_per_run: number | null;
}

/** A key as stored: never the key itself, only its hash and first characters. */
export interface StoredKey extends KeyLimits {
  id: string;
  prefix: string;
  role: KeyRole;
  team: string;
  name: string | null;
  created_by: string;
  created_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
}

export interface NewKey extends Partial<KeyLimits> {
  hash: string;
  prefix: string;
  role: KeyRole;
  team: string;
  name?: string | null;
  created_by: string;
}

type Row = ApiKeysTable & { created_at: Date; revoked_at: Date | null };

function toKey(r: Row): StoredKey {
  return {
    id: r.id,
    prefix: r.prefix,
    role: r.role as KeyRole,
    team: r.team,
    name: r.name,
    requests_per_minute: r.requests_per_minute,
    concurrent_runs: r.concurrent_runs,
    prompts_per_run: r.prompts_per_run,
    created_by: r.created_by,
    created_at: r.created_at,
    revoked_at: r.revoked_at,
    revoked_by: r.revoked_by,
  };
}

/** What a key event says about a key: enough to audit it, nothing that would let anyone use it. */
function describe(k: StoredKey) {
  return {
    key_id: k.id,
    prefix: k.prefix,
    role: k.role,
    team: k.team,
    name: k.name,
    limits: { requests_per_minute: k.requests_per_minute, concurrent_runs: k.concurrent_runs, prompts_per_run: k.prompts_per_run },
  };
}

export class KeysRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a key and its `key.created` event in one transaction; undefined if the same key (hash) exists. */
  async create(input: NewKey): Promise<StoredKey | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('api_keys')
        .values({
          id: randomUUID(),
          hash: input.hash,
          prefix: input.prefix,
          role: input.role,
          team: input.team,
          name: input.name ?? null,
          requests_per_minute: input.requests_per_minute ?? null,
          concurrent_runs: input.concurrent_runs ?? null,
          prompts_per_run: input.prompts_per_run ?? null,
          created_by: input.created_by,
        })
        .onConflict((oc) => oc.column('hash').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!row) return undefined;
      const key = toKey(row as Row);
      await insertAuditEvents(tx, [{ run_id: null, sample_id: null, type: 'key.created', actor: input.created_by, payload: describe(key) }]);
      return key;
    });
  }

  /** The key with this hash, revoked or not: the caller decides what a revoked key gets. */
  async byHash(hash: string): Promise<StoredKey | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row ? toKey(row as Row) : undefined;
  }

  async get(id: string): Promise<StoredKey | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toKey(row as Row) : undefined;
  }

  async list(opts: { team?: string; role?: KeyRole; includeRevoked?: boolean } = {}): Promise<StoredKey[]> {
    let q = this.db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id');
    if (opts.team) q = q.where('team', '=', opts.team);
    if (opts.role) q = q.where('role', '=', opts.role);
    if (!opts.includeRevoked) q = q.where('revoked_at', 'is', null);
    return (await q.execute()).map((r) => toKey(r as Row));
  }

  /** Revokes a key with its `key.revoked` event; revoking twice changes nothing. Undefined if no such key. */
  async revoke(id: string, actor: string): Promise<{ key: StoredKey; changed: boolean } | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('api_keys').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!row) return undefined;
      if (row.revoked_at) return { key: toKey(row as Row), changed: false };
      const updated = await tx
        .updateTable('api_keys')
        .set({ revoked_at: new Date(), revoked_by: actor })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const key = toKey(updated as Row);
      await insertAuditEvents(tx, [{ run_id: null, sample_id: null, type: 'key.revoked', actor, payload: describe(key) }]);
      return { key, changed: true };
    });
  }
}
