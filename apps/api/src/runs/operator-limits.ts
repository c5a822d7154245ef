import type { Budget, Config, CreateRun, FeedbackOptions } from '@amend/contracts';
import { ApiError } from '../errors/api-error';

/**
 * What the operator lets one run spend (docs/architecture.md#roles-and-access: default and maximum
 * budgets per run, spend quotas per team), from the configuration validated at boot. Unset budget
 * settings mean no default and no maximum; the calls-per-prompt and max_tokens caps are always on.
 */
export type OperatorLimits = Pick<
  Config,
  | 'AMEND_MAX_CALLS_PER_PROMPT'
  | 'AMEND_MAX_COMPLETION_TOKENS'
  | 'AMEND_RUN_BUDGET_TOKENS'
  | 'AMEND_RUN_BUDGET_COST_USD'
  | 'AMEND_RUN_MAX_BUDGET_TOKENS'
  | 'AMEND_RUN_MAX_BUDGET_COST_USD'
  | 'AMEND_TEAM_DAILY_TOKENS'
>;

/** Model calls one prompt costs with these options (docs/ml-teams.md#calls-per-pair). */
export function callsPerPrompt(body: Pick<CreateRun, 'mode' | 'rounds'>, feedback: FeedbackOptions | null): number {
  // A panel asks every comparison of each of its judges.
  const judges = feedback?.panel?.length ?? 1;
  if (body.mode === 'ai-feedback') {
    const n = feedback?.candidates ?? 2;
    return n + n * (n - 1) * (feedback?.ensemble ?? 1) * judges;
  }
  return 1 + 2 * body.rounds + (feedback?.verify ? 2 * (feedback.ensemble ?? 1) * judges : 0);
}

function overLimit(limit: string, setting: string, message: string, details: Record<string, unknown>): ApiError {
  return new ApiError('over_limit', `${message} (${setting})`, { limit, setting, ...details });
}

/** 422 naming the limit when the run asks for more calls per prompt or more max_tokens than the operator allows. */
export function checkCallLimits(
  body: Pick<CreateRun, 'mode' | 'rounds' | 'sampling'>,
  feedback: FeedbackOptions | null,
  aliasMaxTokens: (alias: string) => number | undefined,
  aliases: string[],
  limits: OperatorLimits,
): void {
  const calls = callsPerPrompt(body, feedback);
  const maxCalls = limits.AMEND_MAX_CALLS_PER_PROMPT;
  if (calls > maxCalls) {
    throw overLimit(
      'calls_per_prompt',
      'AMEND_MAX_CALLS_PER_PROMPT',
      `these options cost ${calls} model calls per prompt and the limit is ${maxCalls}; use fewer rounds, candidates, ensemble principles or judges`,
      {
        maximum: maxCalls,
        requested: calls,
      },
    );
  }
  for (const alias of aliases) {
    const cap = aliasMaxTokens(alias) ?? limits.AMEND_MAX_COMPLETION_TOKENS;
    if (body.sampling.max_tokens > cap) {
      throw overLimit(
        'max_tokens',
        aliasMaxTokens(alias) !== undefined ? `AMEND_MODELS.${alias}.max_tokens` : 'AMEND_MAX_COMPLETION_TOKENS',
        `sampling.max_tokens ${body.sampling.max_tokens} is more than model alias "${alias}" allows (${cap})`,
        {
          maximum: cap,
          requested: body.sampling.max_tokens,
          alias,
        },
      );
    }
  }
}

/**
 * The budget a run is stored with: its own, checked against the maxima, or the default. Null when
 * neither the run nor the operator set one.
 */
export function effectiveBudget(requested: Budget | undefined, limits: OperatorLimits): Budget | null {
  const maxTokens = limits.AMEND_RUN_MAX_BUDGET_TOKENS;
  const maxCost = limits.AMEND_RUN_MAX_BUDGET_COST_USD;
  if (requested?.tokens !== undefined && maxTokens !== undefined && requested.tokens > maxTokens) {
    throw overLimit('budget_tokens', 'AMEND_RUN_MAX_BUDGET_TOKENS', `budget.tokens ${requested.tokens} is more than a run may have, ${maxTokens}`, {
      maximum: maxTokens,
      requested: requested.tokens,
    });
  }
  if (requested?.cost_usd !== undefined && maxCost !== undefined && requested.cost_usd > maxCost) {
    throw overLimit('budget_cost_usd', 'AMEND_RUN_MAX_BUDGET_COST_USD', `budget.cost_usd ${requested.cost_usd} is more than a run may have, ${maxCost}`, {
      maximum: maxCost,
      requested: requested.cost_usd,
    });
  }
  const tokens = requested?.tokens ?? (requested?.cost_usd === undefined ? limits.AMEND_RUN_BUDGET_TOKENS : undefined);
  const cost = requested?.cost_usd ?? (requested?.tokens === undefined ? limits.AMEND_RUN_BUDGET_COST_USD : undefined);
  // A maximum with no request and no default: the run gets the maximum, so "max" really bounds every run.
  const budget: Budget = {
    ...((tokens ?? maxTokens) !== undefined && { tokens: tokens ?? maxTokens }),
    ...((cost ?? maxCost) !== undefined && { cost_usd: cost ?? maxCost }),
  };
  return budget.tokens === undefined && budget.cost_usd === undefined ? null : budget;
}

/**
 * With a per-team daily quota, a run reserves its token budget against what the team has left
 * today: a run without a token budget gets what is left; a run asking more than is left, or a team
 * with nothing left, is refused with 422 naming the quota.
 */
export function budgetWithinQuota(budget: Budget | null, remaining: number | undefined, quota: number | undefined): Budget | null {
  if (quota === undefined || remaining === undefined) return budget;
  if (remaining <= 0) {
    throw overLimit(
      'team_daily_tokens',
      'AMEND_TEAM_DAILY_TOKENS',
      `the team has spent or reserved its ${quota} tokens for today (UTC); retry tomorrow or ask the operator`,
      { maximum: quota, remaining: 0 },
    );
  }
  if (budget?.tokens !== undefined && budget.tokens > remaining) {
    throw overLimit(
      'team_daily_tokens',
      'AMEND_TEAM_DAILY_TOKENS',
      `budget.tokens ${budget.tokens} is more than the ${remaining} tokens the team has left today (of ${quota}); ask for at most ${remaining}`,
      {
        maximum: quota,
        remaining,
        requested: budget.tokens,
      },
    );
  }
  return { ...(budget ?? {}), tokens: budget?.tokens ?? remaining };
}
