import type { OpenAPIObject } from '@nestjs/swagger';
import { errorStatus, type ErrorCode } from '@amend/contracts';
import type { RouteEntry } from '../auth/route-table';

/** What every route with a key may answer: no key or a bad one, a role it does not allow, too many requests. */
const KEYED: ErrorCode[] = ['unauthenticated', 'invalid_key', 'forbidden', 'rate_limited', 'too_many_auth_failures'];
/** What a body brings: unreadable, too large, of another type, text Postgres cannot hold, off its schema. */
const WITH_BODY: ErrorCode[] = ['invalid_json', 'body_too_large', 'unsupported_media_type', 'unsupported_encoding', 'invalid_text', 'invalid_request'];
/** What a query or path parameter brings. */
const WITH_PARAMETERS: ErrorCode[] = ['invalid_text', 'invalid_request'];

type Operation = { parameters?: unknown[]; requestBody?: unknown; responses: Record<string, unknown> };

/**
 * Adds to each operation of the document the 4xx codes its route answers, grouped by status,
 * each status with the error body whose `code` is one of them: generated from the catalogue and
 * the route table (the access rule, @Answers), so the document and the server cannot disagree.
 */
export function addErrorResponses(doc: OpenAPIObject, routes: RouteEntry[]): void {
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const op = (doc.paths[path] as Record<string, Operation> | undefined)?.[route.method.toLowerCase()];
    if (!op) continue;
    const codes = new Set<ErrorCode>([
      ...(route.rule && !route.rule.public ? KEYED : []),
      ...(op.requestBody ? WITH_BODY : []),
      ...(op.parameters?.length ? WITH_PARAMETERS : []),
      ...route.answers,
    ]);
    const byStatus = new Map<number, ErrorCode[]>();
    for (const code of codes) byStatus.set(errorStatus(code), [...(byStatus.get(errorStatus(code)) ?? []), code]);
    for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
      // The client's errors only: a declared 5xx is one the fuzzer (test/openapi-fuzz.spec.ts) lets pass, and these are not promises.
      if (status >= 500) continue;
      op.responses[String(status)] = {
        description: `Codes: ${list.map((c) => `\`${c}\``).join(', ')} (docs/errors.md)`,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['error'],
              properties: {
                error: {
                  type: 'object',
                  required: ['code', 'message'],
                  properties: { code: { type: 'string', enum: list }, message: { type: 'string' }, details: {} },
                },
              },
            },
          },
        },
      };
    }
  }
}
