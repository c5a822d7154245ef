import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { isRunFinished, type Run } from '@amend/contracts';

/**
 * A stand-in for the Amend API that speaks the v1 contract closely enough to drive the CLI
 * in-process. Each `GET /v1/runs/{id}` moves the run forward by one sample, so a test that polls
 * sees progress without sleeping. The real API's end-to-end test lives with the API.
 */
export interface StubRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface StubOptions {
  /** How the run ends once every sample is done. */
  outcome?: 'completed' | 'failed';
  /** Samples that fail rather than complete, counted from the end. */
  failing?: number;
  /** Answer the nth `GET /v1/runs/{id}` (1-based) with a 503 before answering normally. */
  flakyPoll?: number;
  /** Never finish: the run stays running. */
  endless?: boolean;
}

export class StubApi {
  readonly requests: StubRequest[] = [];
  readonly runs = new Map<string, Run>();
  private server: Server;
  private polls = 0;

  constructor(private readonly opts: StubOptions = {}) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : undefined;
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const url = new URL(req.url ?? '/', 'http://stub');
    const parts = url.pathname.split('/').filter(Boolean);

    if (req.method === 'POST' && url.pathname === '/v1/runs') return this.create(body, res);
    if (parts[0] === 'v1' && parts[1] === 'runs' && parts[2]) {
      const run = this.runs.get(parts[2]);
      if (!run) return send(res, 404, { error: { code: 'run_not_found', message: `no run ${parts[2]}`, details: { id: parts[2] } } });
      if (req.method === 'GET' && parts.length === 3) {
        this.polls++;
        if (this.opts.flakyPoll === this.polls) return send(res, 503, { error: { code: 'unavailable', message: 'restarting' } });
        this.advance(run);
        return send(res, 200, run);
      }
      if (req.method === 'POST' && parts[3] === 'cancel') {
        run.counts.cancelled += run.counts.pending;
        run.counts.pending = 0;
        run.status = 'cancelled';
        return send(res, 200, run);
      }
      if (req.method === 'GET' && parts[3] === 'pairs') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        for (let i = 0; i < run.counts.completed; i++) {
          res.write(`${JSON.stringify({ prompt: `p${i}`, chosen: 'c', rejected: 'r', format: url.searchParams.get('format') })}\n`);
        }
        return void res.end();
      }
    }
    send(res, 404, { error: { code: 'not_found', message: `no route ${req.method} ${url.pathname}` } });
  }

  private create(body: { constitution?: string; prompts?: unknown[]; rounds?: number; seed?: number }, res: ServerResponse) {
    if (body?.constitution?.startsWith('missing')) {
      return send(res, 422, {
        error: {
          code: 'constitution_not_found',
          message: `no constitution "${body.constitution}"; list them with GET /v1/constitutions`,
          details: [{ path: ['constitution'], message: 'unknown constitution' }],
        },
      });
    }
    const total = body.prompts?.length ?? 0;
    const run: Run = {
      id: randomUUID(),
      status: 'queued',
      mode: 'critique-revise',
      constitution: { name: 'harmless', version: '1.0.0', sha256: 'ab'.repeat(32) },
      rounds: body.rounds ?? 1,
      seed: body.seed ?? 7,
      model: 'default',
      feedback_model: null,
      sampling: { temperature: 0.7, top_p: 1, max_tokens: 512 },
      counts: { total, pending: total, running: 0, completed: 0, failed: 0, cancelled: 0 },
      usage: { calls: 0, prompt_tokens: 0, completion_tokens: 0 },
      failures: [],
      simulated: true,
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
    };
    this.runs.set(run.id, run);
    send(res, 202, run);
  }

  private advance(run: Run): void {
    if (isRunFinished(run.status)) return;
    run.status = 'running';
    run.started_at ??= new Date().toISOString();
    if (this.opts.endless || run.counts.pending === 0) return;
    run.counts.pending--;
    const failing = run.counts.pending < (this.opts.failing ?? 0);
    if (failing) {
      run.counts.failed++;
      run.failures = [{ reason: 'context too long', count: run.counts.failed }];
    } else {
      run.counts.completed++;
    }
    run.usage.calls += 3;
    run.usage.prompt_tokens += 100;
    run.usage.completion_tokens += 40;
    if (run.counts.pending === 0) {
      run.status = this.opts.outcome ?? 'completed';
      run.finished_at = new Date().toISOString();
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
