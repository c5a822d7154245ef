import type { StageRecord } from '@amend/contracts';
import { openingMessages, promptConversation } from '../conversation';
import type { PlannedCall } from '../planned-call';
import { feedbackOf, type RunSpec, type SampleSpec } from '../run-spec';
import { ANSWER_MAX_TOKENS, ANSWER_PREFIX, TOP_LOGPROBS, comparisonMessages } from './comparison-prompt';
import { judgePrinciples } from './judge-principles';
import { RATINGS_MAX_TOKENS, RATINGS_SCHEMA, RATINGS_SCHEMA_NAME, ratingsMessages } from './ratings';

/*
 * The calls of the judged parts of a sample, in a fixed order that depends only on the run's
 * options, so that the seq of a checkpointed record says exactly what it was:
 *
 *   ai-feedback:  candidate 1..n, then for each pair of candidates x < y, for each ensemble
 *                 principle k, for each judge j of the panel (one without a panel), the
 *                 comparison with x as (A), then with y as (A).
 *                 n + n(n-1)/2 · ensemble · judges · 2 calls.
 *   verify:       after the critique-revise calls, for each ensemble principle k, for each judge
 *                 j, draft as (A) against the final revision, then the revision as (A).
 *                 2 · ensemble · judges calls.
 */

/**
 * One comparison: options x and y (indices into the candidates, or 0 draft and 1 revision),
 * ensemble draw k, judge j of the panel (0 without one), x shown first or not.
 */
export interface ComparisonSlot {
  x: number;
  y: number;
  k: number;
  j: number;
  xFirst: boolean;
}

export function comparisonSlots(options: number, ensemble: number, judges = 1): ComparisonSlot[] {
  const slots: ComparisonSlot[] = [];
  for (let x = 0; x < options; x++) {
    for (let y = x + 1; y < options; y++) {
      for (let k = 0; k < ensemble; k++) {
        for (let j = 0; j < judges; j++) slots.push({ x, y, k, j, xFirst: true }, { x, y, k, j, xFirst: false });
      }
    }
  }
  return slots;
}

/** The aliases that judge a run's comparisons: its panel, else its feedback model, else its policy model. */
export function judgeAliases(run: Pick<RunSpec, 'feedback' | 'feedback_model' | 'model'>): string[] {
  const panel = feedbackOf(run).panel;
  return panel && panel.length > 0 ? [...panel] : [run.feedback_model ?? run.model];
}

/** Judges each comparison is asked of: the panel's size, 1 without one. */
export function judgeCount(run: Pick<RunSpec, 'feedback'>): number {
  return feedbackOf(run).panel?.length || 1;
}

/** Calls of an ai-feedback sample: the candidates and every comparison. */
export function feedbackCallCount(run: Pick<RunSpec, 'feedback'>): number {
  const { candidates: n, ensemble } = feedbackOf(run);
  return n + ((n * (n - 1)) / 2) * ensemble * judgeCount(run) * 2;
}

/** Calls a verified critique-revise sample adds after its final revision. */
export function verifyCallCount(run: Pick<RunSpec, 'feedback'>): number {
  const f = feedbackOf(run);
  return f.verify ? 2 * f.ensemble * judgeCount(run) : 0;
}

export const candidateLabel = (i: number) => `candidate-${i + 1}`;
export const VERIFY_LABELS = ['draft', 'revision'] as const;

/**
 * Call `seq` of an ai-feedback sample. `earlier` holds the records of seq 0..seq-1 (checked
 * against the plan already): the comparisons quote the candidates they answered.
 */
export function feedbackCallAt(run: RunSpec, sample: SampleSpec, seq: number, earlier: readonly StageRecord[], seed: number): PlannedCall {
  const { candidates } = feedbackOf(run);
  if (seq < candidates) {
    // Every candidate is asked the same conversation (a shared prefix for the server's cache);
    // the per-call seed and the run's temperature make them differ.
    return {
      seq,
      stage: 'candidate',
      round: seq + 1,
      principle_id: null,
      request: { alias: run.model, messages: openingMessages(run.constitution, promptConversation(sample)), sampling: { ...run.sampling }, seed },
    };
  }
  const slot = comparisonSlots(candidates, feedbackOf(run).ensemble, judgeCount(run))[seq - candidates];
  const texts = [earlier[slot.x].text, earlier[slot.y].text];
  return comparisonCall(run, sample, seq, slot, [candidateLabel(slot.x), candidateLabel(slot.y)], texts, seed);
}

/** Call `offset` (0-based) of the verification that follows the final revision. */
export function verifyCallAt(run: RunSpec, sample: SampleSpec, seq: number, offset: number, draft: string, revision: string, seed: number): PlannedCall {
  const slot = comparisonSlots(2, feedbackOf(run).ensemble, judgeCount(run))[offset];
  return comparisonCall(run, sample, seq, slot, [...VERIFY_LABELS], [draft, revision], seed);
}

function comparisonCall(run: RunSpec, sample: SampleSpec, seq: number, slot: ComparisonSlot, labels: string[], texts: string[], seed: number): PlannedCall {
  const f = feedbackOf(run);
  const { ensemble, cot } = f;
  const principle = judgePrinciples(run.constitution.principles, run.principles, ensemble, run.seed, sample.index)[slot.k];
  const [a, b] = slot.xFirst ? [0, 1] : [1, 0];
  const alias = judgeAliases(run)[slot.j];
  const options: [string, string] = [labels[a], labels[b]];
  const panelJudge = f.panel ? { panel_judge: alias } : {};
  if (f.judge === 'ratings') {
    return {
      seq,
      stage: 'comparison',
      round: slot.k + 1,
      principle_id: principle.id,
      comparison: { options, cot: false, judge: 'ratings', ...panelJudge },
      request: {
        alias,
        messages: ratingsMessages(promptConversation(sample), principle.comparison, texts[a], texts[b]),
        // Greedy, so that the same comparison gets the same ratings from a deterministic backend.
        sampling: { ...run.sampling, temperature: 0, top_p: 1 },
        seed,
        max_tokens: RATINGS_MAX_TOKENS,
        response_schema: { name: RATINGS_SCHEMA_NAME, schema: RATINGS_SCHEMA },
      },
    };
  }
  return {
    seq,
    stage: 'comparison',
    round: slot.k + 1,
    principle_id: principle.id,
    comparison: { options, cot, ...panelJudge },
    request: {
      alias,
      messages: comparisonMessages(promptConversation(sample), principle.comparison, texts[a], texts[b], cot),
      // A short answer, read at the letter's position from its log-probabilities; greedy so that a
      // backend without them answers with its most likely letter. Chain-of-thought samples its
      // reasoning like the policy and ends with "The answer is: (X)".
      sampling: cot ? { ...run.sampling } : { ...run.sampling, temperature: 0, top_p: 1 },
      seed,
      logprobs: true,
      top_logprobs: TOP_LOGPROBS,
      ...(cot ? {} : { max_tokens: ANSWER_MAX_TOKENS, answer: { prefix: ANSWER_PREFIX, choices: ['A', 'B'] as [string, string] } }),
    },
  };
}
