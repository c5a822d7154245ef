import { CodedError, type ErrorCode } from '@amend/contracts';

/**
 * An error the API answers with the design's error body: a code of the catalogue
 * (libs/contracts/src/error-codes.ts), whose status it takes from there, so a code has one status
 * wherever it is thrown.
 */
export class ApiError<C extends ErrorCode = ErrorCode> extends CodedError<C> {
  constructor(
    code: C,
    message: string,
    details?: unknown,
    /** Headers the answer carries, e.g. Retry-After on a 429. */
    readonly headers?: Record<string, string>,
  ) {
    super(code, message, details);
  }
}

// One builder for each error that more than one route answers, so each has one message and one details shape.

type Noun = 'run' | 'sample' | 'pair' | 'key' | 'evaluation' | 'suggestion';
const NOT_FOUND = {
  run: 'run_not_found',
  sample: 'sample_not_found',
  pair: 'pair_not_found',
  key: 'key_not_found',
  evaluation: 'evaluation_not_found',
  suggestion: 'suggestion_not_found',
} as const satisfies Record<Noun, ErrorCode>;

/**
 * No such id that the caller may read (another team's is the same 404, so ids do not leak); `id`
 * null: the path's id is not a UUID, so it names nothing either.
 */
export function notFound(noun: Noun, id: string | null): ApiError {
  if (id === null) return new ApiError(NOT_FOUND[noun], `no such ${noun} (ids are UUIDs)`);
  return new ApiError(NOT_FOUND[noun], `no ${noun} ${id}`, { id });
}

/**
 * A constitution, version or non-deprecated version that is not there. `known`: what is there
 * (null: not looked up, the name or version cannot exist). The message and `details.available`
 * ("name@x.y.z") list the versions of the name asked for when it has some, else every name's;
 * `field`: where the request named it.
 */
export function constitutionNotFound(requested: string, why: string, known: readonly { name: string; version: string }[] | null, field?: string): ApiError {
  const name = requested.split('@')[0];
  const own = known?.filter((c) => c.name === name) ?? [];
  const shown = own.length > 0 ? own : (known ?? []);
  const listed =
    known === null
      ? ''
      : own.length > 0
        ? `; versions: ${own.map((c) => c.version).join(', ')}`
        : `; available: ${[...new Set(shown.map((c) => c.name))].join(', ') || 'none'}`;
  return new ApiError('constitution_not_found', `${field ? `${field}: ` : ''}${why}${listed}`, {
    requested: requested.slice(0, 200),
    available: shown.map((c) => `${c.name}@${c.version}`),
    ...(field && { field }),
  });
}

export function unknownModel(alias: string, aliases: string[]): ApiError {
  return new ApiError('unknown_model', `no model alias "${alias}"; configured aliases: ${aliases.join(', ')}`, { available: aliases });
}

/**
 * `actual`: the body's size when it is known (its Content-Length), or the bytes read when reading
 * stopped (a streamed body without one): then "at least".
 */
export function bodyTooLarge(what: string, limit: number, setting: string, advice = '', actual?: { bytes: number; atLeast?: boolean }): ApiError {
  const size = actual ? `${what} is ${actual.atLeast ? 'at least ' : ''}${actual.bytes.toLocaleString('en')} bytes; ` : `${what} is larger than the limit: `;
  return new ApiError('body_too_large', `${size}the limit is ${limit.toLocaleString('en')} bytes (${setting})${advice}`, {
    limit_bytes: limit,
    setting,
    ...(actual && { actual_bytes: actual.bytes, ...(actual.atLeast && { at_least: true }) }),
  });
}

/** Retry-After of a refusal for too many active runs: about how long a small run takes. */
const ACTIVE_RUNS_RETRY_S = 30;

export function tooManyActiveRuns(message: string, limit: number, active: number): ApiError {
  return new ApiError('too_many_active_runs', message, { limit, active }, { 'Retry-After': String(ACTIVE_RUNS_RETRY_S) });
}

/** The Content-Types a request body may have: JSON anywhere, JSON Lines for a run upload, YAML for a constitution. */
export const ACCEPTED_BODY_TYPES = ['application/json', 'application/x-ndjson', 'application/yaml'] as const;

/** A body of a type no route reads (a plain `curl -d` sends application/x-www-form-urlencoded). */
export function unsupportedMediaType(contentType: string | undefined): ApiError {
  const got = contentType ? `Content-Type ${contentType.slice(0, 100)}` : 'no Content-Type';
  return new ApiError(
    'unsupported_media_type',
    `the body has ${got}; send application/json (a run may also be uploaded as JSON Lines, application/x-ndjson; a constitution published as YAML, application/yaml or text/yaml)`,
    { content_type: contentType?.slice(0, 100) ?? null, accepted: [...ACCEPTED_BODY_TYPES] },
  );
}
