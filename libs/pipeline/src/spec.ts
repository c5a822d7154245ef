import type { Constitution } from '@amend/constitution';
import type { ConstitutionRef, PrincipleSelector, Sampling } from '@amend/contracts';
import { PipelineError } from './errors';
import { selectPrinciples } from './principle-selection';

/** What the pipeline needs to know about a run: its options and its constitution version. */
export interface RunSpec {
  id: string;
  mode: 'critique-revise';
  rounds: number;
  seed: number;
  /** Policy model alias (AMEND_MODELS). */
  model: string;
  feedback_model: string | null;
  sampling: Sampling;
  constitution: Constitution;
  constitutionRef: ConstitutionRef;
  /** Restricts principle sampling to these principles; all of them when absent. */
  principles?: PrincipleSelector | null;
}

/** One prompt of a run. */
export interface SampleSpec {
  id: string;
  /** Position of the prompt in the run's request. */
  index: number;
  /** The id the submitter gave the prompt, if any. */
  external_id: string | null;
  prompt: string;
}

/** Same bounds as CreateRunSchema; the paper used 4 rounds, and past 8 revisions stop changing. */
export const MIN_ROUNDS = 1;
export const MAX_ROUNDS = 8;

export function assertPlannable(run: Pick<RunSpec, 'mode' | 'rounds' | 'constitution' | 'constitutionRef' | 'principles'>): void {
  if (run.mode !== 'critique-revise') {
    throw new PipelineError('invalid_run', `mode "${String(run.mode)}" is not supported; use "critique-revise"`);
  }
  if (!Number.isInteger(run.rounds) || run.rounds < MIN_ROUNDS || run.rounds > MAX_ROUNDS) {
    throw new PipelineError('invalid_run', `rounds must be an integer from ${MIN_ROUNDS} to ${MAX_ROUNDS}, got ${run.rounds}`);
  }
  const { constitution: c, constitutionRef: ref } = run;
  if (c.name !== ref.name || c.version !== ref.version) {
    // Pairs cite constitutionRef; planning with another version would misattribute every principle.
    throw new PipelineError('invalid_run', `run cites ${ref.name}@${ref.version} but was given ${c.name}@${c.version}`);
  }
  if (run.constitution.principles.length === 0) {
    throw new PipelineError('invalid_run', `constitution ${run.constitution.name}@${run.constitution.version} has no principles`);
  }
  // Fails before the draft, not at the first critique, when the selection names what is not there.
  selectPrinciples(c.principles, run.principles);
}
