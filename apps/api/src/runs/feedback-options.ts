import type { Principle } from '@amend/constitution';
import { MAX_ENSEMBLE, resolveFeedbackOptions, type CreateRun, type FeedbackOptions } from '@amend/contracts';
import { comparisonPrinciples } from '@amend/pipeline';
import { ApiError } from '../errors/api-error';

/**
 * The feedback options a run is stored with: null for plain critique-revise (nothing is judged),
 * the resolved options for ai-feedback and verified runs. The feedback model can only be asked a
 * principle's `comparison` question, so a constitution (as selected) without one, or with fewer
 * than `ensemble` of them, is a 422 that says which principles have one.
 */
export async function feedbackOptionsFor(
  body: CreateRun,
  principlesOf: () => Promise<Principle[]>,
  constitution: string,
): Promise<FeedbackOptions | null> {
  const judged = body.mode === 'ai-feedback' || body.verify === true;
  if (!judged) return null;
  const options = resolveFeedbackOptions(body);
  const pool = comparisonPrinciples(await principlesOf(), body.principles);
  const what = body.mode === 'ai-feedback' ? 'mode "ai-feedback"' : 'verify';
  if (pool.length === 0) {
    throw new ApiError(
      422,
      'no_comparison_principles',
      `${what} needs principles with a \`comparison\` question, and ${constitution}${body.principles ? ' (as selected)' : ''} has none; ` +
        'use a constitution that has them (e.g. amend-core) or publish a version that adds them',
    );
  }
  if (options.ensemble > pool.length) {
    throw new ApiError(
      422,
      'ensemble_too_large',
      `ensemble ${options.ensemble} is more than the ${pool.length} principles of ${constitution} with a comparison question ` +
        `(${pool.map((p) => p.id).join(', ')}); ask for at most ${Math.min(pool.length, MAX_ENSEMBLE)}`,
      { comparison_principles: pool.map((p) => p.id) },
    );
  }
  return options;
}
