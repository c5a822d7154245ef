/**
 * Every code an error body (`{error: {code, message, details}}`) can carry, with its HTTP status
 * and what it means: a closed list, so the API, the CLI and the console agree on each code and
 * docs/errors.md (checked against this table by a test) cannot drift. A new error gets its code
 * here first; the compiler then holds every throw to this list.
 */
export const ERROR_CODES = {
  // 400: the body cannot be read at all.
  invalid_json: { status: 400, meaning: 'The body is not valid JSON.' },
  constitution_syntax: { status: 400, meaning: 'The constitution is not valid YAML (or the H4 document not valid JSON of its shape); details name the line.' },
  bad_request: { status: 400, meaning: 'The HTTP layer refused the request before Amend read it.' },

  // 401 and 403: who is asking, and may they.
  unauthenticated: { status: 401, meaning: 'No `Authorization: Bearer amd_...` header.' },
  invalid_key: { status: 401, meaning: 'The key is unknown or revoked.' },
  forbidden: { status: 403, meaning: "The key's role may not do this, or the constitution name belongs to another team." },
  no_access_rule: { status: 403, meaning: 'The route has no access rule yet, so nobody may call it (a server bug; report it).' },

  // 404: what the request names is not there (another team's runs are 404 too, so ids do not leak).
  not_found: { status: 404, meaning: 'No such route (an older server, or a feature not deployed).' },
  run_not_found: { status: 404, meaning: 'No run with this id that the key may read.' },
  sample_not_found: { status: 404, meaning: 'No sample with this id that the key may read.' },
  pair_not_found: { status: 404, meaning: 'No pair with this id that the key may read.' },
  key_not_found: { status: 404, meaning: 'No key with this id.' },
  evaluation_not_found: { status: 404, meaning: 'No evaluation with this id that the key may read.' },
  constitution_not_found: { status: 404, meaning: 'No such constitution, version or non-deprecated version; details list what there is.' },
  suggestion_not_found: { status: 404, meaning: 'No suggestion set with this id that the key may read.' },
  draft_not_found: { status: 404, meaning: "No draft of this name of the constitution in the key's team (another team's drafts are 404 too)." },
  eval_set_not_found: { status: 404, meaning: 'No bundled evaluation set of this name (GET /v1/evaluations/sets lists them).' },
  console_not_built: { status: 404, meaning: 'The web console was not built on this server (`npm run build:console`).' },

  read_only: { status: 405, meaning: 'The queue dashboard is read-only (AMEND_QUEUE_DASHBOARD_ACTIONS).' },

  // 409: the request collides with what is stored.
  conflict: { status: 409, meaning: 'Another request changed the same thing at the same time; ask again.' },
  idempotency_key_reused: { status: 409, meaning: 'The Idempotency-Key was used with another body.' },
  already_erased: { status: 409, meaning: 'The sample was erased already; details say by whom and when.' },
  run_not_finished: { status: 409, meaning: 'The run is still going: cancel it or wait for it to finish, then erase.' },
  constitution_immutable: { status: 409, meaning: 'That version is published with other content; publish a new version number.' },
  review_slots_full: {
    status: 409,
    meaning: "Every review the run's review policy asks of this pair is done or held by another reviewer's lease; take the next pair from the review queue.",
  },
  suggestion_not_ready: { status: 409, meaning: 'The suggestion set has not finished, or has no suggestion of that rank.' },

  body_too_large: { status: 413, meaning: 'The body is over its limit (AMEND_MAX_BODY_BYTES, AMEND_MAX_STREAMED_BODY_BYTES, AMEND_MAX_CONSTITUTION_BYTES).' },

  unsupported_media_type: { status: 415, meaning: 'The Content-Type is not one the route takes.' },
  unsupported_encoding: { status: 415, meaning: 'The body has a Content-Encoding or charset the server does not read.' },

  // 422: the body reads but says something the service cannot do.
  invalid_request: { status: 422, meaning: 'The body or query breaks its schema or a request limit; details list the issues by path.' },
  invalid_value: { status: 422, meaning: 'A value passed the schema but not the database (out of range, not a UUID); details give the reason.' },
  invalid_text: { status: 422, meaning: 'A text holds NUL or a lone UTF-16 surrogate, which cannot be stored.' },
  invalid_cursor: { status: 422, meaning: 'The cursor is not one this API returned.' },
  invalid_search: { status: 422, meaning: 'The search text `q` holds no word that can be searched (only stop words such as "the", or punctuation).' },
  invalid_idempotency_key: { status: 422, meaning: 'The Idempotency-Key header is not 1-255 printable characters.' },
  invalid_review: { status: 422, meaning: 'The review does not fit the pair (e.g. an edit that changes nothing).' },
  over_limit: {
    status: 422,
    meaning: 'The run asks for more than the operator allows (calls per prompt, max_tokens, budget, team quota); details name the setting.',
  },
  no_labelled_pairs: {
    status: 422,
    meaning: 'A suggestion job has no labelled pair to learn from (a run nobody reviewed, an empty or malformed preference file); details say which.',
  },
  suggestion_over_budget: { status: 422, meaning: "A suggestion job's estimate is over its budget; details give both." },
  too_many_prompts: { status: 422, meaning: "More prompts than the key's prompts_per_run (or the evaluation limit)." },
  unknown_model: { status: 422, meaning: 'The model alias is not configured (AMEND_MODELS); details list the aliases.' },
  budget_without_prices: { status: 422, meaning: 'A cost budget needs prices for every model alias of the run.' },
  batch_unsupported: { status: 422, meaning: 'A batch run needs aliases configured with `batch: true`.' },
  batch_budget_unsupported: { status: 422, meaning: 'A batch run cannot have a budget.' },
  batch_label_guard_unsupported: { status: 422, meaning: 'A batch run cannot have a judge-label guard.' },
  constitution_sha256_mismatch: { status: 422, meaning: 'The version resolved does not have the constitution_sha256 the run pinned.' },
  constitution_invalid: { status: 422, meaning: 'The constitution breaks its schema; details name each field and its fix.' },
  constitution_layout: { status: 422, meaning: 'A constitution file is not at constitutions/<name>/<version>.yaml, or disagrees with its path.' },
  constitution_unreadable: { status: 422, meaning: 'A constitution file could not be read.' },
  // A run's options the pipeline cannot plan (libs/pipeline runProblem).
  invalid_mode: { status: 422, meaning: 'The mode is not critique-revise or ai-feedback.' },
  invalid_rounds: { status: 422, meaning: 'The number of rounds is out of range.' },
  constitution_mismatch: { status: 422, meaning: 'The constitution given is not the version the run cites.' },
  no_principles: { status: 422, meaning: 'The constitution has no principles.' },
  unknown_principles: { status: 422, meaning: 'The principle selection names ids or tags the constitution does not have; details list them.' },
  invalid_feedback_options: { status: 422, meaning: 'The feedback options are out of range or do not fit the mode.' },
  no_comparison_principles: { status: 422, meaning: 'Judging needs principles with a `comparison` question, and the selection has none.' },
  ensemble_too_large: { status: 422, meaning: 'The ensemble asks for more comparison principles than the selection has.' },
  draft_not_runnable: { status: 422, meaning: 'A run takes a published version, not a draft (`name#draft`): publish the draft, or preview or evaluate it.' },
  invalid_evaluation_run: { status: 422, meaning: 'An evaluation run is critique-revise without verify.' },
  empty_export: { status: 422, meaning: 'The export holds no pair, so there is nothing to push; details.excluded says what was left out and why.' },
  hub_not_configured: { status: 422, meaning: "No Hugging Face token for the run's team (AMEND_HF_TOKENS), or it does not start with hf_." },

  // 429: too much, too fast.
  rate_limited: { status: 429, meaning: "The key's requests_per_minute is used up; Retry-After says when to retry." },
  too_many_active_runs: { status: 429, meaning: 'The key has its concurrent_runs queued or running; Retry-After says when to look again.' },
  too_many_auth_failures: { status: 429, meaning: 'Too many failed authentications from this address (AMEND_AUTH_FAILURES_PER_MINUTE).' },

  // The Hugging Face Hub's answers to a push (POST /v1/runs/{id}/exports/hub), as what they are; the message quotes the Hub's.
  hub_rate_limited: { status: 429, meaning: 'The Hugging Face Hub rate-limited the push (its 429); push again later.' },

  internal_error: { status: 500, meaning: 'A bug: the server logged it.' },
  hub_unauthorized: { status: 502, meaning: 'The Hugging Face Hub refused the token (its 401): expired, revoked or mistyped.' },
  hub_forbidden: {
    status: 502,
    meaning: "The Hugging Face Hub's 403: the token may not write to this namespace or repository (a read token, a fine-grained token without it).",
  },
  hub_not_found: { status: 502, meaning: "The Hugging Face Hub's 404: no such namespace, repository or branch the token can see." },
  hub_conflict: { status: 502, meaning: "The Hugging Face Hub's 409: the repository or branch changed meanwhile (or its name is taken); push again." },
  hub_too_large: { status: 502, meaning: "The Hugging Face Hub's 413: a file or the commit is over the Hub's limits." },
  hub_error: { status: 502, meaning: 'The Hugging Face Hub failed (a 5xx) or could not be reached (HF_ENDPOINT); the message says which.' },
  unavailable: { status: 503, meaning: 'Postgres or Redis is unreachable; retry shortly.' },
  database_busy: { status: 503, meaning: 'A lock, a statement or a pool connection waited past its timeout; Retry-After says when to retry.' },
  rate_limiter_unavailable: { status: 503, meaning: 'Redis is down and AMEND_RATE_LIMITS_FAIL_CLOSED refuses requests meanwhile.' },
  preview_timeout: { status: 504, meaning: 'A preview did not finish within timeout_ms and was cancelled; details name its run.' },
} as const satisfies Record<string, { status: ErrorStatus; meaning: string }>;

/** The statuses an error body comes with. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

export function errorStatus(code: ErrorCode): ErrorStatus {
  return ERROR_CODES[code].status;
}

/** The codes of one status, in catalogue order (OpenAPI lists them per status). */
export function codesOfStatus(status: ErrorStatus): ErrorCode[] {
  return (Object.keys(ERROR_CODES) as ErrorCode[]).filter((c) => ERROR_CODES[c].status === status);
}

/** The Hub's answers that asking again does not change: the token or the request must change first. */
const HUB_REFUSALS = new Set<string>(['hub_unauthorized', 'hub_forbidden', 'hub_not_found', 'hub_too_large'] satisfies ErrorCode[]);

/**
 * An error with a catalogue code: the one base of the errors the API answers (its own ApiError,
 * the store's StoreError, the constitution loader's ConstitutionError). The error filter maps any
 * of them to its status through the catalogue, so a code has one status wherever it is thrown.
 */
export class CodedError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  get status(): ErrorStatus {
    return errorStatus(this.code);
  }
}

/**
 * An error answer as a client (the CLI, the console) receives it: status and code to switch on,
 * never the message text. `code` is a string: a newer server may send a code this client does not
 * know yet, and it still gets shown.
 */
export class ErrorAnswer extends Error {
  constructor(
    /** HTTP status, or null when no answer came back. */
    readonly status: number | null,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ErrorAnswer';
  }

  /** Worth asking again: the server was unreachable, overloaded or briefly broken (not a Hub's lasting refusal, a 502 too). */
  get transient(): boolean {
    if (HUB_REFUSALS.has(this.code)) return false;
    return this.status === null || this.status === 429 || this.status >= 500;
  }

  /** The server has no such route (an older server, or a feature not deployed); a missing run or pair has its own code. */
  get routeMissing(): boolean {
    return this.code === 'not_found';
  }
}
