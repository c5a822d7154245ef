import type { Constitution } from '@amend/constitution';
import type { ChatModel } from '@amend/pipeline';
import type { AmendMetrics } from '@amend/runtime';
import type { BudgetRepository, EvaluationsRepository, JudgeLabelsRepository, RunsRepository, SamplesRepository } from '@amend/store';

/**
 * What the orchestrator and its spend meter ask of their collaborators, each a slice of the real
 * class: the worker module wires Store, ModelRegistry, ConstitutionCache and AmendMetrics to them
 * (by those classes as Nest tokens), and a unit test wires in-process fakes.
 */

/** The store as a worker walking a sample uses it. */
export interface SampleWorkStore {
  samples: Pick<SamplesRepository, 'claimForWork' | 'loadForWork' | 'checkpoint' | 'fail'>;
  runs: Pick<RunsRepository, 'markRunning' | 'markSimulated' | 'finalizeIfDone' | 'row'>;
  /** An evaluation's twin samples, and its report once both runs are closed (libs/runtime evaluation-closer). */
  evaluations: Pick<EvaluationsRepository, 'twin' | 'row' | 'candidateTwin' | 'finish' | 'prompts'>;
  budget: Pick<BudgetRepository, 'spend' | 'exhaust'>;
  /** A run's judge labels so far, and stopping it when too many are hard or unreadable. */
  judgeLabels: Pick<JudgeLabelsRepository, 'counts' | 'stop'>;
}

/** A chat model by its operator-configured alias (ModelRegistry). */
export interface ModelsByAlias {
  get(alias: string): ChatModel;
}

/** Published constitution versions and pinned draft contents (ConstitutionCache). */
export interface ConstitutionSource {
  /** `sha256`: needed for a draft's version (`#draft`), which names its content by it. */
  get(name: string, version: string, sha256?: string): Promise<Constitution>;
}

/** The metric the spend meter records around each call. */
export type CallMetrics = Pick<AmendMetrics, 'modelCall'>;

/** Milliseconds on a monotonic clock, for call durations. */
export interface Clock {
  now(): number;
}

export const CLOCK = Symbol('worker clock');
export const monotonicClock: Clock = { now: () => performance.now() };
