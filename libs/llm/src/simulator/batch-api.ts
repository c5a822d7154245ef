import { randomBytes } from 'node:crypto';
import { FAIL_400_MARKER, hasFail400Marker } from './markers';
import { mulberry32 } from './prng';
import { simulateCompletion, type SimulatorRequestBody } from './simulate';

/*
 * The OpenAI Files + Batches API, in memory, for the HTTP simulator
 * (https://platform.openai.com/docs/api-reference/batch and /files):
 *   POST /v1/files (multipart: purpose=batch, file=<JSONL>)       -> File object
 *   GET  /v1/files/{id}, GET /v1/files/{id}/content               -> File object, raw bytes
 *   POST /v1/batches {input_file_id, endpoint, completion_window, metadata?} -> Batch object
 *   GET  /v1/batches/{id}, GET /v1/batches?limit&after, POST /v1/batches/{id}/cancel
 * Input lines are `{custom_id, method: "POST", url: "/v1/chat/completions", body}`; output and
 * error lines are `{id, custom_id, response: {status_code, request_id, body} | null, error: {code,
 * message} | null}`: 200s in the output file, everything else (non-200 responses, `batch_expired`,
 * `batch_cancelled`) in the error file. A batch is `in_progress` for `delayMs` after it is created,
 * its request counts growing with the time elapsed, then `completed` (or `expired`, as told).
 */

/** What one batch does besides answering every line (scripted per batch, in creation order). */
export interface BatchBehaviour {
  /** The first `lines` requests are answered with this non-200 `status_code` (error file). */
  status?: { lines: number; status: number };
  /** The next `lines` requests get `error: {code}` and no response (error file), e.g. `request_timeout`. */
  error?: { lines: number; code?: string };
  /** The batch expires after answering only its first `after` requests; the rest are `batch_expired`. */
  expire?: { after: number };
  /** This batch's completion delay instead of the server's. */
  delayMs?: number;
}

export interface BatchApiOptions {
  /** How long a batch stays in progress before it completes. Default 0: done at the first look. */
  delayMs?: number;
  /** Behaviours of the next batches created, in order; later batches just answer. */
  script?: BatchBehaviour[];
  /** Seeded random faults on batches beyond the script: share of lines answered 500, share of batches expiring half done. */
  lineFailRate?: number;
  expireRate?: number;
  seed?: number;
  /** False: completions carry no log-probabilities (as the chat endpoint). */
  logprobs?: boolean;
  /** Provider limits checked when a batch is created (OpenAI: 50,000 requests). */
  maxRequests?: number;
}

/** One request line as submitted, in submission order: the simulator's own log of what it was asked. */
export interface SubmittedLine {
  batch_id: string;
  custom_id: string;
  at: number;
}

interface StoredFile {
  id: string;
  bytes: Buffer;
  filename: string;
  purpose: string;
  created_at: number;
}

type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

interface InputLine {
  custom_id: string;
  body: SimulatorRequestBody;
}

type Outcome = 'ok' | 'error' | number;

interface StoredBatch {
  object: Record<string, unknown> & { id: string; status: BatchStatus; request_counts: { total: number; completed: number; failed: number } };
  lines: InputLine[];
  /** What each line gets, decided when the batch is created. */
  outcomes: Outcome[];
  errorCode: string;
  /** Lines answered before the batch expires; the line count when it does not. */
  expireAfter: number;
  createdMs: number;
  doneMs: number;
}

export interface BatchApiReply {
  status: number;
  body: string | Buffer;
  contentType?: string;
}

const ENDPOINTS = new Set(['/v1/chat/completions']);
const now = () => Math.floor(Date.now() / 1000);
const id = (prefix: string) => `${prefix}${randomBytes(12).toString('hex')}`;
const json = (status: number, value: unknown): BatchApiReply => ({ status, body: JSON.stringify(value) });
const error = (status: number, message: string, code: string | null = null, param: string | null = null): BatchApiReply =>
  json(status, { error: { message, type: 'invalid_request_error', param, code } });

export class SimulatedBatchApi {
  private readonly files = new Map<string, StoredFile>();
  private readonly batches = new Map<string, StoredBatch>();
  private readonly order: string[] = [];
  private script: BatchBehaviour[];
  private readonly random: () => number;
  private readonly submitted: SubmittedLine[] = [];

  constructor(private readonly options: BatchApiOptions = {}) {
    this.script = [...(options.script ?? [])];
    this.random = mulberry32(options.seed ?? 1);
  }

  setScript(script: BatchBehaviour[]): void {
    this.script = [...script];
  }

  /** Every request line of every batch created, in order (a line resubmitted appears twice). */
  log(): SubmittedLine[] {
    return this.submitted.map((l) => ({ ...l }));
  }

  /** Batch objects as a client would see them now, oldest first. */
  list(): Record<string, unknown>[] {
    return this.order.map((b) => this.view(this.batches.get(b)!));
  }

  /** Routes one request; undefined when the path is not part of the Files and Batches API. */
  handle(
    method: string,
    path: string,
    query: URLSearchParams,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
  ): BatchApiReply | undefined {
    if (path === '/v1/files' && method === 'POST') return this.upload(headers['content-type'], body);
    let m = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path);
    if (m && method === 'GET') {
      const file = this.files.get(m[1]);
      if (!file) return error(404, `No such File object: ${m[1]}`, null, 'id');
      return m[2] ? { status: 200, body: file.bytes, contentType: 'application/octet-stream' } : json(200, fileObject(file));
    }
    if (path === '/v1/batches' && method === 'POST') return this.create(body);
    if (path === '/v1/batches' && method === 'GET') return this.listPage(query);
    m = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(path);
    if (m) {
      const batch = this.batches.get(m[1]);
      if (!batch) return error(404, `No batch found with id '${m[1]}'.`, null, 'batch_id');
      if (m[2] && method === 'POST') return this.cancel(batch);
      if (!m[2] && method === 'GET') return json(200, this.view(batch));
      return error(405, `${method} is not allowed here`);
    }
    if (path.startsWith('/v1/files') || path.startsWith('/v1/batches')) return error(404, `Unknown request URL: ${method} ${path}`, 'unknown_url');
    return undefined;
  }

  private upload(contentType: string | string[] | undefined, body: Buffer): BatchApiReply {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(String(contentType ?? ''));
    if (!boundary) return error(400, 'Expected a multipart/form-data body with fields purpose and file.');
    const parts = parseMultipart(body, boundary[1] ?? boundary[2]);
    const purpose = parts.find((p) => p.name === 'purpose')?.data.toString('utf8');
    const file = parts.find((p) => p.name === 'file');
    if (!file) return error(400, "Missing required parameter: 'file'.", null, 'file');
    if (!purpose) return error(400, "Missing required parameter: 'purpose'.", null, 'purpose');
    if (purpose !== 'batch') return error(400, `The simulator stores only files with purpose 'batch', not '${purpose}'.`, null, 'purpose');
    const stored: StoredFile = { id: id('file-'), bytes: file.data, filename: file.filename ?? 'upload.jsonl', purpose, created_at: now() };
    this.files.set(stored.id, stored);
    return json(200, fileObject(stored));
  }

  private create(raw: Buffer): BatchApiReply {
    let req: { input_file_id?: unknown; endpoint?: unknown; completion_window?: unknown; metadata?: unknown };
    try {
      req = JSON.parse(raw.toString('utf8'));
    } catch {
      return error(400, 'The request body is not valid JSON.');
    }
    if (typeof req.input_file_id !== 'string') return error(400, "Missing required parameter: 'input_file_id'.", null, 'input_file_id');
    if (typeof req.endpoint !== 'string' || !ENDPOINTS.has(req.endpoint)) {
      return error(400, `Invalid 'endpoint': the simulator batches only ${[...ENDPOINTS].join(', ')}.`, 'invalid_value', 'endpoint');
    }
    if (req.completion_window !== '24h') return error(400, "Invalid 'completion_window': only '24h' is supported.", 'invalid_value', 'completion_window');
    const file = this.files.get(req.input_file_id);
    if (!file) return error(404, `No such File object: ${req.input_file_id}`, null, 'input_file_id');
    if (file.purpose !== 'batch') return error(400, "The input file must be uploaded with purpose 'batch'.", null, 'input_file_id');
    const created = now();
    const object: StoredBatch['object'] = {
      id: id('batch_'),
      object: 'batch',
      endpoint: req.endpoint,
      errors: null,
      input_file_id: file.id,
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: created,
      in_progress_at: null,
      expires_at: created + 24 * 3600,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: (req.metadata as Record<string, string> | undefined) ?? null,
    };
    const parsed = parseInput(file.bytes, req.endpoint, this.options.maxRequests ?? 50_000);
    const nowMs = Date.now();
    const lines = 'lines' in parsed ? parsed.lines : [];
    const scripted = this.script.shift();
    const batch: StoredBatch = {
      object,
      lines,
      outcomes: lines.map((l, i) => this.outcome(scripted, l, i)),
      errorCode: scripted?.error?.code ?? 'request_timeout',
      expireAfter: scripted
        ? Math.min(lines.length, scripted.expire?.after ?? lines.length)
        : this.random() < (this.options.expireRate ?? 0)
          ? Math.floor(lines.length / 2)
          : lines.length,
      createdMs: nowMs,
      doneMs: nowMs + (scripted?.delayMs ?? this.options.delayMs ?? 0),
    };
    if ('errors' in parsed) {
      // An invalid input file fails the whole batch at validation, as OpenAI's does.
      Object.assign(object, { status: 'failed', failed_at: created, errors: { object: 'list', data: parsed.errors } });
    } else {
      Object.assign(object, { status: 'in_progress', in_progress_at: created });
      object.request_counts.total = batch.lines.length;
      for (const l of batch.lines) this.submitted.push({ batch_id: object.id, custom_id: l.custom_id, at: nowMs });
    }
    this.batches.set(object.id, batch);
    this.order.push(object.id);
    // The create call answers `validating`, as OpenAI's does; the first retrieve shows where it got to.
    return json(200, {
      ...structuredClone(object),
      status: object.status === 'failed' ? 'failed' : 'validating',
      request_counts: { total: 0, completed: 0, failed: 0 },
    });
  }

  private listPage(query: URLSearchParams): BatchApiReply {
    const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 20) || 20));
    const newest = [...this.order].reverse();
    const after = query.get('after');
    const start = after ? newest.indexOf(after) + 1 : 0;
    const page = newest.slice(start, start + limit);
    const data = page.map((b) => this.view(this.batches.get(b)!));
    return json(200, { object: 'list', data, first_id: page[0] ?? null, last_id: page[page.length - 1] ?? null, has_more: start + limit < newest.length });
  }

  private cancel(batch: StoredBatch): BatchApiReply {
    this.advance(batch);
    const o = batch.object;
    if (o.status === 'in_progress' || o.status === 'validating') {
      // Lines not answered by now are never run: they come back as `batch_cancelled`.
      const answered = this.answeredBy(batch, Date.now());
      o.status = 'cancelling';
      o.cancelling_at = now();
      this.finish(batch, 'cancelled', answered);
    }
    return json(200, { ...this.view(batch), status: o.status === 'cancelled' ? 'cancelling' : o.status });
  }

  private view(batch: StoredBatch): Record<string, unknown> {
    this.advance(batch);
    const o = structuredClone(batch.object);
    if (o.status === 'in_progress') {
      const answered = this.answeredBy(batch, Date.now());
      o.request_counts = { total: batch.lines.length, ...this.counts(batch, answered) };
    }
    return o;
  }

  /** How many lines have run by `at` (they run in order, evenly over the delay). */
  private answeredBy(batch: StoredBatch, at: number): number {
    const span = batch.doneMs - batch.createdMs;
    const n = batch.lines.length;
    const share = span <= 0 ? 1 : Math.min(1, (at - batch.createdMs) / span);
    return Math.min(batch.expireAfter, Math.floor(share * n));
  }

  private counts(batch: StoredBatch, answered: number): { completed: number; failed: number } {
    let failed = 0;
    for (let i = 0; i < answered; i++) if (batch.outcomes[i] !== 'ok') failed++;
    return { completed: answered - failed, failed };
  }

  private advance(batch: StoredBatch): void {
    const o = batch.object;
    if (o.status !== 'in_progress' || Date.now() < batch.doneMs) return;
    if (batch.expireAfter < batch.lines.length) this.finish(batch, 'expired', batch.expireAfter);
    else this.finish(batch, 'completed', batch.lines.length);
  }

  /** Writes the output and error files: lines before `answered` ran, the rest did not (expired, cancelled). */
  private finish(batch: StoredBatch, status: 'completed' | 'expired' | 'cancelled', answered: number): void {
    const o = batch.object;
    const out: string[] = [];
    const err: string[] = [];
    batch.lines.forEach((line, i) => {
      const base = { id: id('batch_req_'), custom_id: line.custom_id };
      if (i >= answered) {
        const code = status === 'expired' ? 'batch_expired' : 'batch_cancelled';
        const message =
          status === 'expired'
            ? 'This request could not be executed before the completion window expired.'
            : 'This request was not executed because the batch was cancelled.';
        err.push(JSON.stringify({ ...base, response: null, error: { code, message } }));
        return;
      }
      const outcome = batch.outcomes[i];
      if (outcome === 'ok') {
        const body = simulateCompletion(line.body);
        if (this.options.logprobs === false) body.choices[0].logprobs = null;
        out.push(JSON.stringify({ ...base, response: { status_code: 200, request_id: id('req_'), body }, error: null }));
      } else if (outcome === 'error') {
        err.push(
          JSON.stringify({
            ...base,
            response: null,
            error: { code: batch.errorCode, message: `The simulator failed this request with ${batch.errorCode} as instructed.` },
          }),
        );
      } else {
        const message =
          outcome === 400 && hasFail400Marker(line.body.messages)
            ? `The prompt contains ${FAIL_400_MARKER}, so the simulator refuses it.`
            : `The simulator answered ${outcome} as instructed.`;
        const type = outcome >= 500 ? 'server_error' : 'invalid_request_error';
        err.push(
          JSON.stringify({
            ...base,
            response: { status_code: outcome, request_id: id('req_'), body: { error: { message, type, param: null, code: null } } },
            error: null,
          }),
        );
      }
    });
    const at = now();
    const failed = answered - out.length;
    o.request_counts = { total: batch.lines.length, completed: out.length, failed: status === 'completed' ? failed : batch.lines.length - out.length };
    if (out.length) o.output_file_id = this.store(out, `${o.id}_output.jsonl`);
    if (err.length) o.error_file_id = this.store(err, `${o.id}_error.jsonl`);
    o.status = status;
    if (status === 'completed') Object.assign(o, { finalizing_at: at, completed_at: at });
    else if (status === 'expired') Object.assign(o, { expired_at: at });
    else Object.assign(o, { cancelled_at: at });
  }

  /** What line `i` gets: the prompt's fail400 marker first, then the batch's script, then the seeded random rate. */
  private outcome(scripted: BatchBehaviour | undefined, line: InputLine, i: number): Outcome {
    if (hasFail400Marker(line.body.messages)) return 400;
    if (scripted) {
      const statusLines = scripted.status?.lines ?? 0;
      if (i < statusLines) return scripted.status!.status;
      if (i < statusLines + (scripted.error?.lines ?? 0)) return 'error';
      return 'ok';
    }
    return this.random() < (this.options.lineFailRate ?? 0) ? 500 : 'ok';
  }

  private store(lines: string[], filename: string): string {
    const file: StoredFile = { id: id('file-'), bytes: Buffer.from(lines.join('\n') + '\n'), filename, purpose: 'batch_output', created_at: now() };
    this.files.set(file.id, file);
    return file.id;
  }
}

function fileObject(f: StoredFile) {
  return {
    id: f.id,
    object: 'file',
    bytes: f.bytes.length,
    created_at: f.created_at,
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed',
    status_details: null,
  };
}

/** Validates the input JSONL as OpenAI does at `validating`: every line a POST to the batch's endpoint, custom_ids unique. */
function parseInput(
  bytes: Buffer,
  endpoint: string,
  maxRequests: number,
): { lines: InputLine[] } | { errors: { code: string; message: string; param: string | null; line: number | null }[] } {
  const lines: InputLine[] = [];
  const seen = new Set<string>();
  const errors: { code: string; message: string; param: string | null; line: number | null }[] = [];
  const text = bytes.toString('utf8').split('\n');
  text.forEach((raw, i) => {
    if (!raw.trim()) return;
    const line = i + 1;
    let v: { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
    try {
      v = JSON.parse(raw);
    } catch {
      errors.push({ code: 'invalid_json_line', message: `This line is not parseable as valid JSON.`, param: null, line });
      return;
    }
    if (typeof v.custom_id !== 'string' || !v.custom_id)
      errors.push({ code: 'missing_required_parameter', message: 'custom_id is required', param: 'custom_id', line });
    else if (seen.has(v.custom_id))
      errors.push({ code: 'duplicate_custom_id', message: `The custom_id '${v.custom_id}' is used more than once in this file.`, param: 'custom_id', line });
    else seen.add(v.custom_id);
    if (v.method !== 'POST') errors.push({ code: 'invalid_value', message: "method must be 'POST'", param: 'method', line });
    if (v.url !== endpoint)
      errors.push({
        code: 'mismatched_endpoint',
        message: `The url '${String(v.url)}' does not match the batch's endpoint '${endpoint}'.`,
        param: 'url',
        line,
      });
    const body = v.body as SimulatorRequestBody | undefined;
    if (!body || !Array.isArray(body.messages) || body.messages.length === 0)
      errors.push({ code: 'invalid_request', message: 'body.messages must be a non-empty array', param: 'body', line });
    if (typeof v.custom_id === 'string' && body) lines.push({ custom_id: v.custom_id, body });
  });
  if (lines.length > maxRequests)
    errors.push({
      code: 'too_many_requests',
      message: `The input file has ${lines.length} requests; a batch takes at most ${maxRequests}.`,
      param: null,
      line: null,
    });
  if (!errors.length && lines.length === 0) errors.push({ code: 'empty_file', message: 'The input file has no requests.', param: null, line: null });
  return errors.length ? { errors: errors.slice(0, 100) } : { lines };
}

interface Part {
  name: string;
  filename?: string;
  data: Buffer;
}

/** A minimal multipart/form-data reader: enough for the two fields of a file upload. */
export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    // Each part: CRLF, headers, CRLF CRLF, data, CRLF, then the next delimiter.
    const chunk = body.subarray(start + 2, next - 2);
    const split = chunk.indexOf('\r\n\r\n');
    if (split !== -1) {
      const head = chunk.subarray(0, split).toString('utf8');
      const name = /name="([^"]*)"/i.exec(head)?.[1];
      const filename = /filename="([^"]*)"/i.exec(head)?.[1];
      if (name) parts.push({ name, filename, data: chunk.subarray(split + 4) });
    }
    at = next;
  }
  return parts;
}
