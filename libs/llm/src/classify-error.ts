import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { ModelError } from './errors';
import { retryAfterMs } from './retry-after';
import { rateLimitResetMs } from './limits/rate-limit-headers';

const PERMANENT_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  422: 'unprocessable_entity',
};
const TRANSIENT_STATUS: Record<number, string> = {
  408: 'request_timeout',
  409: 'conflict',
  429: 'rate_limited',
};

/** Backends disagree on codes for these two, so the message is checked as well. */
const CONTEXT_TOO_LONG = /context[_ ]length[_ ]exceeded|maximum context length|context window|too many tokens|prompt is too long/i;
const CONTENT_FILTER = /content[_ ]filter|content management policy|content_policy_violation/i;

/**
 * Maps whatever the `openai` client threw into a ModelError. `where` names the alias for the
 * message. Unknown errors are permanent: retrying a bug eight times only hides it.
 */
export function classifyError(err: unknown, where: string): ModelError {
  if (err instanceof ModelError) return err;
  if (err instanceof APIConnectionTimeoutError) {
    return ModelError.transient('timeout', `${where}: the request timed out`, { cause: err });
  }
  if (err instanceof APIUserAbortError) {
    // Only reached when our own per-attempt timer aborted; a caller's abort is handled earlier.
    return ModelError.transient('timeout', `${where}: the request timed out`, { cause: err });
  }
  if (err instanceof APIConnectionError) {
    return ModelError.transient('connection_error', `${where}: connection failed (${connectionDetail(err)})`, {
      cause: err,
    });
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    return fromStatus(err, err.status, where);
  }
  if (err instanceof SyntaxError) {
    return ModelError.transient('malformed_response', `${where}: the response body is not valid JSON`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return ModelError.permanent('unexpected_error', `${where}: ${message}`, { cause: err });
}

function fromStatus(err: APIError, status: number, where: string): ModelError {
  const backendCode = err.code ?? err.type ?? undefined;
  const said = `${where}: HTTP ${status}${backendCode ? ` ${backendCode}` : ''}: ${backendMessage(err)}`;
  const probe = `${err.code ?? ''} ${err.type ?? ''} ${backendMessage(err)}`;
  if (status === 400 || status === 413 || status === 422) {
    if (CONTEXT_TOO_LONG.test(probe)) return ModelError.permanent('context_length_exceeded', said, { status, cause: err });
    if (CONTENT_FILTER.test(probe)) return ModelError.permanent('content_filter', said, { status, cause: err });
  }
  const extra = {
    status,
    cause: err,
    retryAfterMs: retryAfterMs(err.headers),
    ...(status === 429 && { rateLimitResetMs: rateLimitResetMs(err.headers) }),
  };
  if (PERMANENT_STATUS[status]) return ModelError.permanent(PERMANENT_STATUS[status], said, extra);
  if (TRANSIENT_STATUS[status]) return ModelError.transient(TRANSIENT_STATUS[status], said, extra);
  if (status >= 500) return ModelError.transient('server_error', said, extra);
  return ModelError.permanent(`http_${status}`, said, extra);
}

/** The backend's own words, without the SDK's "400 " prefix. */
function backendMessage(err: APIError): string {
  const body = err.error as { message?: unknown } | undefined;
  if (body && typeof body.message === 'string' && body.message) return body.message;
  return err.message.replace(/^\d{3}\s+/, '') || 'no message';
}

function connectionDetail(err: APIConnectionError): string {
  const cause = (err as { cause?: unknown }).cause as { code?: string; cause?: { code?: string }; message?: string } | undefined;
  return cause?.cause?.code ?? cause?.code ?? cause?.message ?? err.message;
}
