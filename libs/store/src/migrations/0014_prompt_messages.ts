import { Kysely, Migration } from 'kysely';

/**
 * Multi-turn prompts: the whole conversation of a sample whose prompt is `{messages: [...]}`
 * (an optional system message, user and assistant turns, ending with the user turn the draft
 * answers). `prompt` keeps that last user turn, so everything that reads one prompt string
 * (refusal rules, the report, the console's lists) works unchanged; null for a single-string prompt.
 */
export const promptMessages: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('samples').addColumn('messages', 'jsonb').execute();
  },
};
