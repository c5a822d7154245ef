import { ERROR_CODES, ErrorAnswer, codesOfStatus, errorStatus, isErrorCode, type ErrorCode } from './error-codes';

/**
 * The status of every code, written out by hand from the design ("Errors and bad input": 400 a
 * body that cannot be read, 401/403 who and may they, 404 what is not there, 409 a collision with
 * what is stored, 413/415 the body's size and type, 422 a body that reads but cannot be done, 429
 * too much, 503 a service down) and the codes the API answered before the catalogue.
 */
const EXPECTED: Record<string, number> = {
  invalid_json: 400,
  constitution_syntax: 400,
  bad_request: 400,
  unauthenticated: 401,
  invalid_key: 401,
  forbidden: 403,
  no_access_rule: 403,
  not_found: 404,
  run_not_found: 404,
  sample_not_found: 404,
  pair_not_found: 404,
  key_not_found: 404,
  evaluation_not_found: 404,
  constitution_not_found: 404,
  eval_set_not_found: 404,
  draft_not_found: 404,
  suggestion_not_found: 404,
  console_not_built: 404,
  read_only: 405,
  conflict: 409,
  idempotency_key_reused: 409,
  constitution_immutable: 409,
  already_erased: 409,
  run_not_finished: 409,
  review_slots_full: 409,
  suggestion_not_ready: 409,
  body_too_large: 413,
  unsupported_media_type: 415,
  unsupported_encoding: 415,
  invalid_request: 422,
  invalid_value: 422,
  invalid_text: 422,
  invalid_cursor: 422,
  invalid_search: 422,
  invalid_idempotency_key: 422,
  invalid_review: 422,
  over_limit: 422,
  too_many_prompts: 422,
  unknown_model: 422,
  budget_without_prices: 422,
  batch_unsupported: 422,
  batch_budget_unsupported: 422,
  batch_label_guard_unsupported: 422,
  constitution_sha256_mismatch: 422,
  constitution_invalid: 422,
  constitution_layout: 422,
  constitution_unreadable: 422,
  invalid_mode: 422,
  invalid_rounds: 422,
  constitution_mismatch: 422,
  no_principles: 422,
  draft_not_runnable: 422,
  no_labelled_pairs: 422,
  suggestion_over_budget: 422,
  unknown_principles: 422,
  invalid_feedback_options: 422,
  no_comparison_principles: 422,
  ensemble_too_large: 422,
  invalid_evaluation_run: 422,
  too_many_active_runs: 429,
  rate_limited: 429,
  too_many_auth_failures: 429,
  internal_error: 500,
  unavailable: 503,
  database_busy: 503,
  rate_limiter_unavailable: 503,
  preview_timeout: 504,
  // A push to the Hugging Face Hub: no token for the team is the operator's to fix (422); the Hub's
  // rate limit is a 429 like ours; what the Hub refused or failed is a bad gateway (502).
  empty_export: 422,
  hub_not_configured: 422,
  hub_rate_limited: 429,
  hub_unauthorized: 502,
  hub_forbidden: 502,
  hub_not_found: 502,
  hub_conflict: 502,
  hub_too_large: 502,
  hub_error: 502,
};

describe('the error catalogue', () => {
  it('holds exactly the codes of the hand-written table', () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('answers %s with HTTP %i', (code, status) => {
    expect(isErrorCode(code)).toBe(true);
    expect(errorStatus(code as ErrorCode)).toBe(status);
  });

  it('says what each code means, as a sentence', () => {
    for (const [code, { meaning }] of Object.entries(ERROR_CODES))
      expect({ code, meaning }).toEqual({ code, meaning: expect.stringMatching(/^[A-Z`].{10,}\.$/) });
  });

  it('lists the codes of one status together, and no code under two', () => {
    expect(codesOfStatus(401)).toEqual(['unauthenticated', 'invalid_key']);
    expect(codesOfStatus(409)).toEqual([
      'conflict',
      'idempotency_key_reused',
      'already_erased',
      'run_not_finished',
      'constitution_immutable',
      'review_slots_full',
      'suggestion_not_ready',
    ]);
    const all = ([400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503, 504] as const).flatMap((s) => codesOfStatus(s));
    expect(all.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('knows no code outside the list', () => {
    expect(isErrorCode('http_404')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });
});

describe('an error answer as a client holds it', () => {
  it.each([
    [null, 'unreachable', true],
    [429, 'rate_limited', true],
    [503, 'unavailable', true],
    [500, 'internal_error', true],
    [422, 'invalid_request', false],
    [404, 'run_not_found', false],
    [502, 'hub_error', true],
    [502, 'hub_conflict', true],
    [502, 'hub_unauthorized', false],
    [502, 'hub_forbidden', false],
  ] as const)('with status %s and code %s is worth retrying: %s', (status, code, transient) => {
    expect(new ErrorAnswer(status, code, 'x').transient).toBe(transient);
  });
});
