import type { ChatMessage, ComparisonJudgement, StageName, StageRecord } from '@amend/contracts';
import { continueConversation, openingMessages, promptConversation } from './conversation';
import { PipelineError } from './errors';
import { samplePrinciple } from './principle-sampler';
import { selectPrinciples } from './principle-selection';
import type { ChatResult } from './ports';
import type { PlannedCall } from './planned-call';
import { assertPlannable, type RunSpec, type SampleSpec } from './run-spec';
import { int31FromKey } from './seeded';
import { comparisonLabel } from './feedback/label';
import { ratingsLabel } from './feedback/ratings';
import { feedbackCallAt, feedbackCallCount, verifyCallAt, verifyCallCount } from './feedback/schedule';
import { evaluationJudgeCallAt, evaluationJudgeCount } from './evaluation/judge-calls';

export type { PlannedCall } from './planned-call';

type CallCountOf = Pick<RunSpec, 'rounds'> & Partial<Pick<RunSpec, 'mode' | 'feedback' | 'evaluation'>>;

/**
 * Model calls per sample. critique-revise: one draft, then a critique and a revision per round,
 * then 2 comparisons per ensemble principle with verify. ai-feedback: see feedback/schedule.ts.
 * An evaluation's candidate adds its judge calls (evaluation/judge-calls.ts), which depend on the
 * sample, so it needs one.
 */
export function callsPerSample(run: CallCountOf, sample?: Pick<SampleSpec, 'prompt' | 'metadata'>): number {
  if (run.mode === 'ai-feedback') return feedbackCallCount(run);
  return revisionCalls(run) + verifyCallCount(run) + evaluationJudgeCount(run, sample);
}

function revisionCalls(run: Pick<RunSpec, 'rounds'>): number {
  return 1 + 2 * run.rounds;
}

/** Stage and round of call `seq`: 0 is the draft; then odd seqs critique and even seqs revise. */
export function stageAt(seq: number): { stage: StageName; round: number } {
  if (seq === 0) return { stage: 'draft', round: 0 };
  return { stage: seq % 2 === 1 ? 'critique' : 'revision', round: Math.ceil(seq / 2) };
}

/**
 * The seed passed to the backend for call `seq`, so a rerun of the same run (or a replay of its
 * manifest) asks each call with the same seed. Keyed by the sample's index like the principles,
 * and apart from them so the two draws are independent.
 */
export function requestSeed(runSeed: number, sampleIndex: number, seq: number): number {
  return int31FromKey(`request:${runSeed}:${sampleIndex}:${seq}`);
}

/**
 * The next call for a sample, derived only from the run, the sample and the stage records already
 * checkpointed (any order; sorted by seq here). A resumed job therefore continues at the first
 * unfinished stage and never repeats a call that succeeded. Returns null when every stage is done.
 *
 * Records must be exactly the calls this plan would have made: seq 0..n-1 without gaps or
 * duplicates, matching stage, round, principle and request messages. Anything else means the
 * checkpoint belongs to another run configuration or was altered, and continuing would build a
 * pair from mismatched parts, so it throws a PipelineError with code `inconsistent_records`.
 */
export function planNextCall(run: RunSpec, sample: SampleSpec, done: readonly StageRecord[], last?: PlannedCall): PlannedCall | null {
  checkedPlannable(run);
  const total = callsPerSample(run, sample);
  // `last`: the call this function planned from every record but the last one, which answers it
  // (the worker's walk, call after call). Only that record needs checking, and the next call
  // follows from it: no replay of the sample from its first call at every step.
  const newest = done[done.length - 1];
  if (last && newest && newest.seq === last.seq && last.seq === done.length - 1 && done.length <= total) {
    checkRecord(sample, last, newest);
    return done.length === total ? null : callAt(run, sample, done.length, done, last);
  }
  const records = [...done].sort((a, b) => a.seq - b.seq);
  if (records.length > total) {
    throw inconsistent(sample, `${records.length} stage records for a ${run.rounds}-round sample, which makes ${total} calls`);
  }
  let call = callAt(run, sample, 0, records, null);
  for (let i = 0; i < records.length; i++) {
    checkRecord(sample, call, records[i]);
    if (i + 1 === total) return null;
    call = callAt(run, sample, i + 1, records, call);
  }
  return call;
}

/** Runs already found plannable: a run's spec is checked once, not before every call of its samples. */
const plannable = new WeakSet<RunSpec>();

function checkedPlannable(run: RunSpec): void {
  if (plannable.has(run)) return;
  assertPlannable(run);
  plannable.add(run);
}

/** Call `seq`, from the records before it (already checked) and the call before it. */
function callAt(run: RunSpec, sample: SampleSpec, seq: number, records: readonly StageRecord[], previous: PlannedCall | null): PlannedCall {
  const seed = requestSeed(run.seed, sample.index, seq);
  if (run.mode === 'ai-feedback') return feedbackCallAt(run, sample, seq, records, seed);
  const revisions = revisionCalls(run);
  if (seq < revisions) {
    return plannedCall(run, sample, seq, previous && { messages: previous.request.messages, answer: records[seq - 1].text });
  }
  if (run.evaluation) return evaluationJudgeCallAt(run, sample, seq, seq - revisions, records[revisions - 1].text);
  return verifyCallAt(run, sample, seq, seq - revisions, records[0].text, records[revisions - 1].text, seed);
}

/** The stage record to checkpoint for a call that succeeded (created_at is the store's to set). */
export function recordCall(call: PlannedCall, result: ChatResult): StageRecord {
  return {
    seq: call.seq,
    stage: call.stage,
    round: call.round,
    principle_id: call.principle_id,
    messages: call.request.messages.map((m) => ({ role: m.role, content: m.content })),
    text: result.text,
    model: result.model,
    usage: { prompt_tokens: result.usage.prompt_tokens, completion_tokens: result.usage.completion_tokens },
    latency_ms: result.latency_ms,
    simulated: result.simulated,
    finish_reason: result.finish_reason ?? null,
    ...(call.comparison && { judgement: judgementOf(call.comparison, call, result) }),
  };
}

/** The label of a comparison call: the ratings judge's JSON, or the letter; named by its judge on a panel. */
function judgementOf(comparison: NonNullable<PlannedCall['comparison']>, call: PlannedCall, result: ChatResult): ComparisonJudgement {
  const label =
    comparison.judge === 'ratings'
      ? ratingsLabel(result, comparison.options)
      : comparisonLabel(result, comparison.options, comparison.cot, {
          mode: result.answer_mode,
          prefix: call.request.answer?.prefix,
        });
  return comparison.panel_judge ? { ...label, judge: comparison.panel_judge } : label;
}

/** True for the last call of the sample (final revision, or last comparison): its checkpoint is written with the pair. */
export function isLastCall(run: CallCountOf, call: Pick<PlannedCall, 'seq'>, sample?: Pick<SampleSpec, 'prompt' | 'metadata'>): boolean {
  return call.seq === callsPerSample(run, sample) - 1;
}

function plannedCall(run: RunSpec, sample: SampleSpec, seq: number, previous: { messages: ChatMessage[]; answer: string } | null): PlannedCall {
  const { stage, round } = stageAt(seq);
  let messages: ChatMessage[];
  let principleId: string | null = null;
  if (stage === 'draft' || previous === null) {
    messages = openingMessages(run.constitution, promptConversation(sample));
  } else {
    const principle = samplePrinciple(selectPrinciples(run.constitution.principles, run.principles), run.seed, sample.index, round);
    principleId = principle.id;
    messages = continueConversation(previous.messages, previous.answer, stage === 'critique' ? principle.critique : principle.revision);
  }
  return {
    seq,
    stage,
    round,
    principle_id: principleId,
    request: {
      alias: run.model,
      messages,
      sampling: { ...run.sampling },
      seed: requestSeed(run.seed, sample.index, seq),
    },
  };
}

function checkRecord(sample: SampleSpec, expected: PlannedCall, record: StageRecord): void {
  const at = `stage record seq ${record.seq}`;
  if (record.seq !== expected.seq) {
    throw inconsistent(sample, record.seq < expected.seq ? `${at} appears twice` : `seq ${expected.seq} is missing (next record is seq ${record.seq})`);
  }
  if (record.stage !== expected.stage || record.round !== expected.round) {
    throw inconsistent(sample, `${at} is ${record.stage} round ${record.round}, expected ${expected.stage} round ${expected.round}`);
  }
  if (record.principle_id !== expected.principle_id) {
    throw inconsistent(sample, `${at} used principle ${String(record.principle_id)}, but this run's seed selects ${String(expected.principle_id)}`);
  }
  const diff = firstDifference(record.messages, expected.request.messages);
  if (diff !== null) {
    throw inconsistent(sample, `${at}: the messages sent differ from this run's conversation at message ${diff}`);
  }
}

function firstDifference(a: ReadonlyArray<{ role: string; content: string }>, b: readonly ChatMessage[]): number | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i]?.role !== b[i]?.role || a[i]?.content !== b[i]?.content) return i;
  }
  return null;
}

function inconsistent(sample: SampleSpec, detail: string): PipelineError {
  return new PipelineError('inconsistent_records', `sample ${sample.id}: ${detail}`);
}
