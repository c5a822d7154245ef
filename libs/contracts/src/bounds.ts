import { z } from 'zod';

/**
 * Bounds of the numbers and ids a request may carry, from the Postgres columns they end up in:
 * a value past them used to reach the database and come back as a 500 (a `cursor` past int4 on
 * `GET /v1/runs/{id}/reviews`). Every numeric query parameter and path id is bounded here.
 */
export const INT4_MAX = 2 ** 31 - 1;
export const INT8_MAX = 9223372036854775807n;

/** A run's, preview's or evaluation's seed (`runs.seed`: integer); drawn at random when omitted. */
export const seedField = () => z.number().int().min(0).max(INT4_MAX).optional();

/** A page cursor that is a sample index (`samples.idx`, `pairs.idx`: integer columns); -1 is "before the first". */
export const indexCursor = () => z.coerce.number().int().min(-1).max(INT4_MAX);

/** A page cursor that is a row id (`audit_events.id`: bigint), as text so no digit is rounded away. */
export const rowIdCursor = () =>
  z
    .string()
    .regex(/^\d{1,19}$/, 'a cursor this API returned')
    // zod runs a refinement after a failed regex too: only digits reach BigInt, which throws on others.
    .refine((s) => !/^\d{1,19}$/.test(s) || BigInt(s) <= INT8_MAX, 'a cursor this API returned');
