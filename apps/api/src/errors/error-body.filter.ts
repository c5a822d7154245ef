import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ZodValidationException } from 'nestjs-zod';
import { ZodError } from 'zod';
import { StillBusyError, inputDataException, timeoutKindOf } from '@amend/store';
import { ConstitutionError } from '@amend/constitution';
import { CodedError, errorStatus, type ErrorBody, type ErrorCode } from '@amend/contracts';
import { ApiError } from './api-error';

/** At most this many validation issues are listed; a 100,000-prompt body can have many. */
const MAX_ISSUES = 50;

function zodDetails(err: ZodError) {
  const issues = err.issues.slice(0, MAX_ISSUES).map((i) => ({
    path: i.path.map(String).join('.'),
    message: i.message,
    code: i.code,
    // A limit's figures (request-limits.ts): limit, setting, actual.
    ...(i.code === 'custom' && i.params),
  }));
  return { issues, total_issues: err.issues.length };
}

/** A path as a reader writes it into a JSON body: `prompts[0].messages[2].content`. */
function readablePath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

function describeZod(err: ZodError): string {
  const first = err.issues[0];
  if (!first) return 'the request is not valid';
  const where = first.path.length ? readablePath(first.path) : 'body';
  const more = err.issues.length > 1 ? ` (and ${err.issues.length - 1} more issue(s), see details)` : '';
  return `${where}: ${first.message}${more}`;
}

/** An error body with its code's status from the catalogue: every answer goes through here, so a code has one status. */
export function errorResponse(code: ErrorCode, message: string, details?: unknown): { status: number; body: ErrorBody } {
  return { status: errorStatus(code), body: { error: { code, message, ...(details !== undefined && { details }) } } };
}

/** Maps every error to `{ error: { code, message, details } }`, the one error shape of the API. */
export function toErrorResponse(exception: unknown): { status: number; body: ErrorBody } {
  if (exception instanceof ConstitutionError) {
    // Syntax (400) or schema (422), as the catalogue says; the issues are capped like a zod error's.
    return errorResponse(exception.code, exception.message, { file: exception.file, issues: exception.issues.slice(0, MAX_ISSUES) });
  }
  // ApiError, StoreError and the rest of the hierarchy: the code says the status.
  if (exception instanceof CodedError) return errorResponse(exception.code, exception.message, exception.details);
  if (exception instanceof ZodValidationException) {
    const zerr = exception.getZodError() as ZodError;
    return errorResponse('invalid_request', describeZod(zerr), zodDetails(zerr));
  }
  if (exception instanceof ZodError) return errorResponse('invalid_request', describeZod(exception), zodDetails(exception));
  if (exception instanceof HttpException) {
    // What Nest itself answers: a route it does not have (404), or a request its layer refused.
    const status = exception.getStatus();
    const res = exception.getResponse();
    const message = typeof res === 'string' ? res : ((res as any)?.message ?? exception.message);
    const text = Array.isArray(message) ? message.join('; ') : String(message);
    // A response object without a message is the details (terminus's health result on /ready).
    const details = typeof res === 'object' && res !== null && !('message' in res) ? res : undefined;
    if (status === 404) return errorResponse('not_found', text, details);
    if (status === 503) return errorResponse('unavailable', text, details);
    if (status < 500) return errorResponse('bad_request', text, details);
    return errorResponse('internal_error', 'an unexpected error occurred; it has been logged');
  }
  // Last line of defence: a value that passed validation but not Postgres (past int4, not a UUID,
  // a NUL in a text) is the request's fault. Each one is a missing bound; the filter logs it.
  const data = inputDataException(exception);
  if (data) {
    return errorResponse('invalid_value', `${data.message}; check the request's numbers, ids and texts`, { sqlstate: data.sqlstate, reason: data.detail });
  }
  // A lock not granted within lock_timeout, a statement past statement_timeout, a row another
  // session kept busy, or no pool connection within DATABASE_POOL_WAIT_TIMEOUT_MS: the database is
  // busy, not broken; the client retries (docs/concurrency.md).
  if (isDatabaseBusy(exception)) {
    return errorResponse('database_busy', 'the database is busy; retry shortly', { reason: databaseBusyReason(exception) });
  }
  // Postgres unreachable: say so with 503 instead of hanging or a bare 500.
  const pgCode = (exception as any)?.code;
  // Connection-level SQLSTATEs (class 08, 57P01-57P03) and socket errors; pg says "Connection
  // terminated" without a code when the server goes away under a query.
  if (
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03'].includes(pgCode) ||
    (typeof pgCode === 'string' && pgCode.startsWith('08')) ||
    /^Connection terminated/.test((exception as Error)?.message ?? '')
  ) {
    return errorResponse('unavailable', 'the database is unavailable; retry shortly');
  }
  return errorResponse('internal_error', 'an unexpected error occurred; it has been logged');
}

function databaseBusyReason(exception: unknown): string {
  if (exception instanceof StillBusyError) return 'row_busy';
  return timeoutKindOf(exception) ?? 'pool_wait_timeout';
}

function isDatabaseBusy(exception: unknown): boolean {
  // pg-pool's message when connectionTimeoutMillis passes with no free connection.
  return (
    exception instanceof StillBusyError ||
    timeoutKindOf(exception) !== undefined ||
    /^timeout exceeded when trying to connect/.test((exception as Error)?.message ?? '')
  );
}

@Catch()
export class ErrorBodyFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost) {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body } = toErrorResponse(exception);
    // A busy database is a state, not a bug: one line, no stack (amend_db_timeouts_total counts them).
    if (body.error.code === 'database_busy')
      this.logger.warn(`database busy (${String((body.error.details as { reason: string }).reason)}): ${(exception as Error)?.message ?? String(exception)}`);
    else if (status >= 500) this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    else if (body.error.code === 'invalid_value')
      this.logger.warn(
        `a request value failed in Postgres (${(body.error.details as { sqlstate: string }).sqlstate}); bound it in its schema: ${exception instanceof Error ? exception.stack : String(exception)}`,
      );
    if (res.headersSent) {
      // A stream already under way cannot change status: end it so the client sees a short body.
      res.end();
      return;
    }
    if (exception instanceof ApiError && exception.headers) res.set(exception.headers);
    if (body.error.code === 'database_busy') res.set('retry-after', '1');
    res.status(status).json(body);
  }
}
