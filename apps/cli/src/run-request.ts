import { z } from 'zod';
import { CreateRunSchema, PromptItem } from '@amend/contracts';

/** The request body as sent: only what the user chose, so the server's defaults apply to the rest. */
export type CreateRunBody = z.input<typeof CreateRunSchema>;

/** The `amend run` options that shape the run (not how the CLI waits or downloads). */
export interface RunFlags {
  constitution: string;
  mode?: string;
  rounds?: number;
  seed?: number;
  model?: string;
  feedbackModel?: string;
  /** A panel of judges, comma-separated aliases. */
  feedbackModels?: string;
  judge?: string;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  candidates?: number;
  ensemble?: number;
  cot?: boolean;
  verify?: boolean;
  minMargin?: number;
  batch?: boolean;
}

/** A body field mapped back to the flag that sets it, so errors name what the user typed. */
const FLAG_OF_FIELD: Record<string, string> = {
  constitution: '--constitution',
  mode: '--mode',
  rounds: '--rounds',
  seed: '--seed',
  model: '--model',
  feedback_model: '--feedback-model',
  feedback_models: '--feedback-models',
  judge: '--judge',
  'sampling.temperature': '--temperature',
  'sampling.top_p': '--top-p',
  'sampling.max_tokens': '--max-tokens',
  candidates: '--candidates',
  ensemble: '--ensemble',
  cot: '--cot',
  verify: '--verify',
  min_margin: '--min-margin',
  batch: '--batch',
};

export class RunFlagsError extends Error {
  constructor(readonly problems: string[]) {
    super(`the run options are not valid:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'RunFlagsError';
  }
}

/**
 * Maps `amend run` flags and the parsed prompts file to the body of POST /v1/runs, and checks it
 * against the same schema the server validates with. Pure: no I/O.
 */
export function buildCreateRunBody(flags: RunFlags, prompts: PromptItem[]): CreateRunBody {
  const body: CreateRunBody = { constitution: flags.constitution, prompts };
  if (flags.mode !== undefined) body.mode = flags.mode as CreateRunBody['mode'];
  if (flags.rounds !== undefined) body.rounds = flags.rounds;
  if (flags.seed !== undefined) body.seed = flags.seed;
  if (flags.model !== undefined) body.model = flags.model;
  if (flags.feedbackModel !== undefined) body.feedback_model = flags.feedbackModel;
  if (flags.feedbackModels !== undefined) body.feedback_models = flags.feedbackModels.split(',').map((a) => a.trim());
  if (flags.judge !== undefined) body.judge = flags.judge as CreateRunBody['judge'];
  if (flags.candidates !== undefined) body.candidates = flags.candidates;
  if (flags.ensemble !== undefined) body.ensemble = flags.ensemble;
  if (flags.cot) body.cot = true;
  if (flags.verify) body.verify = true;
  if (flags.minMargin !== undefined) body.min_margin = flags.minMargin;
  if (flags.batch) body.batch = true;

  const sampling: NonNullable<CreateRunBody['sampling']> = {};
  if (flags.temperature !== undefined) sampling.temperature = flags.temperature;
  if (flags.topP !== undefined) sampling.top_p = flags.topP;
  if (flags.maxTokens !== undefined) sampling.max_tokens = flags.maxTokens;
  if (Object.keys(sampling).length > 0) body.sampling = sampling;

  const checked = CreateRunSchema.safeParse(body);
  if (!checked.success) {
    throw new RunFlagsError(
      checked.error.issues.map((issue) => {
        const path = issue.path.map(String).join('.');
        const where = path.startsWith('prompts.')
          ? `prompt ${Number(issue.path[1]) + 1}`
          : (FLAG_OF_FIELD[path] ?? FLAG_OF_FIELD[String(issue.path[0])] ?? (path || 'body'));
        return `${where}: ${issue.message}`;
      }),
    );
  }
  return body;
}
