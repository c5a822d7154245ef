import type { Config } from '@amend/contracts';
import type { StoredKey } from '@amend/store';
import type { Principal } from './principal';

export type KeyLimitSettings = Pick<Config, 'AMEND_KEY_REQUESTS_PER_MINUTE' | 'AMEND_KEY_CONCURRENT_RUNS' | 'AMEND_KEY_PROMPTS_PER_RUN' | 'AMEND_MAX_PROMPTS'>;

/**
 * A key's limits: its own where set, else the server defaults (AMEND_KEY_*), and prompts per run
 * never above the server's own limit (AMEND_MAX_PROMPTS).
 */
export function effectiveLimits(
  key: Pick<StoredKey, 'requests_per_minute' | 'concurrent_runs' | 'prompts_per_run'>,
  config: KeyLimitSettings,
): Principal['limits'] {
  const maxPrompts = config.AMEND_MAX_PROMPTS;
  return {
    requests_per_minute: key.requests_per_minute ?? config.AMEND_KEY_REQUESTS_PER_MINUTE,
    concurrent_runs: key.concurrent_runs ?? config.AMEND_KEY_CONCURRENT_RUNS,
    prompts_per_run: Math.min(key.prompts_per_run ?? config.AMEND_KEY_PROMPTS_PER_RUN ?? maxPrompts, maxPrompts),
  };
}
