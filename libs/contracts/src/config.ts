import { z } from 'zod';

/** An empty variable counts as unset (`FOO=` in a compose file or a shell), as it always has. */
const unsetIfEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema);
const positiveInt = (fallback: number) => unsetIfEmpty(z.coerce.number().int().min(1).default(fallback));
const optionalPositiveInt = () => unsetIfEmpty(z.coerce.number().int().min(1).optional());
/** `key=value,key2=value2`, the format of the OTEL_* header and resource variables (values may be percent-encoded). */
const OTLP_HEADERS = /^\s*[^=,\s]+\s*=[^,]*(,\s*[^=,\s]+\s*=[^,]*)*$/;
const optionalPositive = () => unsetIfEmpty(z.coerce.number().positive().optional());

/**
 * The service's environment, validated once at boot (docs/configuration.md lists every variable):
 * a bad value stops boot naming the variable, instead of failing the first request that reads it.
 * Nothing else in the service reads process.env (the lint holds it to the entry points).
 */
export const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/amend'),
  /** Postgres schema holding Amend's tables; tests give each file its own. */
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default('public'),
  /** Prefix of every BullMQ key; tests give each file its own. */
  /** `{amend}` (a hash tag) keeps every key of the queue in one Redis Cluster slot, as BullMQ needs there. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^(\{[A-Za-z0-9_.-]+\}|[A-Za-z0-9_.-]+)$/)
    .default('amend'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(4096).default(64),
  /** Worker processes `start:worker` forks (one event loop per core), each with WORKER_CONCURRENCY. */
  WORKER_PROCESSES: z.coerce.number().int().min(1).max(256).default(1),
  /**
   * Postgres connections per process. Unset: sized to the work, WORKER_CONCURRENCY / 8 + 8
   * between 10 and 40 (checkpoints share group commits, so a worker needs few; claims and the
   * API's requests take the rest).
   */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(1000).optional(),
  /**
   * `off` lets Postgres acknowledge a commit before its WAL reaches disk (an operator's choice,
   * docs/scaling.md): a Postgres crash (not a process crash) can then lose the last fraction of a
   * second of checkpoints, whose calls are paid again. The default stays durable.
   */
  DATABASE_SYNCHRONOUS_COMMIT: z.enum(['on', 'off']).default('on'),
  /*
   * Time limits on the service's Postgres sessions (docs/concurrency.md): the last line against a
   * hang, each answered as an error that is retried or reported. 0 turns one off. The migrate step
   * runs without them, and an export's COPY has its own statement limit.
   */
  /** `lock_timeout`: the longest one statement waits for a row or table lock. */
  DATABASE_LOCK_TIMEOUT_MS: unsetIfEmpty(z.coerce.number().int().min(0).default(10_000)),
  /** `statement_timeout`: the longest one statement runs (exports: DATABASE_EXPORT_TIMEOUT_MS). */
  DATABASE_STATEMENT_TIMEOUT_MS: unsetIfEmpty(z.coerce.number().int().min(0).default(60_000)),
  /** `idle_in_transaction_session_timeout`: a transaction left idle this long is ended by Postgres. */
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: unsetIfEmpty(z.coerce.number().int().min(0).default(60_000)),
  /** The longest a query waits for a free pool connection before it fails (pg's connectionTimeoutMillis). */
  DATABASE_POOL_WAIT_TIMEOUT_MS: unsetIfEmpty(z.coerce.number().int().min(0).default(30_000)),
  /** `statement_timeout` of an export's COPY, which streams at the reader's pace. */
  DATABASE_EXPORT_TIMEOUT_MS: unsetIfEmpty(z.coerce.number().int().min(0).default(3_600_000)),
  /** /ready answers 503 while a query of this process has waited this long for a pool connection. */
  READY_POOL_WAIT_MS: positiveInt(5_000),
  /** How long a worker may go silent before its jobs count as stalled and move to another worker. */
  WORKER_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
  /** The reconciler re-enqueues unfinished samples Redis lost, at boot and this often. */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1000).default(60_000),
  /**
   * On SIGTERM a worker stops taking jobs and gives the calls in flight this long to finish;
   * then it aborts them and hands their jobs back to the queue.
   */
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  /** A worker process on its own serves Prometheus metrics on this port; unset or 0 = off. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** How often the batch coordinator looks at pending provider batches and plans the next wave. */
  BATCH_POLL_MS: z.coerce.number().int().min(50).default(10_000),
  /** A coordinator silent this long loses its runs to another worker process (one drives a run's waves at a time). */
  BATCH_LEASE_MS: z.coerce.number().int().min(500).default(60_000),
  /** Failed lines of a (sample, stage) asked again in later waves before the sample fails. */
  BATCH_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  /** How long a pair taken from a run's review queue stays the reviewer's before another may take its slot (docs/ml-teams.md#review-by-several-reviewers). */
  AMEND_REVIEW_LEASE_MS: z.coerce.number().int().min(1000).max(86_400_000).default(600_000),
  AMEND_MODELS: z.string().optional(),
  AMEND_ADMIN_KEY: z.string().optional(),
  CONSTITUTIONS_DIR: z.string().default('constitutions'),
  /** Bundled evaluation sets, one folder each with a set.json (evaluations' `eval_set`). */
  EVALSETS_DIR: z.string().default('evalsets'),
  /**
   * Express's `trust proxy`: behind a reverse proxy, whose X-Forwarded-For names the client
   * address that failed authentications are counted against ("loopback", a hop count, subnets).
   * Unset: the socket's peer address.
   */
  AMEND_TRUST_PROXY: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? undefined : /^\d+$/.test(v) ? Number(v) : v === 'true' ? true : v)),
  /** Failed authentications per client address per minute before the address gets 429 (key guessing, floods without a key). */
  AMEND_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  /** With Redis down, refuse requests (503) instead of serving them without rate limits. */
  AMEND_RATE_LIMITS_FAIL_CLOSED: z
    .enum(['true', 'false', '1', '0', ''])
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  /** The queue dashboard may pause, retry, clean and remove jobs (off: it only shows them). */
  AMEND_QUEUE_DASHBOARD_ACTIONS: z
    .enum(['true', 'false', '1', '0', ''])
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  /**
   * Hugging Face tokens by team, for `POST /v1/runs/{id}/exports/hub`: a JSON object of team name
   * to token (`{"research":"hf_..."}`), each a write token of the namespaces that team publishes
   * to. Held in a HubTokens, which neither JSON nor a log line shows. Unset: no pushes.
   */
  AMEND_HF_TOKENS: unsetIfEmpty(z.string().optional()).transform((v, ctx) => {
    if (v === undefined) return undefined;
    const parsed = parseTokenMap(v);
    // The message never quotes the value: it holds tokens.
    if (!parsed) ctx.addIssue({ code: 'custom', message: 'expected a JSON object of team names to Hugging Face tokens, e.g. {"research":"hf_..."}' });
    return parsed ?? undefined;
  }),
  /** The Hugging Face Hub's address (as the Hub's own clients read it); unset: https://huggingface.co. */
  HF_ENDPOINT: unsetIfEmpty(z.string().url().optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // Request limits (413 or 422 naming the variable when a request goes past one).
  /** Prompts in one run. */
  AMEND_MAX_PROMPTS: positiveInt(100_000),
  /** Characters of one prompt, or of one message of a multi-turn prompt. */
  AMEND_MAX_PROMPT_CHARS: positiveInt(32_000),
  /** Messages of a multi-turn prompt. */
  AMEND_MAX_PROMPT_MESSAGES: positiveInt(64),
  /**
   * Characters of a multi-turn prompt, all messages together. Unset: twice AMEND_MAX_PROMPT_CHARS,
   * so a conversation and the constitution's few-shot prefix still fit a 32k context.
   */
  AMEND_MAX_CONVERSATION_CHARS: optionalPositiveInt(),
  /**
   * A JSON body in bytes, read into memory only after the key was checked: a few thousand
   * prompts. Larger runs stream as JSON Lines, which is never held whole.
   */
  AMEND_MAX_BODY_BYTES: positiveInt(4 * 1024 * 1024),
  /** A streamed (JSON Lines) run upload in bytes: bounded by prompts per run and prompt size anyway. */
  AMEND_MAX_STREAMED_BODY_BYTES: positiveInt(1024 * 1024 * 1024),
  /** A constitution body (YAML or JSON); the bundled ones are 10-20 KB. */
  AMEND_MAX_CONSTITUTION_BYTES: positiveInt(1024 * 1024),
  /**
   * Prompts per evaluation. Each costs about 20 calls at one round (two constitutions and up to
   * 14 judge calls), so 2,000 prompts are already ~40,000 calls; XSTest's 450 fit with room.
   */
  AMEND_MAX_EVALUATION_PROMPTS: positiveInt(2_000),

  // What a run may spend (docs/architecture.md#roles-and-access: default and maximum budgets per run, spend quotas per team).
  /** Model calls one prompt may cost (critique-revise 1 + 2·rounds [+ 2·ensemble with verify]; ai-feedback n + n(n-1)·ensemble). */
  AMEND_MAX_CALLS_PER_PROMPT: positiveInt(40),
  /** max_tokens per call, for aliases without their own `max_tokens` in AMEND_MODELS. */
  AMEND_MAX_COMPLETION_TOKENS: positiveInt(8192),
  /** The token budget of a run that asks for none; unset: none. */
  AMEND_RUN_BUDGET_TOKENS: optionalPositiveInt(),
  /** The cost budget (USD) of a run that asks for none; unset: none. */
  AMEND_RUN_BUDGET_COST_USD: optionalPositive(),
  /** The largest token budget a run may ask for; unset: no maximum. */
  AMEND_RUN_MAX_BUDGET_TOKENS: optionalPositiveInt(),
  /** The largest cost budget (USD) a run may ask for; unset: no maximum. */
  AMEND_RUN_MAX_BUDGET_COST_USD: optionalPositive(),
  /** Tokens a team's runs may spend per UTC day, reserved by each run's token budget when it is created; unset: no quota. */
  AMEND_TEAM_DAILY_TOKENS: optionalPositiveInt(),

  // Traces (OpenTelemetry, OTLP over HTTP; docs/operators.md#traces). The standard OTEL_* names; off unless an endpoint is set.
  /** `true` turns tracing off even with an endpoint set, as the OpenTelemetry SDKs read it. */
  OTEL_SDK_DISABLED: z
    .enum(['true', 'false', 'TRUE', 'FALSE', ''])
    .optional()
    .transform((v) => v?.toLowerCase() === 'true'),
  /** Base URL of the OTLP/HTTP receiver; traces go to `<endpoint>/v1/traces`. Unset (and no traces endpoint): tracing is off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: unsetIfEmpty(z.url({ protocol: /^https?$/ }).optional()),
  /** The full URL traces are posted to, used as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: unsetIfEmpty(z.url({ protocol: /^https?$/ }).optional()),
  /** `key=value,key2=value2` headers of every export (a Langfuse `Authorization=Basic ...`); never logged. */
  OTEL_EXPORTER_OTLP_HEADERS: unsetIfEmpty(z.string().regex(OTLP_HEADERS, 'must be key=value pairs separated by commas').optional()),
  /** Headers of trace exports only, added to OTEL_EXPORTER_OTLP_HEADERS (and winning over them). */
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: unsetIfEmpty(z.string().regex(OTLP_HEADERS, 'must be key=value pairs separated by commas').optional()),
  /** `http/protobuf` (Phoenix takes only this) or `http/json`; gRPC is not supported. */
  OTEL_EXPORTER_OTLP_PROTOCOL: unsetIfEmpty(z.enum(['http/protobuf', 'http/json']).default('http/protobuf')),
  /** `service.name` of the spans. Unset: `amend-api`, `amend-worker` (the process that made them). */
  OTEL_SERVICE_NAME: unsetIfEmpty(z.string().max(256).optional()),
  /** More resource attributes, `key=value,key2=value2` (`deployment.environment.name=prod`). */
  OTEL_RESOURCE_ATTRIBUTES: unsetIfEmpty(z.string().regex(OTLP_HEADERS, 'must be key=value pairs separated by commas').optional()),
  /** Which traces are kept, by the specification's names; `parentbased_*` follow a caller's `traceparent` decision. */
  OTEL_TRACES_SAMPLER: unsetIfEmpty(
    z
      .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
      .default('parentbased_always_on'),
  ),
  /** The ratio of the `*traceidratio` samplers, 0 to 1. */
  OTEL_TRACES_SAMPLER_ARG: unsetIfEmpty(z.coerce.number().min(0).max(1).default(1)),
  /**
   * Puts the messages sent and the answer on each model call's span (`gen_ai.input.messages`,
   * `gen_ai.output.messages`): `true` (or `SPAN_ONLY`, `SPAN_AND_EVENT`). Off by default: prompts
   * and answers may hold personal data.
   */
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: unsetIfEmpty(
    z
      .string()
      .regex(/^(true|false|no_content|span_only|span_and_event|event_only)$/i, 'must be true, false, NO_CONTENT, SPAN_ONLY, SPAN_AND_EVENT or EVENT_ONLY')
      .optional()
      .transform((v) => v !== undefined && ['true', 'span_only', 'span_and_event', 'event_only'].includes(v.toLowerCase())),
  ),

  // Server defaults of the per-key limits; a key's own limits override them.
  AMEND_KEY_REQUESTS_PER_MINUTE: positiveInt(600),
  AMEND_KEY_CONCURRENT_RUNS: positiveInt(10),
  /** Never above AMEND_MAX_PROMPTS. Unset: AMEND_MAX_PROMPTS. */
  AMEND_KEY_PROMPTS_PER_RUN: optionalPositiveInt(),
});
export type Config = z.infer<typeof ConfigSchema>;

/**
 * The Hugging Face tokens of AMEND_HF_TOKENS by team. The tokens sit in a private field, so
 * `JSON.stringify`, `String` and a logger's inspection of the config show the team names only.
 */
export class HubTokens {
  readonly #byTeam: ReadonlyMap<string, string>;

  constructor(byTeam: Record<string, string>) {
    this.#byTeam = new Map(Object.entries(byTeam));
  }

  forTeam(team: string): string | undefined {
    return this.#byTeam.get(team);
  }

  get teams(): string[] {
    return [...this.#byTeam.keys()];
  }

  toJSON(): { teams: string[] } {
    return { teams: this.teams };
  }

  toString(): string {
    return `HubTokens(${this.teams.join(', ')})`;
  }
}

function parseTokenMap(text: string): HubTokens | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const entries = Object.entries(value);
  if (!entries.every(([team, token]) => team !== '' && typeof token === 'string' && token !== '')) return null;
  return new HubTokens(Object.fromEntries(entries) as Record<string, string>);
}

/** The environment is a parameter (the entry points pass process.env), so this library reads none itself. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
