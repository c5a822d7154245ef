import { CodedError } from '@amend/contracts';

/** The catalogue codes the store refuses with (libs/contracts/src/error-codes.ts); the API maps them to HTTP in one filter. */
export type StoreErrorCode =
  | 'run_not_found'
  | 'pair_not_found'
  | 'conflict'
  | 'idempotency_key_reused'
  | 'constitution_immutable'
  | 'invalid_cursor'
  | 'invalid_search'
  | 'forbidden'
  | 'review_slots_full';

export class StoreError extends CodedError<StoreErrorCode> {}

/**
 * Postgres data exceptions (SQLSTATE class 22) that a value from a request causes: out of range
 * for its column, not of its type, not storable as text. Input validation should stop such a
 * value first; these name the ones that got through, so the API answers 422 instead of 500.
 * Others of the class (division by zero, ...) stay server errors: no request value causes them.
 */
const INPUT_DATA_EXCEPTIONS: Record<string, string> = {
  '22001': 'a text is longer than the database column allows',
  '22003': 'a number is out of the range the database stores',
  '22007': 'a date or time is not in a format the database reads',
  '22008': 'a date or time is out of the range the database stores',
  '22019': 'an escape character is not valid',
  '22021': 'a text holds a character the database cannot store (e.g. NUL, U+0000)',
  '22025': 'an escape sequence is not valid',
  '2201B': 'a regular expression is not valid',
  '2201W': 'a row count (LIMIT) is not valid',
  '2201X': 'a row offset (OFFSET) is not valid',
  '22P02': 'a value is not of the type the database expects (e.g. an id that is not a UUID)',
  '22P05': 'a text holds a character the database cannot store (e.g. \\u0000 in JSON)',
};

/** What was wrong with the request's value, if `err` is a Postgres data exception one causes. */
export function inputDataException(err: unknown): { sqlstate: string; message: string; detail: string } | undefined {
  const e = err as { code?: unknown; severity?: unknown; message?: unknown } | null;
  // pg's DatabaseError: a five-character SQLSTATE and a severity (socket errors have a code only).
  if (!e || typeof e.code !== 'string' || typeof e.severity !== 'string') return undefined;
  const message = INPUT_DATA_EXCEPTIONS[e.code];
  return message ? { sqlstate: e.code, message, detail: String(e.message ?? '') } : undefined;
}
