import { LIMITS, intEnv } from '@amend/contracts';
import type { StoredKey } from '@amend/store';
import type { Principal } from './principal';

/**
 * Server defaults of the per-key limits, read at call time like the request limits so the operator
 * (and each test) can set them; a key's own limits override them.
 */
export const KEY_LIMIT_DEFAULTS = {
  requestsPerMinute: () => intEnv('AMEND_KEY_REQUESTS_PER_MINUTE', 600),
  concurrentRuns: () => intEnv('AMEND_KEY_CONCURRENT_RUNS', 10),
  /** Never above the server's own limit of prompts per run. */
  promptsPerRun: () => Math.min(intEnv('AMEND_KEY_PROMPTS_PER_RUN', LIMITS.promptsPerRun()), LIMITS.promptsPerRun()),
};

export function effectiveLimits(key: Pick<StoredKey, 'requests_per_minute' | 'concurrent_runs' | 'prompts_per_run'>): Principal['limits'] {
  return {
    requests_per_minute: key.requests_per_minute ?? KEY_LIMIT_DEFAULTS.requestsPerMinute(),
    concurrent_runs: key.concurrent_runs ?? KEY_LIMIT_DEFAULTS.concurrentRuns(),
    prompts_per_run: Math.min(key.prompts_per_run ?? KEY_LIMIT_DEFAULTS.promptsPerRun(), LIMITS.promptsPerRun()),
  };
}
