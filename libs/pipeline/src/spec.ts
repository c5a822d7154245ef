import type { Constitution } from '@amend/constitution';
import { FEEDBACK_DEFAULTS, MAX_CANDIDATES, MAX_ENSEMBLE, ROUNDS, type ConstitutionRef, type FeedbackOptions, type PrincipleSelector, type Sampling } from '@amend/contracts';
import { PipelineError } from './errors';
import { selectPrinciples } from './principle-selection';
import { comparisonPrinciples } from './feedback/judge-principles';

/** What the pipeline needs to know about a run: its options and its constitution version. */
export interface RunSpec {
  id: string;
  mode: 'critique-revise' | 'ai-feedback';
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
  /** Candidates, ensemble, chain-of-thought, verify, min_margin; FEEDBACK_DEFAULTS when absent. */
  feedback?: FeedbackOptions | null;
  /**
   * One side of a constitution A/B evaluation (evaluation/): the candidate's samples start from the
   * baseline's draft and end with the judge's comparisons of the two final answers.
   */
  evaluation?: { role: 'baseline' | 'candidate' } | null;
}

/** The run's feedback options with the defaults filled in. */
export function feedbackOf(run: Pick<RunSpec, 'feedback'>): FeedbackOptions {
  return { ...FEEDBACK_DEFAULTS, ...(run.feedback ?? {}) };
}

/** True when the feedback model is asked: every ai-feedback run, and critique-revise with verify. */
export function isJudged(run: Pick<RunSpec, 'mode' | 'feedback'>): boolean {
  return run.mode === 'ai-feedback' || feedbackOf(run).verify;
}

/** One prompt of a run. */
export interface SampleSpec {
  id: string;
  /** Position of the prompt in the run's request. */
  index: number;
  /** The id the submitter gave the prompt, if any. */
  external_id: string | null;
  prompt: string;
  /** The submitter's metadata of the prompt; `benign: boolean` there decides refusal drift. */
  metadata?: Record<string, unknown> | null;
  /** An evaluation candidate's sample: the baseline sample's final answer, which the judge compares with. */
  baseline?: { final: string } | null;
}

export function assertPlannable(
  run: Pick<RunSpec, 'mode' | 'rounds' | 'constitution' | 'constitutionRef' | 'principles'> & Partial<Pick<RunSpec, 'feedback' | 'evaluation'>>,
): void {
  if (run.mode !== 'critique-revise' && run.mode !== 'ai-feedback') {
    throw new PipelineError('invalid_run', `mode "${String(run.mode)}" is not supported; use "critique-revise" or "ai-feedback"`);
  }
  if (!Number.isInteger(run.rounds) || run.rounds < ROUNDS.min || run.rounds > ROUNDS.max) {
    throw new PipelineError('invalid_run', `rounds must be an integer from ${ROUNDS.min} to ${ROUNDS.max}, got ${run.rounds}`);
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
  if (isJudged(run)) assertJudgeable(run);
  if (run.evaluation && (run.mode !== 'critique-revise' || feedbackOf(run).verify)) {
    throw new PipelineError('invalid_run', 'an evaluation run is critique-revise without verify');
  }
}

/** Feedback options in range, and enough comparison questions for the ensemble. */
function assertJudgeable(run: Pick<RunSpec, 'mode' | 'constitution' | 'principles' | 'feedback'>): void {
  const f = feedbackOf(run);
  if (run.mode === 'ai-feedback' && (!Number.isInteger(f.candidates) || f.candidates < 2 || f.candidates > MAX_CANDIDATES)) {
    throw new PipelineError('invalid_run', `candidates must be an integer from 2 to ${MAX_CANDIDATES}, got ${f.candidates}`);
  }
  if (!Number.isInteger(f.ensemble) || f.ensemble < 1 || f.ensemble > MAX_ENSEMBLE) {
    throw new PipelineError('invalid_run', `ensemble must be an integer from 1 to ${MAX_ENSEMBLE}, got ${f.ensemble}`);
  }
  if (!(f.min_margin >= 0 && f.min_margin <= 1)) {
    throw new PipelineError('invalid_run', `min_margin must be from 0 to 1, got ${f.min_margin}`);
  }
  const pool = comparisonPrinciples(run.constitution.principles, run.principles);
  if (pool.length === 0) {
    throw new PipelineError(
      'invalid_run',
      `no principle of ${run.constitution.name}@${run.constitution.version} (as selected) has a \`comparison\` question, which the feedback model answers`,
    );
  }
  if (f.ensemble > pool.length) {
    throw new PipelineError('invalid_run', `ensemble ${f.ensemble} is more than the ${pool.length} principles with a comparison question`);
  }
}
