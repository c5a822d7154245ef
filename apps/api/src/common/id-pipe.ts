import { ParseUUIDPipe } from '@nestjs/common';
import { notFound } from '../errors/api-error';

/**
 * A path id that is not a UUID names nothing: the same 404 (and code) as an id that is not there,
 * so `GET /v1/runs/x` and `GET /v1/runs/<unknown uuid>` answer alike.
 */
export function idPipe(noun: Parameters<typeof notFound>[0]): ParseUUIDPipe {
  return new ParseUUIDPipe({ exceptionFactory: () => notFound(noun, null) });
}

export const runIdPipe = idPipe('run');
export const sampleIdPipe = idPipe('sample');
export const pairIdPipe = idPipe('pair');
export const keyIdPipe = idPipe('key');
export const evaluationIdPipe = idPipe('evaluation');
export const suggestionIdPipe = idPipe('suggestion');
