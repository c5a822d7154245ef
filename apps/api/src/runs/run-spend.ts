import type { Budget } from '@amend/contracts';
import type { ModelRegistry } from '@amend/llm';
import type { RunPrices } from '@amend/store';
import { ApiError } from '../errors/api-error';

/**
 * The prices of the run's aliases, frozen on the run when it is created: a price change in
 * AMEND_MODELS later does not reprice a run under way. Null when no alias has prices.
 */
export function runPrices(models: ModelRegistry, aliases: (string | null | undefined)[], opts: { batch?: boolean } = {}): RunPrices | null {
  const prices: RunPrices = {};
  for (const alias of aliases) {
    // A batch run is charged at the alias's batch prices (half the online ones unless configured).
    const p = alias ? (opts.batch ? models.batchPrices(alias) : models.prices(alias)) : undefined;
    if (alias && p) prices[alias] = p;
  }
  return Object.keys(prices).length ? prices : null;
}

/** A cost budget needs a price for every alias the run calls, or it could never be reached. */
export function checkBudget(budget: Budget | undefined, prices: RunPrices | null, aliases: (string | null | undefined)[]): void {
  if (budget?.cost_usd === undefined) return;
  const unpriced = aliases.filter((a): a is string => !!a && !prices?.[a]);
  if (unpriced.length) {
    throw new ApiError(
      'budget_without_prices',
      `budget.cost_usd needs prices for model alias ${unpriced.map((a) => `"${a}"`).join(', ')}: set price_per_1k_prompt and ` +
        'price_per_1k_completion for it in AMEND_MODELS, or give a token budget (budget.tokens) instead',
      { unpriced },
    );
  }
}
