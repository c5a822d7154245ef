import { ZodError } from 'zod';
import type { LimitIssue } from '@amend/contracts';

/**
 * A body past a request limit answers as a body that fails its schema (422 `invalid_request`,
 * the issues' paths and messages in `details`, each with its `limit`, `setting` and `actual`):
 * the limits are the schema's, checked with the configured values after the shape.
 */
export function throwIfOverLimits(issues: LimitIssue[]): void {
  if (issues.length > 0) {
    throw new ZodError(
      issues.map(({ path, message, limit, setting, actual }) => ({
        code: 'custom' as const,
        path,
        message,
        params: { limit, setting, actual },
        input: undefined,
      })),
    );
  }
}
