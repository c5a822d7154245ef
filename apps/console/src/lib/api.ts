import { ErrorAnswer, ErrorBodySchema } from '@amend/contracts';
import type { z } from 'zod';

/** An answer other than 2xx, with the API's error body when it sent one (the class the CLI uses too). */
export { ErrorAnswer };

/** The server answered 2xx with a body the contracts do not describe. */
export class ContractError extends Error {}

export interface Client {
  key: string | null;
  get<S extends z.ZodType>(schema: S, path: string): Promise<z.infer<S>>;
  send<S extends z.ZodType>(schema: S, method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<z.infer<S>>;
  raw(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * The API is the page's own origin: the console is served by the API at /console.
 * `onUnauthorized` hears of a 401 (the key was revoked meanwhile), so the page can sign out.
 */
export function createClient(key: string | null, opts: { base?: string; onUnauthorized?: (e: ErrorAnswer) => void } = {}): Client {
  const base = opts.base ?? '';
  const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
    accept: 'application/json',
    ...(key ? { authorization: `Bearer ${key}` } : {}),
    ...extra,
  });

  async function raw(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(base + path, { ...init, headers: { ...headers(), ...((init.headers as Record<string, string>) ?? {}) } });
    if (!res.ok) {
      const error = await errorOf(res);
      if (res.status === 401) opts.onUnauthorized?.(error);
      throw error;
    }
    return res;
  }

  async function parse<S extends z.ZodType>(schema: S, res: Response, path: string): Promise<z.infer<S>> {
    const body = await res.json();
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new ContractError(`${path}: the answer does not match the contract (${first?.path.join('.') || 'body'}: ${first?.message})`);
    }
    return parsed.data;
  }

  return {
    key,
    raw,
    async get(schema, path) {
      return parse(schema, await raw(path), path);
    },
    async send(schema, method, path, body, extra = {}) {
      const isText = typeof body === 'string';
      const res = await raw(path, {
        method,
        headers: { 'content-type': isText ? 'application/yaml' : 'application/json', ...extra },
        body: body === undefined ? undefined : isText ? body : JSON.stringify(body),
      });
      return parse(schema, res, path);
    },
  };
}

export async function errorOf(res: Response): Promise<ErrorAnswer> {
  const text = await res.text();
  try {
    const body = ErrorBodySchema.parse(JSON.parse(text));
    return new ErrorAnswer(res.status, body.error.code, body.error.message, body.error.details);
  } catch {
    return new ErrorAnswer(res.status, `http_${res.status}`, text.slice(0, 300) || res.statusText);
  }
}
