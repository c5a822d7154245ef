import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, collectDefaultMetrics, register } from 'prom-client';
import type { LimiterWait, ModelError, RetryEvent } from '@amend/llm';
import { errorStatus, type ErrorCode } from '@amend/contracts';

/*
 * One set of Prometheus metrics per process, on prom-client's default registry. When the API
 * and a worker share a process (`npm start`), the API's /metrics shows both; a worker process
 * on its own serves the same registry on METRICS_PORT (off by default). Gauges that read Redis
 * or Postgres are collected at scrape time from the sources registered here, with a short
 * timeout so a scrape never hangs on a service that is down.
 */

const SCRAPE_TIMEOUT_MS = 1_000;
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];
const WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

type SampleCounts = () => Promise<Record<string, number>>;

/** A Postgres pool of this process as the metrics and /ready see it (libs/store PoolHealth). */
export interface PoolView {
  total: number;
  idle: number;
  waiting: number;
  oldestWaitMs: number;
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('scrape timeout')), ms).unref())]);
}

export class AmendMetrics {
  private static instance?: AmendMetrics;

  /**
   * The process's one instance, since prom-client's default registry is one per process (tests
   * start several stacks in one process). Nest code gets it injected from RuntimeModule.
   */
  static get(): AmendMetrics {
    return (AmendMetrics.instance ??= new AmendMetrics());
  }

  private readonly queues = new Map<string, Queue>();
  private readonly sampleSources = new Map<string, SampleCounts>();

  readonly modelCalls = new Counter({
    name: 'amend_model_calls_total',
    help: 'Model calls by alias, stage and outcome (ok, or the error code after retries)',
    labelNames: ['alias', 'stage', 'outcome'] as const,
  });
  readonly modelTokens = new Counter({
    name: 'amend_model_tokens_total',
    help: 'Tokens used by model calls, by alias, stage and kind (prompt, completion)',
    labelNames: ['alias', 'stage', 'kind'] as const,
  });
  readonly modelLatency = new Histogram({
    name: 'amend_model_call_duration_seconds',
    help: 'Duration of one model call, retries and limiter waits included, by alias and stage',
    labelNames: ['alias', 'stage'] as const,
    buckets: LATENCY_BUCKETS,
  });
  readonly retries = new Counter({
    name: 'amend_model_retries_total',
    help: 'Attempts retried by the adapter, by alias and error code',
    labelNames: ['alias', 'code'] as const,
  });
  readonly rateLimited = new Counter({
    name: 'amend_model_rate_limited_total',
    help: 'HTTP 429 answers, by alias',
    labelNames: ['alias'] as const,
  });
  readonly limiterWait = new Histogram({
    name: 'amend_limiter_wait_seconds',
    help: 'Time a call or a retry waited for the shared rate limiter, by alias and reason (none when admitted at once)',
    labelNames: ['alias', 'reason'] as const,
    buckets: WAIT_BUCKETS,
  });
  readonly samplesFinished = new Counter({
    name: 'amend_samples_finished_total',
    help: 'Samples this process finished, by outcome (completed, failed, cancelled, budget_exhausted)',
    labelNames: ['status'] as const,
  });
  readonly pairs = new Counter({ name: 'amend_pairs_total', help: 'Preference pairs this process made' });
  readonly dbTimeouts = new Counter({
    name: 'amend_db_timeouts_total',
    help: 'Postgres statements that gave up, by kind: lock_timeout (a lock not granted in DATABASE_LOCK_TIMEOUT_MS) or statement_timeout',
    labelNames: ['kind'] as const,
  });
  private readonly poolSources = new Map<string, () => PoolView>();

  private constructor() {
    collectDefaultMetrics();
    const queues = this.queues;
    new Gauge({
      name: 'amend_queue_jobs',
      help: 'Jobs in the sample queue by state (BullMQ counts), by queue prefix',
      labelNames: ['queue', 'state'] as const,
      async collect() {
        this.reset();
        await Promise.all(
          [...queues].map(async ([prefix, queue]) => {
            try {
              const counts = await within(queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'paused'), SCRAPE_TIMEOUT_MS);
              for (const [state, n] of Object.entries(counts)) this.set({ queue: prefix, state }, n);
            } catch {
              // Redis down: the gauge is left out rather than the scrape failing.
            }
          }),
        );
      },
    });
    const pools = this.poolSources;
    new Gauge({
      name: 'amend_db_pool_clients',
      help: 'Postgres pool of this process by pool (app:schema) and state: total connections, idle ones, queries waiting for one',
      labelNames: ['pool', 'state'] as const,
      collect() {
        this.reset();
        for (const [pool, view] of pools) {
          const v = view();
          this.set({ pool, state: 'total' }, v.total);
          this.set({ pool, state: 'idle' }, v.idle);
          this.set({ pool, state: 'waiting' }, v.waiting);
        }
      },
    });
    new Gauge({
      name: 'amend_db_pool_oldest_wait_seconds',
      help: 'How long the query waiting longest for a pool connection has waited, by pool (0: none waits); /ready fails past READY_POOL_WAIT_MS',
      labelNames: ['pool'] as const,
      collect() {
        this.reset();
        for (const [pool, view] of pools) this.set({ pool }, view().oldestWaitMs / 1000);
      },
    });
    const sources = this.sampleSources;
    new Gauge({
      name: 'amend_samples',
      help: 'Samples of unfinished runs by status (from Postgres)',
      labelNames: ['status'] as const,
      async collect() {
        this.reset();
        const totals: Record<string, number> = {};
        for (const source of sources.values()) {
          try {
            for (const [status, n] of Object.entries(await within(source(), SCRAPE_TIMEOUT_MS))) totals[status] = (totals[status] ?? 0) + n;
          } catch {
            // Postgres down: left out.
          }
        }
        for (const [status, n] of Object.entries(totals)) this.set({ status }, n);
      },
    });
  }

  /** Queue depth of `queue` is reported under its prefix. */
  watchQueue(prefix: string, queue: Queue): void {
    this.queues.set(prefix, queue);
  }

  unwatchQueue(prefix: string, queue: Queue): void {
    if (this.queues.get(prefix) === queue) this.queues.delete(prefix);
  }

  /** A Postgres pool of this process, reported under `key` (app:schema) and checked by /ready. */
  watchPool(key: string, view: () => PoolView): void {
    this.poolSources.set(key, view);
  }

  unwatchPool(key: string): void {
    this.poolSources.delete(key);
  }

  /** Every watched pool of this process: with `npm start` the API's and the worker's. */
  poolViews(): [string, PoolView][] {
    return [...this.poolSources].map(([key, view]) => [key, view()]);
  }

  /** Wired to the store's onTimeout. */
  readonly onDbTimeout = (kind: string): void => {
    this.dbTimeouts.inc({ kind });
  };

  watchSamples(key: string, counts: SampleCounts): void {
    this.sampleSources.set(key, counts);
  }

  unwatchSamples(key: string): void {
    this.sampleSources.delete(key);
  }

  /** One model call as the pipeline saw it, from the limiter's admission to the result. */
  modelCall(alias: string, stage: string, seconds: number, outcome: { usage?: { prompt_tokens: number; completion_tokens: number }; error?: unknown }): void {
    const code = outcome.error === undefined ? 'ok' : ((outcome.error as Partial<ModelError>)?.code ?? 'error');
    this.modelCalls.inc({ alias, stage, outcome: code });
    this.modelLatency.observe({ alias, stage }, seconds);
    if (outcome.usage) {
      this.modelTokens.inc({ alias, stage, kind: 'prompt' }, outcome.usage.prompt_tokens);
      this.modelTokens.inc({ alias, stage, kind: 'completion' }, outcome.usage.completion_tokens);
    }
    if ((outcome.error as Partial<ModelError>)?.status === 429) this.rateLimited.inc({ alias });
  }

  /** Wired to the registry's onRetry. */
  readonly onRetry = (alias: string, e: RetryEvent): void => {
    this.retries.inc({ alias, code: e.error.code });
    if (e.error.status === 429) this.rateLimited.inc({ alias });
  };

  /** Wired to the registry's onLimiterWait. */
  readonly onLimiterWait = (w: LimiterWait): void => {
    this.limiterWait.observe({ alias: w.alias, reason: w.reason ?? 'none' }, w.waitedMs / 1000);
  };

  sampleFinished(status: string, pairMade: boolean): void {
    this.samplesFinished.inc({ status });
    if (pairMade) this.pairs.inc();
  }

  text(): Promise<string> {
    return register.metrics();
  }

  get contentType(): string {
    return register.contentType;
  }
}

/** The worker's own /metrics when it runs without the API (METRICS_PORT). */
export async function serveMetrics(metrics: AmendMetrics, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(errorStatus('not_found'), { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found' satisfies ErrorCode, message: 'only GET /metrics is served here' } }));
      return;
    }
    metrics.text().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(text);
      },
      (err: Error) => {
        res.writeHead(errorStatus('internal_error'), { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'internal_error' satisfies ErrorCode, message: err.message } }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

const sharedServers = new Map<string, { server: Promise<Server>; users: number }>();

/**
 * The process's metrics server on `port`, opened on first use and closed when its last user
 * lets go: with `npm start` the API and the worker share a process, a registry and METRICS_PORT.
 */
export async function acquireMetricsServer(metrics: AmendMetrics, port: number, host: string): Promise<{ server: Server; release: () => Promise<void> }> {
  const id = `${host}:${port}`;
  let entry = sharedServers.get(id);
  if (!entry) sharedServers.set(id, (entry = { server: serveMetrics(metrics, port, host), users: 0 }));
  entry.users++;
  const held = entry;
  let server: Server;
  try {
    server = await held.server;
  } catch (e) {
    sharedServers.delete(id);
    throw e;
  }
  let released = false;
  return {
    server,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      sharedServers.delete(id);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function listeningPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
