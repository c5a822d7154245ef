import type { PairRecord, StageRecord } from '@amend/contracts';
import { pairOfCheckedRecords } from './assemble-pair';
import { planNextCall } from './plan';
import type { PlannedCall } from './planned-call';
import type { RunSpec, SampleSpec } from './run-spec';

/**
 * What a sample needs next: one model call, or, once every call is made, its pair (written with the
 * last call's checkpoint, which completes the sample).
 */
export type NextStep = { kind: 'call'; call: PlannedCall } | { kind: 'pair'; pair: PairRecord };

/**
 * The sample's stage machine, decided only from its run and the stage records checkpointed so far
 * (docs/architecture.md#stage-machine):
 *
 *   critique-revise: draft -> (critique -> revision) x rounds -> [comparisons] -> pair
 *     (comparisons: 2 per ensemble principle with verify; 2 per rubric dimension for an
 *     evaluation's candidate)
 *   ai-feedback:     candidate x n -> comparison x (each two candidates, both orders, per ensemble
 *                    principle) -> pair
 *
 * The worker asks it before a sample's first call and again after each call, with that call's
 * record added, so the checkpoint of a call already knows the stage that follows it or carries the
 * pair; the online walk and the batch waves both plan through it. Records that do not fit the plan
 * throw PipelineError `inconsistent_records` (planNextCall). `newPairId` is asked only for a pair.
 * `last`: the call the newest record answers, when it was planned by this function from the
 * records before it (the walk's own previous step), so only that record is checked.
 */
export function nextStep(run: RunSpec, sample: SampleSpec, records: readonly StageRecord[], newPairId: () => string, last?: PlannedCall): NextStep {
  const call = planNextCall(run, sample, records, last);
  if (call) return { kind: 'call', call };
  return { kind: 'pair', pair: pairOfCheckedRecords(run, sample, records, newPairId()) };
}
