import { z } from 'zod';
import { JUDGE_ANSWER_MODES, STRUCTURED_OUTPUT_MODES } from './request-body';
import { JUDGE_STYLES } from './simulator/judge';

/** The same shape the REST contract accepts for `model` (libs/contracts runs.ts). */
const ALIAS = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** What one call costs, in US dollars per 1,000 tokens; runs report `usage.cost_usd` and may carry a cost budget. */
const PricesShape = {
  price_per_1k_prompt: z.number().min(0).max(1_000).optional(),
  price_per_1k_completion: z.number().min(0).max(1_000).optional(),
};

/**
 * Limits shared by every worker process through Redis (libs/llm/src/limits): requests and
 * tokens per minute, calls in flight. Unset means unlimited in that dimension.
 */
const LimitsShape = {
  rpm: z.number().int().min(1).optional(),
  tpm: z.number().int().min(1).optional(),
  max_in_flight: z.number().int().min(1).max(100_000).optional(),
};

/** How an alias's backend can pin down a multiple-choice answer (request-body.ts JUDGE_ANSWER_MODES). */
const judgeAnswer = z.enum(JUDGE_ANSWER_MODES).optional();
/**
 * The backend follows a JSON Schema (the ratings judge's answer): `true` or `"response_format"`
 * (OpenAI's), `"guided_json"` (vLLM), `"format"` (Ollama). Unset or false: the schema is not sent,
 * and the answer is parsed from text (request-body.ts STRUCTURED_OUTPUT_MODES).
 */
const structuredOutput = z.union([z.boolean(), z.enum(STRUCTURED_OUTPUT_MODES)]).optional();
/**
 * The largest `sampling.max_tokens` a run may ask of this alias (422 above); unset takes the
 * operator's AMEND_MAX_COMPLETION_TOKENS. What one call can cost is bounded by it.
 */
const CapShape = {
  max_tokens: z.number().int().min(1).max(1_000_000).optional(),
};

export const SimulatorModelConfigSchema = z.strictObject({
  simulator: z.literal(true),
  /** Artificial latency of the in-process simulator, for demos. */
  latency_ms: z.number().int().min(0).max(60_000).optional(),
  /** How the simulated judge words a one-letter answer ("A", "(A)", "The answer is (A)", "**A**"), or `evasive`, or `contrarian` (prefers the other answer). */
  judge_style: z.enum(JUDGE_STYLES).optional(),
  judge_answer: judgeAnswer,
  structured_output: structuredOutput,
  ...PricesShape,
  ...CapShape,
});

export const RemoteModelConfigSchema = z.strictObject({
  base_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as "https://api.openai.com/v1"' }).refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), {
    // A URL with user:password@ would put a secret in logs and describe() output.
    error: 'must not contain credentials; put the key in an environment variable named by api_key_env',
  }),
  /** The model id the backend expects, e.g. "gpt-4o-mini". */
  model: z.string().min(1, 'must not be empty'),
  api_key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the NAME of an environment variable holding the key, not the key')
    .optional(),
  /** Per attempt, covering connect, headers and body. */
  timeout_ms: z.number().int().min(1).max(3_600_000).optional(),
  max_attempts: z.number().int().min(1).max(100).optional(),
  /** Overall budget for one call across its retries. */
  deadline_ms: z.number().int().min(1).optional(),
  /** `prefill` where the backend continues a final assistant message (vLLM), `guided_choice`/`structured_outputs` where it constrains output; default `text`. */
  judge_answer: judgeAnswer,
  structured_output: structuredOutput,
  ...LimitsShape,
  ...PricesShape,
  /** The backend speaks the OpenAI Files and Batches API: runs may ask for `"batch": true`. */
  batch: z.boolean().optional(),
  /** Prices of batch calls per 1k tokens; default half the online prices, as OpenAI's Batch API charges. */
  batch_price_per_1k_prompt: z.number().min(0).max(1_000).optional(),
  batch_price_per_1k_completion: z.number().min(0).max(1_000).optional(),
  ...CapShape,
});

export type SimulatorModelConfig = z.infer<typeof SimulatorModelConfigSchema>;
export type RemoteModelConfig = z.infer<typeof RemoteModelConfigSchema>;
export type ModelConfig = SimulatorModelConfig | RemoteModelConfig;
export type ModelsConfig = Record<string, ModelConfig>;

export const DEFAULT_MODELS_CONFIG: ModelsConfig = { default: { simulator: true } };

export function isSimulatorConfig(c: ModelConfig): c is SimulatorModelConfig {
  return 'simulator' in c;
}

export interface ModelLimits {
  rpm?: number;
  tpm?: number;
  max_in_flight?: number;
}

/** The alias's shared limits, or undefined when it has none (then no limiter is built). */
export function limitsOf(c: ModelConfig): ModelLimits | undefined {
  if (isSimulatorConfig(c) || (c.rpm === undefined && c.tpm === undefined && c.max_in_flight === undefined)) return undefined;
  return { rpm: c.rpm, tpm: c.tpm, max_in_flight: c.max_in_flight };
}

export interface ModelPrices {
  prompt: number;
  completion: number;
}

/** Per-1k-token prices, or undefined when neither is configured (then runs report no cost). */
export function pricesOf(c: ModelConfig): ModelPrices | undefined {
  if (c.price_per_1k_prompt === undefined && c.price_per_1k_completion === undefined) return undefined;
  return { prompt: c.price_per_1k_prompt ?? 0, completion: c.price_per_1k_completion ?? 0 };
}

/** True when the alias is configured as a backend with the Files and Batches API. */
export function supportsBatch(c: ModelConfig): boolean {
  return !isSimulatorConfig(c) && c.batch === true;
}

/**
 * Per-1k-token prices of batch calls: the configured batch prices, else half the online ones
 * (OpenAI's Batch API discount). Undefined when the alias has no prices at all.
 */
export function batchPricesOf(c: ModelConfig): ModelPrices | undefined {
  const online = pricesOf(c);
  if (isSimulatorConfig(c) || (c.batch_price_per_1k_prompt === undefined && c.batch_price_per_1k_completion === undefined)) {
    return online && { prompt: online.prompt / 2, completion: online.completion / 2 };
  }
  return {
    prompt: c.batch_price_per_1k_prompt ?? (online ? online.prompt / 2 : 0),
    completion: c.batch_price_per_1k_completion ?? (online ? online.completion / 2 : 0),
  };
}

/**
 * Parses the AMEND_MODELS environment variable (docs/architecture.md#models). Unset or blank
 * means the built-in simulator under the alias `default`. Every error names the alias and
 * field, and never echoes the input: a key pasted where it does not belong must not reach a
 * boot log.
 */
export function parseModelsConfig(json: string | undefined): ModelsConfig {
  if (json === undefined || json.trim() === '') return structuredClone(DEFAULT_MODELS_CONFIG);
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    // V8's message quotes the input around the error; keep only the position.
    const at = /position (\d+)/.exec(String((e as Error).message))?.[1];
    throw new Error(
      `AMEND_MODELS is not valid JSON${at ? ` (at position ${at})` : ''}: expected an object like ` +
        `{"default": {"base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"}}`,
      { cause: e },
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error('AMEND_MODELS must be a JSON object mapping model aliases to model configurations');
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length === 0) throw new Error('AMEND_MODELS configures no model; configure at least one alias');

  const problems: string[] = [];
  const config: ModelsConfig = {};
  for (const [alias, value] of entries) {
    if (!ALIAS.test(alias)) {
      problems.push(`alias "${alias.slice(0, 64)}": must match ${ALIAS} (letters, digits, ".", "_", "-")`);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`alias "${alias}": must be an object, either {"simulator": true} or {"base_url", "model", ...}`);
      continue;
    }
    const schema = 'simulator' in value ? SimulatorModelConfigSchema : RemoteModelConfigSchema;
    const parsed = schema.safeParse(value);
    if (parsed.success) config[alias] = parsed.data;
    else for (const issue of parsed.error.issues) problems.push(describeIssue(alias, value, issue));
  }
  if (problems.length) throw new Error(`AMEND_MODELS is invalid:\n  ${problems.join('\n  ')}`);
  return config;
}

const REQUIRED_HINT: Record<string, string> = {
  base_url: ' (the OpenAI-compatible endpoint, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8000/v1")',
  model: ' (the model id the backend expects, e.g. "gpt-4o-mini")',
};

function describeIssue(alias: string, value: object, issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    const hint = issue.keys.some((k) => /key|token|secret|password/i.test(k))
      ? '; keys go in an environment variable named by api_key_env'
      : '; known fields are base_url, model, api_key_env, timeout_ms, max_attempts, deadline_ms, rpm, tpm, max_in_flight, ' +
        'price_per_1k_prompt, price_per_1k_completion, batch, batch_price_per_1k_prompt, batch_price_per_1k_completion, judge_answer, max_tokens ' +
        '(or simulator, latency_ms, judge_style, judge_answer, max_tokens and the prices)';
    return `alias "${alias}": unknown field ${keys}${hint}`;
  }
  const field = issue.path.length ? issue.path.join('.') : '(entry)';
  const missing = issue.path.length === 1 && !(String(issue.path[0]) in value);
  const message = missing ? `is required${REQUIRED_HINT[String(issue.path[0])] ?? ''}` : issue.message;
  return `alias "${alias}", field ${field}: ${message}`;
}
