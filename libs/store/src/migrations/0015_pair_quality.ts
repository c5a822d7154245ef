import { Kysely, Migration } from 'kysely';

/**
 * `pairs.quality`: what the quality report needs of a pair (PairQuality: lengths, refusal
 * verdicts, the judgement's p_chosen and comparisons, the principles used), written by the worker
 * with the pair, so the report reads a few small fields per pair instead of the texts. Null for
 * pairs stored before this migration (the report computes theirs from the record, in linear time;
 * their no-op verdict is the stored `noop` flag either way). Pairs stay append-only: the column
 * is set when the row is inserted and never after.
 *
 * Finished runs' reports are cached in `run_reports` (migration 0011), keyed by the report version.
 */
export const pairQuality: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('pairs').addColumn('quality', 'jsonb').execute();
  },
};
