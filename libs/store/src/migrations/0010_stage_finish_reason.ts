import { Kysely, Migration } from 'kysely';

/**
 * Why the backend stopped each stage (`stop`, `length`, ...). A revision cut off at max_tokens
 * must not become `chosen` unnoticed: pairs with a `length` stage are flagged `truncated`.
 * Null for stages saved before this migration (the backend's answer is still in the audit trail).
 */
export const stageFinishReason: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('stage_records').addColumn('finish_reason', 'text').execute();
  },
};
