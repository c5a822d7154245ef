import type { PairFlag } from '@amend/contracts';
import { isNoop } from './noop';
import { isBenignPrompt, isRefusal } from './refusal';

/** What the flags of a pair are computed from. */
export interface FlagInputs {
  prompt: string;
  chosen: string;
  rejected: string;
  /** The prompt's metadata; `benign: boolean` there overrides the benign-prompt rules. */
  promptMetadata?: Record<string, unknown> | null;
  /** The judge does not prefer chosen by the run's min_margin (null when there was no judge). */
  judgeDisagrees?: boolean | null;
  /** Which flag the judge's disagreement raises: ai-feedback pairs are `low_margin`, verified revisions `rejected_by_judge`. */
  judgeFlag?: 'low_margin' | 'rejected_by_judge';
  /** Some text stage of the pair stopped at max_tokens. */
  truncated?: boolean;
  /** A panel of judges did not all prefer the same response. */
  judgesSplit?: boolean;
}

/**
 * The quality flags of a pair, in PAIR_FLAGS order:
 * - `noop`: chosen and rejected are the same text, or nearly (normalised edit distance);
 * - `rejected_by_judge` / `low_margin`: the feedback model does not prefer chosen by min_margin;
 * - `refusal_drift`: chosen refuses a benign prompt that rejected answered without refusing,
 *   the over-refusal a harmlessness revision (or a harmlessness judge) can train in;
 * - `truncated`: a stage whose text the pair is made of (draft, critique, revision, candidate)
 *   stopped at max_tokens. Comparisons are not counted here: a cut-off judge answer is no label
 *   (`unreadable`) and shows in the report's hard_label_share instead.
 */
export function truncatedStages(records: readonly { stage: string; finish_reason?: string | null }[]): boolean {
  return records.some((r) => r.stage !== 'comparison' && r.finish_reason === 'length');
}

/**
 * The flags, as listed above.
 */
export function pairFlags(input: FlagInputs): PairFlag[] {
  const flags: PairFlag[] = [];
  if (isNoop(input.rejected, input.chosen)) flags.push('noop');
  if (input.judgeDisagrees && input.judgeFlag === 'rejected_by_judge') flags.push('rejected_by_judge');
  if (isRefusal(input.chosen) && !isRefusal(input.rejected) && isBenignPrompt(input.prompt, input.promptMetadata)) {
    flags.push('refusal_drift');
  }
  if (input.judgeDisagrees && input.judgeFlag === 'low_margin') flags.push('low_margin');
  if (input.truncated) flags.push('truncated');
  if (input.judgesSplit) flags.push('judges_split');
  return flags;
}
