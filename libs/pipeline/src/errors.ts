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
