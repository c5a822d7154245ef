import { sql } from 'kysely';
import { ACTIVE_RUN_STATUSES, UNFINISHED_SAMPLE_STATUSES } from '@amend/contracts';

// The status sets of libs/contracts for hand-written SQL, inlined as literals rather than bound as
// parameters so that the planner can match the partial indexes built on them (0001, 0005).
export const UNFINISHED_SAMPLE = sql.join(UNFINISHED_SAMPLE_STATUSES.map((s) => sql.lit(s)));
export const ACTIVE_RUN = sql.join(ACTIVE_RUN_STATUSES.map((s) => sql.lit(s)));
