import { sql } from 'kysely';
import { ACTIVE_RUN_STATUSES, UNFINISHED_SAMPLE_STATUSES, type RunStatus, type SampleStatus } from '@amend/contracts';

// The status sets of libs/contracts for hand-written SQL, inlined as literals rather than bound as
// parameters so that the planner can match the partial indexes built on them (0001, 0005).
export const UNFINISHED_SAMPLE = sql.join(UNFINISHED_SAMPLE_STATUSES.map((s) => sql.lit(s)));
export const ACTIVE_RUN = sql.join(ACTIVE_RUN_STATUSES.map((s) => sql.lit(s)));

/**
 * The same for statements kept as plain text (prepared by name on the pool, e.g. the claim):
 * a status, or a set of them, as a quoted SQL literal, spliced once when the module loads.
 * Status names are identifiers from the contracts (no quotes in them), so quoting is enough.
 */
export const statusLiteral = (status: RunStatus | SampleStatus): string => `'${status}'`;
export const statusList = (statuses: readonly (RunStatus | SampleStatus)[]): string => statuses.map(statusLiteral).join(', ');
