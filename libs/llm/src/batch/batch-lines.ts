import { APIError } from 'openai';
import { classifyError } from '../classify-error';
import { ModelError } from '../errors';
import type { ChatRequestBody } from '../request-body';

/** OpenAI's limits per batch input file: 50,000 requests and 200 MB. */
export const BATCH_LIMITS = { maxLines: 50_000, maxBytes: 200 * 1024 * 1024 } as const;
export type BatchLimits = { maxLines: number; maxBytes: number };

export interface BatchRequestLine {
  custom_id: string;
  body: ChatRequestBody;
}

/** One input file's worth of requests: its JSONL and the custom ids in it, in order. */
export interface BatchFilePart {
  jsonl: string;
  custom_ids: string[];
  bytes: number;
}

/** `{custom_id, method, url, body}` per line, as the Batch API's input format asks. */
export function inputLine(line: BatchRequestLine): string {
  return JSON.stringify({ custom_id: line.custom_id, method: 'POST', url: '/v1/chat/completions', body: line.body });
}

/**
 * Splits requests into input files within the provider's limits, keeping their order. A single
 * request larger than `maxBytes` cannot be batched at all and is an error.
 */
export function splitIntoFiles(lines: BatchRequestLine[], limits: BatchLimits = BATCH_LIMITS): BatchFilePart[] {
  const parts: BatchFilePart[] = [];
  let text: string[] = [];
  let ids: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (ids.length) parts.push({ jsonl: text.join(''), custom_ids: ids, bytes });
    text = [];
    ids = [];
    bytes = 0;
  };
  for (const line of lines) {
    const encoded = inputLine(line) + '\n';
    const size = Buffer.byteLength(encoded);
    if (size > limits.maxBytes) throw new Error(`request ${line.custom_id} is ${size} bytes, more than a batch file may hold (${limits.maxBytes})`);
    if (ids.length >= limits.maxLines || bytes + size > limits.maxBytes) flush();
    text.push(encoded);
    ids.push(line.custom_id);
    bytes += size;
  }
  flush();
  return parts;
}

/** One line of an output or error file, read: the completion body, or why there is none. */
export type BatchLineResult = { custom_id: string; ok: true; body: unknown; request_id: string | null } | { custom_id: string; ok: false; error: ModelError };

/** Line errors that asking again can fix: the request never ran, or timed out. */
const TRANSIENT_LINE_ERRORS = new Set(['batch_expired', 'batch_cancelled', 'request_timeout', 'rate_limit_exceeded', 'server_error']);

/**
 * Reads an output or error file (`{id, custom_id, response: {status_code, request_id, body},
 * error}` per line). A non-200 `status_code` is classified exactly as the same HTTP answer to an
 * online call would be (400 permanent, 429 and 5xx transient...); an `error` without response is
 * transient when the request never ran (expired, cancelled) or timed out, else permanent.
 */
export function readResultFile(text: string, alias: string): BatchLineResult[] {
  const out: BatchLineResult[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    let line: {
      custom_id?: string;
      response?: { status_code?: number; request_id?: string; body?: any } | null;
      error?: { code?: string; message?: string } | null;
    };
    try {
      line = JSON.parse(raw);
    } catch {
      // A broken line cannot be matched to its request: its request counts as missing and is asked again.
      continue;
    }
    if (typeof line.custom_id !== 'string') continue;
    const response = line.response;
    if (response && response.status_code === 200) {
      out.push({ custom_id: line.custom_id, ok: true, body: response.body, request_id: response.request_id ?? null });
      continue;
    }
    if (response && typeof response.status_code === 'number') {
      // The SDK reads an online error answer the same way: the parsed body, whose `error` holds code, type and message.
      const apiError = APIError.generate(response.status_code, response.body, undefined, new Headers());
      out.push({ custom_id: line.custom_id, ok: false, error: classifyError(apiError, `${alias} (batch)`) });
      continue;
    }
    const code = line.error?.code ?? 'batch_line_error';
    const message = `${alias} (batch): ${code}: ${line.error?.message ?? 'no message'}`;
    out.push({
      custom_id: line.custom_id,
      ok: false,
      error: TRANSIENT_LINE_ERRORS.has(code) ? ModelError.transient(code, message) : ModelError.permanent(code, message),
    });
  }
  return out;
}
