import type { StageRecord } from '@amend/contracts';
import { PipelineError } from '../errors';
import { TOP_LOGPROBS, comparisonMessages } from '../feedback/comparison-prompt';
import type { PlannedCall } from '../planned-call';
import { int31FromKey } from '../seeded';
import { feedbackOf, type RunSpec, type SampleSpec } from '../run-spec';
import { judgeAliases, judgeCount } from '../feedback/schedule';
import { RATINGS_MAX_TOKENS, RATINGS_SCHEMA, RATINGS_SCHEMA_NAME, ratingsMessages } from '../feedback/ratings';
import { judgedDimensions } from './dimensions';

/*
 * The judge calls of an evaluation's candidate sample. After the candidate's final revision, for
 * each dimension the prompt is judged on (the rubric's, or the run's own: dimensions.ts), in order, for each judge of the panel
 * (one without a panel): the candidate's final answer shown as (A) against the baseline's, then the
 * baseline's as (A). 2 calls per dimension and judge. The ratings judge (`judge: "ratings"`) rates
 * both answers 1-5 on the dimension's question instead of naming a letter.
 */

/** Option labels of evaluation comparisons. */
export const EVALUATION_LABELS = { baseline: 'baseline', candidate: 'candidate' } as const;

export function isCandidate(run: Pick<RunSpec, 'evaluation'>): boolean {
  return run.evaluation?.role === 'candidate';
}

/** Judge calls a sample makes after its revisions: none outside an evaluation's candidate run. */
export function evaluationJudgeCount(run: Pick<RunSpec, 'evaluation' | 'feedback'>, sample: Pick<SampleSpec, 'prompt' | 'metadata'> | undefined): number {
  if (!isCandidate(run)) return 0;
  if (!sample) throw new PipelineError('invalid_run', 'an evaluation candidate sample is needed to count its judge calls');
  return 2 * judgeCount(run) * judgedDimensions(run.evaluation?.dimensions, sample.prompt, sample.metadata).length;
}

/**
 * The judge's request seed: one per (evaluation seed, prompt index, dimension), the same for both
 * orders, so that two identical answers (an A/A evaluation) give two identical requests and
 * exactly P = 0.5 once the orders are averaged, on any deterministic backend.
 */
export function judgeSeed(runSeed: number, index: number, dimension: string): number {
  return int31FromKey(`evaluation-judge:${runSeed}:${index}:${dimension}`);
}

/** Judge call `offset` (0-based) after the candidate's revisions; `candidateFinal` is the last revision's text. */
export function evaluationJudgeCallAt(run: RunSpec, sample: SampleSpec, seq: number, offset: number, candidateFinal: string): PlannedCall {
  const baselineFinal = sample.baseline?.final;
  if (baselineFinal === undefined) {
    throw new PipelineError('invalid_run', `sample ${sample.id}: the baseline's final answer is needed to judge the candidate's`);
  }
  const dimensions = judgedDimensions(run.evaluation?.dimensions, sample.prompt, sample.metadata);
  const judges = judgeCount(run);
  const dimension = dimensions[Math.floor(offset / (2 * judges))];
  const j = Math.floor((offset % (2 * judges)) / 2);
  const candidateFirst = offset % 2 === 0;
  const [a, b] = candidateFirst ? [candidateFinal, baselineFinal] : [baselineFinal, candidateFinal];
  const { baseline, candidate } = EVALUATION_LABELS;
  const f = feedbackOf(run);
  const alias = f.panel ? judgeAliases(run)[j] : (run.feedback_model ?? run.model);
  const options: [string, string] = candidateFirst ? [candidate, baseline] : [baseline, candidate];
  const common = {
    seq,
    stage: 'comparison' as const,
    round: offset + 1,
    principle_id: dimension.id,
  };
  const panelJudge = f.panel ? { panel_judge: alias } : {};
  if (f.judge === 'ratings') {
    return {
      ...common,
      comparison: { options, cot: false, judge: 'ratings', ...panelJudge },
      request: {
        alias,
        messages: ratingsMessages(sample.prompt, dimension.question, a, b),
        sampling: { ...run.sampling, temperature: 0, top_p: 1 },
        seed: judgeSeed(run.seed, sample.index, dimension.id),
        max_tokens: RATINGS_MAX_TOKENS,
        response_schema: { name: RATINGS_SCHEMA_NAME, schema: RATINGS_SCHEMA },
      },
    };
  }
  return {
    ...common,
    comparison: { options, cot: false, ...panelJudge },
    request: {
      alias,
      messages: comparisonMessages(sample.prompt, dimension.question, a, b, false),
      // One greedy answer token read from its log-probabilities, as for RL-CAI labels.
      sampling: { ...run.sampling, temperature: 0, top_p: 1 },
      seed: judgeSeed(run.seed, sample.index, dimension.id),
      logprobs: true,
      top_logprobs: TOP_LOGPROBS,
      max_tokens: 1,
    },
  };
}

/**
 * The candidate's draft is the baseline's: the same text, not a second call. Its record is what
 * the candidate's conversation continues from (the candidate constitution's own opening messages,
 * the shared draft as the answer), so both constitutions critique and revise the same draft.
 * No call is made, so it costs nothing and carries no latency.
 */
export function sharedDraftResult(
  source: Pick<StageRecord, 'text' | 'model' | 'simulated'> & { sample_id: string; run_id: string; finish_reason?: string | null },
) {
  return {
    text: source.text,
    model: source.model,
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    latency_ms: 0,
    simulated: source.simulated,
    finish_reason: source.finish_reason ?? null,
    request: { shared_from: { run_id: source.run_id, sample_id: source.sample_id, seq: 0 } },
    response: null,
    attempts: 0,
  };
}
