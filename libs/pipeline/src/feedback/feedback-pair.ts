import type { PairJudgement, PairRecord, StageRecord } from '@amend/contracts';
import { pairPrompt } from '../conversation';
import { pairFlags, truncatedStages } from '../report/flags';
import { feedbackOf, type RunSpec, type SampleSpec } from '../run-spec';
import { judgePrinciples } from './judge-principles';
import { asked, meanRatings, pairJudgement, panelWinMatrix, scores } from './judgement';
import { prefersBy } from './label';
import { comparisonSlots, judgeAliases, judgeCount } from './schedule';

/**
 * The pair of a finished ai-feedback sample (records complete and checked, sorted by seq):
 * chosen = the candidate with the highest score (mean probability of beating the others; with the
 * ratings judge, its mean 1-5 rating), rejected = the one with the lowest; ties go to the earlier
 * candidate for chosen and the later one for rejected, so chosen and rejected always differ. With
 * 2 candidates the letter judge's score is the soft label itself. A panel's judges are aggregated
 * first (judgement.ts). A pair whose judgement does not prefer chosen by min_margin is kept,
 * flagged `low_margin`; one whose panel split, `judges_split`.
 */
export function assembleFeedbackPair(run: RunSpec, sample: SampleSpec, sorted: StageRecord[], pairId: string): PairRecord {
  const f = feedbackOf(run);
  const ratings = f.judge === 'ratings';
  const judges = judgeCount(run);
  const candidates = sorted.slice(0, f.candidates);
  const comparisons = asked(comparisonSlots(f.candidates, f.ensemble, judges), sorted.slice(f.candidates));
  const score = ratings ? meanRatings(f.candidates, comparisons, judges) : scores(panelWinMatrix(f.candidates, comparisons, judges));
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
    { judges: judgeAliases(run), ratings },
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
    judgesSplit: judgement.split === true,
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
      models: {
        policy: candidates[0].model,
        feedback: comparisons[0]?.record.model ?? null,
        ...(f.panel && { judges: judgeModels(judgeAliases(run), comparisons) }),
      },
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
): { judgement: PairJudgement; disagrees: boolean; feedbackModel: string | null; judgeModels?: Record<string, string> } {
  const f = feedbackOf(run);
  const comparisons = asked(comparisonSlots(2, f.ensemble, judgeCount(run)), verifyRecords);
  const ensemble = judgePrinciples(run.constitution.principles, run.principles, f.ensemble, run.seed, sample.index);
  // Options: 0 the draft, 1 the final revision, which is chosen whatever the judge says.
  const judgement = pairJudgement(
    'verify',
    1,
    0,
    comparisons,
    ensemble.map((p) => p.id),
    f.cot,
    { judges: judgeAliases(run), ratings: f.judge === 'ratings' },
  );
  return {
    judgement,
    disagrees: !prefersBy(judgement.p_chosen, f.min_margin),
    feedbackModel: verifyRecords[0]?.model ?? null,
    ...(f.panel && { judgeModels: judgeModels(judgeAliases(run), comparisons) }),
  };
}

/** Panels: the model id each judge's backend reported, by alias (its first comparison's). */
function judgeModels(aliases: readonly string[], comparisons: readonly { slot: { j: number }; record: StageRecord }[]): Record<string, string> {
  return Object.fromEntries(aliases.map((alias, j) => [alias, comparisons.find((c) => c.slot.j === j)?.record.model ?? '']));
}

export function usageOf(records: readonly StageRecord[]): PairRecord['metadata']['usage'] {
  return {
    prompt_tokens: records.reduce((s, r) => s + r.usage.prompt_tokens, 0),
    completion_tokens: records.reduce((s, r) => s + r.usage.completion_tokens, 0),
    calls: records.length,
  };
}
