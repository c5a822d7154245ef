import type { Constitution } from '@amend/constitution';
import {
  draftOfVersion,
  FEEDBACK_DEFAULTS,
  type ChatMessage,
  MAX_CANDIDATES,
  MAX_ENSEMBLE,
  ROUNDS,
  type ConstitutionRef,
  type FeedbackOptions,
  type JudgeDimension,
  type PrincipleSelector,
  type Sampling,
} from '@amend/contracts';
import { PipelineError, type RunProblem } from './errors';
import { checkSelector, selectorProblem } from './principle-selection';
import { comparisonPoolProblem, comparisonPrinciples } from './feedback/judge-principles';

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
   * baseline's draft (unless the arms differ in model or sampling: `shared_draft` false) and end
   * with the judge's comparisons of the two final answers, per rubric dimension or per `dimensions`.
   */
  evaluation?: { role: 'baseline' | 'candidate'; dimensions?: readonly JudgeDimension[] | null; shared_draft?: boolean } | null;
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
  /** The prompt, or the last user turn of a multi-turn prompt (what the draft answers). */
  prompt: string;
  /** A multi-turn prompt: the whole conversation, ending with the user turn that `prompt` is. Null or absent for one string. */
  messages?: readonly ChatMessage[] | null;
  /** The submitter's metadata of the prompt; `benign: boolean` there decides refusal drift. */
  metadata?: Record<string, unknown> | null;
  /** An evaluation candidate's sample: the baseline sample's final answer, which the judge compares with. */
  baseline?: { final: string } | null;
}

/** What `runProblem` looks at: the run's options and its constitution (by name, version and principles). */
export type PlannableRun = Pick<RunSpec, 'mode' | 'rounds' | 'constitutionRef' | 'principles'> &
  Partial<Pick<RunSpec, 'feedback' | 'evaluation'>> & { constitution: Pick<Constitution, 'name' | 'version' | 'principles'> };

/**
 * The first reason these options cannot be planned, or null. The API refuses a submission with
 * it (a 422 of its code) and the worker's plan throws it, so both apply the same rules.
 */
export function runProblem(run: PlannableRun): RunProblem | null {
  if (run.mode !== 'critique-revise' && run.mode !== 'ai-feedback') {
    return { code: 'invalid_mode', message: `mode "${String(run.mode)}" is not supported; use "critique-revise" or "ai-feedback"` };
  }
  if (!Number.isInteger(run.rounds) || run.rounds < ROUNDS.min || run.rounds > ROUNDS.max) {
    return { code: 'invalid_rounds', message: `rounds must be an integer from ${ROUNDS.min} to ${ROUNDS.max}, got ${run.rounds}` };
  }
  const { constitution: c, constitutionRef: ref } = run;
  const name = `${c.name}@${c.version}`;
  // A draft's run cites `#draft`, whatever version its content carries; the sha256 binds the content.
  if (c.name !== ref.name || (c.version !== ref.version && draftOfVersion(ref.version) === undefined)) {
    // Pairs cite constitutionRef; planning with another version would misattribute every principle.
    return { code: 'constitution_mismatch', message: `run cites ${ref.name}@${ref.version} but was given ${name}` };
  }
  if (c.principles.length === 0) return { code: 'no_principles', message: `constitution ${name} has no principles` };
  // Fails before the draft, not at the first critique, when the selection names what is not there.
  const selector = run.principles && checkSelector(c.principles, run.principles);
  if (selector) return selectorProblem(selector, name);
  if (run.evaluation && (run.mode !== 'critique-revise' || feedbackOf(run).verify)) {
    return { code: 'invalid_evaluation_run', message: 'an evaluation run is critique-revise without verify' };
  }
  return isJudged(run) ? judgeableProblem(run, run.principles ? `${name} (as selected)` : name) : null;
}

/** Throws the run's problem, if any, as a PipelineError (the worker fails the sample with its message). */
export function assertPlannable(run: PlannableRun): void {
  const problem = runProblem(run);
  if (problem) throw new PipelineError('invalid_run', problem.message);
}

/** Feedback options in range, and enough comparison questions for the ensemble. */
function judgeableProblem(run: PlannableRun, where: string): RunProblem | null {
  const f = feedbackOf(run);
  const invalid = (message: string): RunProblem => ({ code: 'invalid_feedback_options', message });
  if (run.mode === 'ai-feedback' && (!Number.isInteger(f.candidates) || f.candidates < 2 || f.candidates > MAX_CANDIDATES)) {
    return invalid(`candidates must be an integer from 2 to ${MAX_CANDIDATES}, got ${f.candidates}`);
  }
  if (!Number.isInteger(f.ensemble) || f.ensemble < 1 || f.ensemble > MAX_ENSEMBLE) {
    return invalid(`ensemble must be an integer from 1 to ${MAX_ENSEMBLE}, got ${f.ensemble}`);
  }
  if (!(f.min_margin >= 0 && f.min_margin <= 1)) return invalid(`min_margin must be from 0 to 1, got ${f.min_margin}`);
  return comparisonPoolProblem(comparisonPrinciples(run.constitution.principles, run.principles), f.ensemble, where);
}
