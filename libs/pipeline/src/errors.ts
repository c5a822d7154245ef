export type PipelineErrorCode =
  /** The run's options cannot be planned (rounds out of range, no principles, unknown mode). */
  | 'invalid_run'
  /** Checkpointed stage records do not form the sequence this run and sample would produce. */
  | 'inconsistent_records'
  /** A pair was asked for before every stage was done. */
  | 'incomplete_records';

/**
 * A domain error with a code the worker can act on: an inconsistent checkpoint is not retryable
 * (a retry would read the same records), so the sample fails with this message as its reason.
 */
export class PipelineError extends Error {
  override readonly name = 'PipelineError';

  constructor(
    readonly code: PipelineErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Why a run's options cannot be planned; the API answers each with a 422 of this code. */
export type RunProblemCode =
  | 'invalid_mode'
  | 'invalid_rounds'
  | 'constitution_mismatch'
  | 'no_principles'
  | 'unknown_principles'
  | 'invalid_feedback_options'
  | 'no_comparison_principles'
  | 'ensemble_too_large'
  | 'invalid_evaluation_run';

/**
 * A reason the pipeline refuses a run, as a value: the API checks a submission with the same
 * function the worker plans with (`runProblem`) and maps it to a 422, so the rule lives once.
 */
export interface RunProblem {
  code: RunProblemCode;
  message: string;
  details?: Record<string, unknown>;
}
