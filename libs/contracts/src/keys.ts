import { z } from 'zod';

/** docs/architecture.md#roles-and-access: one role and one team per key. */
export const KEY_ROLE_NAMES = ['submitter', 'author', 'auditor', 'admin', 'reviewer'] as const;
export type KeyRoleName = (typeof KEY_ROLE_NAMES)[number];

const limit = (max: number) => z.number().int().min(1).max(max);

/** Per-key limits; an absent or null limit takes the server default (AMEND_KEY_*). */
export const KeyLimitsSchema = z.strictObject({
  requests_per_minute: limit(1_000_000).nullable().optional(),
  concurrent_runs: limit(100_000).nullable().optional(),
  prompts_per_run: limit(10_000_000).nullable().optional(),
});

export const CreateKeySchema = z.strictObject({
  role: z.enum(KEY_ROLE_NAMES),
  team: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a team name: lowercase letters, digits, ".", "_" or "-", up to 64'),
  name: z.string().min(1).max(200).optional(),
  limits: KeyLimitsSchema.optional(),
});
export type CreateKey = z.infer<typeof CreateKeySchema>;

export const KeySchema = z.object({
  id: z.string().uuid(),
  /** The first characters of the key, to recognise it; never enough to use it. */
  prefix: z.string(),
  role: z.enum(KEY_ROLE_NAMES),
  team: z.string(),
  name: z.string().nullable(),
  limits: z.object({
    requests_per_minute: z.number().int().nullable(),
    concurrent_runs: z.number().int().nullable(),
    prompts_per_run: z.number().int().nullable(),
  }),
  created_by: z.string(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
});
export type Key = z.infer<typeof KeySchema>;

/** The answer to creating a key: the only time the key itself is shown. */
export const CreatedKeySchema = KeySchema.extend({ key: z.string().startsWith('amd_') });
export type CreatedKey = z.infer<typeof CreatedKeySchema>;

export const KeyListSchema = z.object({ keys: z.array(KeySchema) });

/**
 * One entry of the key directory: who the actor `key:<id>` of an audit event is. What auditors
 * read at `GET /v1/keys` and what an audit bundle carries; never the key, its hash or its prefix.
 */
export const KeyDirectoryEntrySchema = z.object({
  id: z.string().uuid(),
  name: z.string().nullable(),
  role: z.enum(KEY_ROLE_NAMES),
  team: z.string(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
});
export type KeyDirectoryEntry = z.infer<typeof KeyDirectoryEntrySchema>;

export const KeyDirectorySchema = z.object({ keys: z.array(KeyDirectoryEntrySchema) });

/** `GET /v1/keys`: admins get the keys with their prefixes and limits, auditors the directory. */
export const KeysAnswerSchema = z.object({ keys: z.array(z.union([KeySchema, KeyDirectoryEntrySchema])) });

export const ListKeysQuerySchema = z.strictObject({
  team: z.string().optional(),
  role: z.enum(KEY_ROLE_NAMES).optional(),
  revoked: z.enum(['true', 'false']).optional(),
});
