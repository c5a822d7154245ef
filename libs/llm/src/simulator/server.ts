import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BatchApiOptions, type BatchBehaviour, SimulatedBatchApi, type SubmittedLine } from './batch-api';
import { type Fault, FaultPlan, type FaultOptions } from './faults';
import { FAIL_400_MARKER, hasFail400Marker } from './markers';
import { SIMULATOR_MODEL, simulateCompletion, type SimulatorRequestBody } from './simulate';
import type { JudgeStyle } from './judge';
import { messageText } from './conversation';

export interface SimulatorServerOptions extends FaultOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Delay before every answer (hangs excepted). */
  latencyMs?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` or get 401 `invalid_api_key`. */
  apiKey?: string;
  /** Larger request bodies get 413. Default 32 MiB. */
  maxBodyBytes?: number;
  /**
   * False: answer like a backend without log-probabilities (`logprobs: null` whatever the request
   * asks), so feedback labels fall back to the answered letter. Default true.
   */
  logprobs?: boolean;
  /** The Files and Batches API (`/v1/files`, `/v1/batches`): completion delay and faults. */
  batch?: BatchApiOptions;
  /** Larger file uploads get 413. Default 200 MiB plus room for the multipart envelope (OpenAI's batch file limit). */
  maxFileBytes?: number;
  /** How the simulated judge words a one-letter answer (judge.ts); default "A". */
  judgeStyle?: JudgeStyle;
}

export interface SimulatorStats {
  /** Requests received, `GET /stats` excepted. */
  calls: number;
  /** Answers sent, by HTTP status ("200", "429", ...); malformed bodies count under 200. */
  by_status: Record<string, number>;
  /** Requests deliberately left unanswered. */
  hung: number;
  malformed: number;
  in_flight: number;
  max_in_flight: number;
  /**
   * Characters of message content in the chat-completion requests it answered or failed on
   * purpose: lets a benchmark check that different clients sent the same conversations.
   */
  message_chars: number;
}

export interface SimulatorServer {
  /** Base URL for an OpenAI client, e.g. `http://127.0.0.1:51234/v1`. */
  url: string;
  port: number;
  stats(): SimulatorStats;
  resetStats(): void;
  /** Replaces the scripted faults still to come (see FaultOptions.script). */
  setScript(script: Fault[]): void;
  /** Replaces the behaviours of the next batches created (see BatchBehaviour). */
  setBatchScript(script: BatchBehaviour[]): void;
  /** Every request line of every batch created, in order: what the simulator was asked to run. */
  batchLog(): SubmittedLine[];
  /** Every batch object as a client would retrieve it now, oldest first. */
  batches(): Record<string, unknown>[];
  /** Stops listening and drops every connection, hung requests included. */
  close(): Promise<void>;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/**
 * An OpenAI-compatible HTTP server around simulateCompletion, with seeded fault injection
 * (429 + retry-after, 500, hangs, malformed bodies) for exercising clients and workers:
 * `POST /v1/chat/completions`, `GET /v1/models`, `GET /stats`, and the Files and Batches API
 * (batch-api.ts) with a completion delay and failed or expired lines. A user message containing
 * `[[amend:fail400]]` gets 400 `invalid_request_error`. Plain node:http with keep-alive and a
 * deep accept backlog, so hundreds of concurrent workers can share it.
 */
export async function startSimulatorServer(options: SimulatorServerOptions = {}): Promise<SimulatorServer> {
  const plan = new FaultPlan(options);
  const batchApi = new SimulatedBatchApi({ logprobs: options.logprobs, ...options.batch });
  const maxBody = options.maxBodyBytes ?? 32 * 1024 * 1024;
  const maxFile = options.maxFileBytes ?? 200 * 1024 * 1024 + 64 * 1024;
  const timers = new Set<NodeJS.Timeout>();
  let stats = emptyStats();

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}, counted = true) => {
    if (res.destroyed || res.writableEnded) return;
    if (counted) stats.by_status[status] = (stats.by_status[status] ?? 0) + 1;
    res.writeHead(status, { ...JSON_TYPE, ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const sendError = (res: ServerResponse, status: number, type: string, code: string | null, message: string, headers?: Record<string, string>) =>
    send(res, status, JSON.stringify({ error: { message, type, param: null, code } }), headers);

  const later = (ms: number | undefined, fn: () => void) => {
    if (!ms) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const answerCompletion = (res: ServerResponse, body: SimulatorRequestBody) => {
    const fault = plan.next();
    if (fault === 'hang') {
      stats.hung++;
      return;
    }
    later(options.latencyMs, () => {
      try {
        reply(fault);
      } catch (e) {
        // A request the simulator cannot read must cost one 500, never the whole server.
        sendError(res, 500, 'server_error', null, `The simulator failed: ${(e as Error).message}`);
      }
    });
    function reply(fault: Exclude<Fault, 'hang'>): void {
      if (fault === 'ok') {
        const completion = simulateCompletion(body, { judgeStyle: options.judgeStyle });
        if (options.logprobs === false) completion.choices[0].logprobs = null;
        return send(res, 200, JSON.stringify(completion));
      }
      if (fault === 'content_filter') {
        const filtered = simulateCompletion(body);
        filtered.choices[0] = { ...filtered.choices[0], message: { role: 'assistant', content: null, refusal: null }, finish_reason: 'content_filter' };
        return send(res, 200, JSON.stringify(filtered));
      }
      if (fault === 'malformed') {
        stats.malformed++;
        return send(res, 200, '{"id": "chatcmpl-sim-broken", "object": "chat.completion", "choices": [{"message": ');
      }
      const headers: Record<string, string> = {};
      if (fault.retryAfterS !== undefined) headers['retry-after'] = String(fault.retryAfterS);
      if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
      const [type, code, message] = describeStatus(fault.status);
      sendError(res, fault.status, type, fault.code ?? code, fault.message ?? message, headers);
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    // Looking at the counters must not change them.
    if (req.method === 'GET' && path === '/stats') return send(res, 200, JSON.stringify(stats), {}, false);

    stats.calls++;
    stats.in_flight++;
    stats.max_in_flight = Math.max(stats.max_in_flight, stats.in_flight);
    const current = stats;
    res.once('close', () => current.in_flight--);

    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      req.resume();
      return sendError(res, 401, 'invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.');
    }
    if (req.method === 'GET' && path === '/v1/models') {
      req.resume();
      return send(res, 200, JSON.stringify({ object: 'list', data: [{ id: SIMULATOR_MODEL, object: 'model', created: 1_735_689_600, owned_by: 'amend' }] }));
    }
    if (path.startsWith('/v1/files') || path.startsWith('/v1/batches')) {
      const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
      readBytes(req, maxFile).then(
        (bytes) => {
          const reply = batchApi.handle(req.method ?? 'GET', path, query, req.headers, bytes)!;
          if (res.destroyed || res.writableEnded) return;
          stats.by_status[reply.status] = (stats.by_status[reply.status] ?? 0) + 1;
          res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json', 'content-length': Buffer.byteLength(reply.body) });
          res.end(reply.body);
        },
        (err: Error & { tooLarge?: boolean }) => {
          if (err.tooLarge) sendError(res, 413, 'invalid_request_error', null, `The file is larger than ${maxFile} bytes.`);
          else res.destroy();
        },
      );
      return;
    }
    if (path !== '/v1/chat/completions') {
      req.resume();
      return sendError(res, 404, 'invalid_request_error', 'unknown_url', `Unknown request URL: ${req.method} ${path}`);
    }
    if (req.method !== 'POST') {
      req.resume();
      return sendError(res, 405, 'invalid_request_error', 'method_not_allowed', `${req.method} is not allowed here; use POST`);
    }

    readBody(req, maxBody).then(
      (text) => {
        let body: SimulatorRequestBody;
        try {
          body = JSON.parse(text);
        } catch {
          return sendError(res, 400, 'invalid_request_error', null, 'The request body is not valid JSON.');
        }
        if (!body || typeof body !== 'object' || !Array.isArray(body.messages) || body.messages.length === 0) {
          return sendError(res, 400, 'invalid_request_error', null, "'messages' must be a non-empty array.");
        }
        if (!body.messages.every((m) => m && typeof m === 'object' && typeof m.role === 'string')) {
          return sendError(res, 400, 'invalid_request_error', null, "every entry of 'messages' must be an object with a string 'role'.");
        }
        if (hasFail400Marker(body.messages)) {
          return sendError(res, 400, 'invalid_request_error', null, `The prompt contains ${FAIL_400_MARKER}, so the simulator refuses it.`);
        }
        for (const m of body.messages) stats.message_chars += messageText(m.content).length;
        answerCompletion(res, body);
      },
      (err: Error & { tooLarge?: boolean }) => {
        if (err.tooLarge) sendError(res, 413, 'invalid_request_error', null, `The request body is larger than ${maxBody} bytes.`);
        else res.destroy();
      },
    );
  };

  const server = createServer({ keepAlive: true }, handle);
  // Node's 5 s default sits above undici's 4 s client keep-alive, so idle sockets are closed by the client first.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The default accept backlog (511) is what drops connections when 512 workers start at once.
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}/v1`,
    port: address.port,
    stats: () => structuredClone(stats),
    resetStats: () => {
      // Requests still open keep their own counter object; new ones start from zero.
      stats = emptyStats();
    },
    setScript: (script) => plan.setScript(script),
    setBatchScript: (script) => batchApi.setScript(script),
    batchLog: () => batchApi.log(),
    batches: () => batchApi.list(),
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function emptyStats(): SimulatorStats {
  return { calls: 0, by_status: {}, hung: 0, malformed: 0, in_flight: 0, max_in_flight: 0, message_chars: 0 };
}

function describeStatus(status: number): [type: string, code: string | null, message: string] {
  if (status === 429) return ['requests', 'rate_limit_exceeded', 'Rate limit reached for amend-simulator-1. Please try again later.'];
  if (status === 401) return ['invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.'];
  if (status >= 500) return ['server_error', null, 'The simulator had an error while processing your request.'];
  return ['invalid_request_error', null, `The simulator answered ${status} as instructed.`];
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return readBytes(req, limit).then((b) => b.toString('utf8'));
}

function readBytes(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => (over ? reject(Object.assign(new Error('body too large'), { tooLarge: true })) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}
