import type { PairJudgement, PairRecord, StageRecord } from '@amend/contracts';
import { pairPrompt } from './conversation';
import { PipelineError } from './errors';
import { callsPerSample, planNextCall } from './plan';
import { feedbackOf, type RunSpec, type SampleSpec } from './run-spec';
import { assembleFeedbackPair, verification } from './feedback/feedback-pair';
import { pairFlags, truncatedStages } from './report/flags';

/**
 * The preference pair of a finished sample: chosen = the final revision, rejected = the draft
 * (SL-CAI); with verify, the feedback model's judgement of the two is added and a pair it does
 * not back is flagged `rejected_by_judge`. ai-feedback pairs: feedback/feedback-pair.ts. The records are
 * checked against the plan first, so a pair is never assembled from a partial or mismatched
 * checkpoint.
 */
export function assemblePair(run: RunSpec, sample: SampleSpec, records: StageRecord[], pairId: string): PairRecord {
  if (planNextCall(run, sample, records) !== null) {
    throw new PipelineError(
      'incomplete_records',
      `sample ${sample.id}: ${records.length} of ${callsPerSample(run, sample)} stages done; a pair needs all of them`,
    );
  }
  return pairOfCheckedRecords(run, sample, records, pairId);
}

/**
 * The pair of records that planNextCall has just found complete and consistent (nextStep), without
 * checking them a second time: the check re-reads every record's messages.
 */
export function pairOfCheckedRecords(run: RunSpec, sample: SampleSpec, records: readonly StageRecord[], pairId: string): PairRecord {
  const sorted = [...records].sort((a, b) => a.seq - b.seq);
  if (run.mode === 'ai-feedback') return assembleFeedbackPair(run, sample, sorted, pairId);
  const draft = sorted[0];
  const rounds = Array.from({ length: run.rounds }, (_, i) => {
    const critique = sorted[2 * i + 1];
    const revision = sorted[2 * i + 2];
    return {
      round: i + 1,
      // Both stages of a round use the same principle; planNextCall has checked it.
      principle_id: critique.principle_id as string,
      critique_request: lastContent(critique),
      critique: critique.text,
      revision_request: lastContent(revision),
      revision: revision.text,
    };
  });
  const last = rounds[rounds.length - 1];
  const byId = new Map(run.constitution.principles.map((p) => [p.id, p]));
  const category = [...new Set(rounds.flatMap((r) => byId.get(r.principle_id)?.tags ?? []))];
  const verified = feedbackOf(run).verify ? verification(run, sample, sorted.slice(1 + 2 * run.rounds)) : null;
  const flags = pairFlags({
    prompt: sample.prompt,
    chosen: last.revision,
    rejected: draft.text,
    promptMetadata: sample.metadata,
    judgeDisagrees: verified?.disagrees ?? null,
    judgeFlag: 'rejected_by_judge',
    truncated: truncatedStages(sorted),
    judgesSplit: verified?.judgement.split === true,
  });

  return {
    id: pairId,
    run_id: run.id,
    sample_id: sample.id,
    ...pairPrompt(sample),
    draft: draft.text,
    chosen: last.revision,
    rejected: draft.text,
    rounds,
    reason: last.critique,
    category,
    metadata: {
      mode: run.mode,
      constitution: { ...run.constitutionRef },
      principle_ids: rounds.map((r) => r.principle_id),
      models: { policy: draft.model, feedback: verified?.feedbackModel ?? null, ...(verified?.judgeModels && { judges: verified.judgeModels }) },
      judgement: verified?.judgement ?? null,
      ...(verified && scoresOf(verified.judgement)),
      ...(flags.length > 0 && { flags }),
      usage: {
        prompt_tokens: sorted.reduce((s, r) => s + r.usage.prompt_tokens, 0),
        completion_tokens: sorted.reduce((s, r) => s + r.usage.completion_tokens, 0),
        calls: sorted.length,
      },
      simulated: sorted.some((r) => r.simulated),
      seed: run.seed,
      sample_index: sample.index,
      external_id: sample.external_id,
      prompt_metadata: sample.metadata ?? null,
    },
  };
}

/** The request a stage answered: the last message sent, which is always the user's. */
function lastContent(record: StageRecord): string {
  return record.messages[record.messages.length - 1].content;
}

/** score_chosen and score_rejected of a verified pair: the ratings judge's mean 1-5 ratings, else P(better) of each. */
function scoresOf(j: PairJudgement): { score_chosen: number; score_rejected: number } {
  return j.mean_ratings
    ? { score_chosen: j.mean_ratings.chosen, score_rejected: j.mean_ratings.rejected }
    : { score_chosen: j.p_chosen, score_rejected: 1 - j.p_chosen };
}
