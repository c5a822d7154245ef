import type { PairJudgement, PairRecord, StageRecord } from '@amend/contracts';
import { pairPrompt } from '../conversation';
import { pairFlags, truncatedStages } from '../report/flags';
import { feedbackOf, type RunSpec, type SampleSpec } from '../run-spec';
import { judgePrinciples } from './judge-principles';
import { asked, pairJudgement, scores, winMatrix } from './judgement';
import { prefersBy } from './label';
import { comparisonSlots } from './schedule';

/**
 * The pair of a finished ai-feedback sample (records complete and checked, sorted by seq):
 * chosen = the candidate with the highest score (mean probability of beating the others),
 * rejected = the one with the lowest; ties go to the earlier candidate for chosen and the later
 * one for rejected, so chosen and rejected always differ. With 2 candidates the score is the
 * soft label itself. A pair whose judgement does not prefer chosen by min_margin is kept, flagged
 * `low_margin`.
 */
export function assembleFeedbackPair(run: RunSpec, sample: SampleSpec, sorted: StageRecord[], pairId: string): PairRecord {
  const f = feedbackOf(run);
  const candidates = sorted.slice(0, f.candidates);
  const comparisons = asked(comparisonSlots(f.candidates, f.ensemble), sorted.slice(f.candidates));
  const score = scores(winMatrix(f.candidates, comparisons));
  let chosen = 0;
  let rejected = f.candidates - 1;
  for (let i = 0; i < f.candidates; i++) {
    if (score[i] > score[chosen]) chosen = i;
  }
  for (let i = f.candidates - 1; i >= 0; i--) {
    if (i !== chosen && (score[i] < score[rejected] || rejected === chosen)) rejected = i;
  }
  const ensemble = judgePrinciples(run.constitution.principles, run.principles, f.ensemble, run.seed, sample.index);
  const judgement = pairJudgement(
    'ai-feedback',
    chosen,
    rejected,
    comparisons,
    ensemble.map((p) => p.id),
    f.cot,
  );
  const chosenText = candidates[chosen].text;
  const rejectedText = candidates[rejected].text;
  const flags = pairFlags({
    prompt: sample.prompt,
    chosen: chosenText,
    rejected: rejectedText,
    promptMetadata: sample.metadata,
    judgeDisagrees: !prefersBy(judgement.p_chosen, f.min_margin),
    judgeFlag: 'low_margin',
    truncated: truncatedStages(sorted),
  });
  const category = [...new Set(ensemble.flatMap((p) => p.tags))];
  // The reason is the judge's own, where it gave one: its reasoning on the first direct comparison.
  const firstDirect = comparisons.find((c) => c.slot.x === Math.min(chosen, rejected) && c.slot.y === Math.max(chosen, rejected));
  const reason = f.cot && firstDirect ? firstDirect.record.text : ensemble.map((p) => p.comparison.trim()).join(' ');

  return {
    id: pairId,
    run_id: run.id,
    sample_id: sample.id,
    ...pairPrompt(sample),
    // An ai-feedback pair has no draft to revise: the rejected candidate stands in for it (h4's init_response).
    draft: rejectedText,
    chosen: chosenText,
    rejected: rejectedText,
    rounds: [],
    reason,
    category,
    metadata: {
      mode: run.mode,
      constitution: { ...run.constitutionRef },
      principle_ids: ensemble.map((p) => p.id),
      models: { policy: candidates[0].model, feedback: comparisons[0]?.record.model ?? null },
      judgement,
      score_chosen: score[chosen],
      score_rejected: score[rejected],
      ...(flags.length > 0 && { flags }),
      usage: usageOf(sorted),
      simulated: sorted.some((r) => r.simulated),
      seed: run.seed,
      sample_index: sample.index,
      external_id: sample.external_id,
      prompt_metadata: sample.metadata ?? null,
    },
    candidates: candidates.map((c) => c.text),
  };
}

/** What verification adds to a critique-revise pair: the judgement of revision over draft, and whether it disagrees. */
export function verification(
  run: RunSpec,
  sample: SampleSpec,
  verifyRecords: StageRecord[],
): { judgement: PairJudgement; disagrees: boolean; feedbackModel: string | null } {
  const f = feedbackOf(run);
  const comparisons = asked(comparisonSlots(2, f.ensemble), verifyRecords);
  const ensemble = judgePrinciples(run.constitution.principles, run.principles, f.ensemble, run.seed, sample.index);
  // Options: 0 the draft, 1 the final revision, which is chosen whatever the judge says.
  const judgement = pairJudgement(
    'verify',
    1,
    0,
    comparisons,
    ensemble.map((p) => p.id),
    f.cot,
  );
  return { judgement, disagrees: !prefersBy(judgement.p_chosen, f.min_margin), feedbackModel: verifyRecords[0]?.model ?? null };
}

export function usageOf(records: readonly StageRecord[]): PairRecord['metadata']['usage'] {
  return {
    prompt_tokens: records.reduce((s, r) => s + r.usage.prompt_tokens, 0),
    completion_tokens: records.reduce((s, r) => s + r.usage.completion_tokens, 0),
    calls: records.length,
  };
}
