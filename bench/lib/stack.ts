import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import type { Run } from '@amend/contracts';
import { SAMPLES_QUEUE } from '../../libs/runtime/src/tokens';
import {
  DATABASE_URL,
  amendEnv,
  benchRedisConnection,
  dropAmendState,
  pendingCleanups,
  pollCompleted,
  postRun,
  submitterHeaders,
  withApplicationName,
} from './amend';
import { ROOT, amendProcess, fetchWithin, spawnChild, stopChild, until, type Child } from './proc';
import { freePort } from '../../test/support/free-port';

export interface StackOptions {
  simulatorUrl: string;
  /** WORKER_CONCURRENCY; no worker process when `worker` is false. */
  concurrency?: number;
  worker?: boolean;
  /** Extra environment for both processes. */
  env?: Record<string, string>;
  /** Limits of the submitter key (requests_per_minute is always 1,000,000). */
  keyLimits?: Record<string, number>;
  label: string;
  log: (line: string) => void;
  /** Preload bench/lib/memory-preload.ts into the API, for Stack.apiMemory(). */
  apiMemory?: boolean;
}

/**
 * The API (and a worker) as child processes on a fresh schema and queue prefix, plus a submitter
 * key: what the scale scenarios share. `close()` stops the children and drops the schema and the
 * queue keys, whatever happened before; callers put it in a `finally`.
 */
export interface Stack {
  tag: string;
  base: string;
  api: Child;
  worker?: Child;
  headers: Record<string, string>;
  /** A Postgres client with search_path set to the stack's schema (opened on first use). */
  pg(): Promise<Client>;
  /** The API's process.memoryUsage(), when started with `apiMemory`. */
  apiMemory(): Promise<NodeJS.MemoryUsage | undefined>;
  stopWorker(): Promise<void>;
  /** POST /v1/runs, throws unless 202. */
  createRun(body: object, timeoutMs?: number): Promise<Run>;
  /** Polls GET /v1/runs/{id} until it is completed. */
  waitCompleted(runId: string, timeoutMs: number): Promise<Run>;
  close(): Promise<void>;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const tag = `bench_${randomBytes(5).toString('hex')}`;
  pendingCleanups.add(tag);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = { ...amendEnv(tag, port, o.concurrency ?? 64, o.simulatorUrl), ...o.env };
  const adminKey = env.AMEND_ADMIN_KEY;
  const queue = new Queue(SAMPLES_QUEUE, { prefix: tag, connection: benchRedisConnection() });
  queue.on('error', () => undefined);
  let api: Child | undefined;
  let worker: Child | undefined;
  let pg: Client | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await pg?.end().catch(() => undefined);
    await Promise.all([stopChild(worker, 10_000), stopChild(api, 10_000)]);
    await queue.close().catch(() => undefined);
    await dropAmendState(tag).catch((e: Error) => o.log(`${o.label}: could not drop schema and queue ${tag}: ${e.message}`));
  };
  try {
    const apiProc = amendProcess('apps/api/src/main', o.apiMemory ? ['-r', join(ROOT, 'bench/lib/memory-preload.ts')] : []);
    api = spawnChild('api', apiProc.args, { ...env, ...apiProc.env }, o.apiMemory ? { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] } : {});
    if (o.worker !== false) {
      const workerProc = amendProcess('apps/worker/src/main');
      worker = spawnChild('worker', workerProc.args, { ...env, ...workerProc.env });
    }
    const children = [api, ...(worker ? [worker] : [])];
    await until('the API to be ready (GET /ready)', async () => ((await fetchWithin(`${base}/ready`, {}, 3_000)).ok ? true : undefined), {
      timeoutMs: 120_000,
      intervalMs: 200,
      children,
    });
    if (worker) {
      await until('the worker to take jobs', async () => ((await queue.getWorkersCount()) > 0 ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 200,
        children,
      });
    }
    o.log(`${o.label}: API pid ${api.pid}${worker ? ` and worker pid ${worker.pid}` : ''} ready (${tag})`);
    const headers = await submitterHeaders(base, adminKey, o.keyLimits);
    const theApi = api;
    const stack: Stack = {
      tag,
      base,
      api: theApi,
      worker,
      headers,
      pg: async () => {
        if (!pg) {
          pg = new Client({ connectionString: withApplicationName(DATABASE_URL, `${tag}_harness`), connectionTimeoutMillis: 5_000 });
          await pg.connect();
          await pg.query(`set search_path to "${tag}"`);
        }
        return pg;
      },
      apiMemory: async () => {
        if (!o.apiMemory || !theApi.proc.connected) return undefined;
        return new Promise<NodeJS.MemoryUsage | undefined>((resolve) => {
          const timer = setTimeout(() => done(undefined), 2_000);
          const onMessage = (m: { memoryUsage?: NodeJS.MemoryUsage }) => m?.memoryUsage && done(m.memoryUsage);
          const done = (v: NodeJS.MemoryUsage | undefined) => {
            clearTimeout(timer);
            theApi.proc.off('message', onMessage);
            resolve(v);
          };
          theApi.proc.on('message', onMessage);
          theApi.proc.send({ memoryUsage: true });
        });
      },
      stopWorker: async () => {
        await stopChild(worker, 10_000);
        stack.worker = undefined;
      },
      createRun: (body, timeoutMs = 60_000) => postRun(base, headers, JSON.stringify(body), timeoutMs),
      waitCompleted: (runId, timeoutMs) =>
        until(`run ${runId} to complete`, () => pollCompleted(base, headers, runId), {
          timeoutMs,
          intervalMs: 200,
          children: [theApi, ...(stack.worker ? [stack.worker] : [])],
        }),
      close,
    };
    return stack;
  } catch (e) {
    await close();
    throw e;
  }
}

/** GET a JSON document from the API with the stack's key. */
export async function getJson<T>(stack: Stack, path: string, timeoutMs = 30_000): Promise<T> {
  const res = await fetchWithin(`${stack.base}${path}`, { headers: stack.headers }, timeoutMs);
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}
