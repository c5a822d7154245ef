/** Injection token of the validated configuration. */
export const CONFIG = Symbol('amend.config');
/** The one BullMQ queue: one job per sample, job id = sample id. */
export const SAMPLES_QUEUE = 'samples';
/** Principle-suggestion jobs: one job per suggestion set, job id = set id. */
export const SUGGESTIONS_QUEUE = 'suggestions';
