import { SetMetadata } from '@nestjs/common';
import type { ErrorCode } from '@amend/contracts';

/** Metadata key of the error codes a route answers besides those every route of its kind does. */
export const ANSWERS = 'amend:answers';

/**
 * The catalogue codes this route answers on its own (a missing run, a limit, a conflict). The
 * OpenAPI document lists them per status with those every keyed route answers (401, 403, 429)
 * and those a body or query brings (400, 413, 422): see openapi-errors.ts.
 */
export const Answers = (...codes: [ErrorCode, ...ErrorCode[]]) => SetMetadata(ANSWERS, codes);
