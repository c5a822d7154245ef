/** Injection token of the validated configuration. */
export const CONFIG = Symbol('amend.config');
/** The one BullMQ queue: one job per sample, job id = sample id. */
export const SAMPLES_QUEUE = 'samples';
