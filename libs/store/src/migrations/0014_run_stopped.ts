import { Kysely, Migration } from 'kysely';

/**
 * Why a run stopped before its samples finished, other than a cancel (RunStop: too many hard or
 * unreadable judge labels under `max_hard_label_share`); null for every other run. A run with it
 * ends `failed`. Second migration of issue 12's number (0014_prompt_messages is the first).
 */
export const runStopped: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('runs').addColumn('stopped', 'jsonb').execute();
  },
};
