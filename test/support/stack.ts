import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import IORedis from 'ioredis';
import { isRunFinished, loadConfig, RunSchema, type Config, type Run } from '@amend/contracts';
import { createDb, type Database } from '@amend/store';
import type { Kysely } from 'kysely';
import { createApiApp } from '../../apps/api/src/app';
import { createWorkerApp } from '../../apps/worker/src/app';

export const ROOT = join(__dirname, '..', '..');
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Environment of one test file: its own Postgres schema and queue prefix on the shared services. */
export function testEnv(name: string, extra: Record<string, string> = {}): Record<string, string> {
  const tag = `${name.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: `t_${tag}`,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: `t_${tag}`,
    LOG_LEVEL: 'warn',
    CONSTITUTIONS_DIR: join(ROOT, 'constitutions'),
    // Files run in parallel against one Postgres (max_connections 100 by default): an API and a
    // worker at the default size (16 each at WORKER_CONCURRENCY 64) in three files at once ran it
    // out of connection slots. A file that measures the pool sets its own size.
    DATABASE_POOL_SIZE: '8',
    ...extra,
  };
}

export type KeyRole = 'submitter' | 'author' | 'auditor' | 'admin' | 'reviewer';

export interface Stack {
  env: Record<string, string>;
  config: Config;
  url: string;
  api: NestExpressApplication;
  workers: INestApplicationContext[];
  /** The first admin key (AMEND_ADMIN_KEY), registered at boot. */
  adminKey: string;
  /** A submitter key of team `default`, minted at start: what `stack.fetch` sends unless told otherwise. */
  submitterKey: string;
  /**
   * Changes settings of the running stack as if it had booted with them (parsed by the boot schema,
   * so a bad value throws here), for those the services read from the config on each request
   * (request limits, budgets, key defaults). Returns the undo.
   */
  reconfigure(vars: Record<string, string>): () => void;
  /** Creates a key through `POST /v1/keys` as the admin and returns the key itself. */
  mintKey(role: KeyRole, team?: string, limits?: Record<string, number>): Promise<string>;
  /** fetch against the API (a path or a full URL) with `Authorization: Bearer <key>`, by default the submitter key. */
  fetch(pathOrUrl: string, init?: RequestInit, key?: string | null): Promise<Response>;
  close(): Promise<void>;
}

/** A random key in the format the API accepts. */
export function randomKey(): string {
  return `amd_${randomBytes(32).toString('base64url')}`;
}

/** Headers with the key as a bearer token (and any others given). */
export function authHeaders(key: string, headers: Record<string, string> = {}): Record<string, string> {
  return { ...headers, authorization: `Bearer ${key}` };
}

/**
 * API (listening on a random port) and, unless `workers: 0`, an in-process worker. The API
 * registers `env.AMEND_ADMIN_KEY` (generated when absent) and the stack mints a submitter key.
 */
export async function startStack(env: Record<string, string>, opts: { workers?: number } = {}): Promise<Stack> {
  env.AMEND_ADMIN_KEY ??= randomKey();
  const adminKey = env.AMEND_ADMIN_KEY;
  const config = loadConfig(env);
  const api = await createApiApp(config);
  await api.listen(0, '127.0.0.1');
  const url = (await api.getUrl()).replace('[::1]', '127.0.0.1');
  const workers: INestApplicationContext[] = [];
  for (let i = 0; i < (opts.workers ?? 1); i++) workers.push(await createWorkerApp(config));
  const mintKey = async (role: KeyRole, team = 'default', limits?: Record<string, number>) => {
    const res = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers: authHeaders(adminKey, { 'content-type': 'application/json' }),
      body: JSON.stringify({ role, team, ...(limits ? { limits } : {}) }),
    });
    if (res.status !== 201) throw new Error(`minting a ${role} key failed (${res.status}): ${await res.text()}`);
    return ((await res.json()) as { key: string }).key;
  };
  const submitterKey = await mintKey('submitter');
  const reconfigure = (vars: Record<string, string>) => {
    const before = { ...config };
    // The services hold this very object (the CONFIG provider's value), so they see the change.
    Object.assign(config, loadConfig({ ...env, ...vars }));
    return () => {
      for (const k of Object.keys(config) as (keyof Config)[]) delete config[k];
      Object.assign(config, before);
    };
  };
  return {
    env,
    config,
    reconfigure,
    url,
    api,
    workers,
    adminKey,
    submitterKey,
    mintKey,
    fetch(pathOrUrl, init = {}, key = submitterKey) {
      const headers = new Headers(init.headers);
      if (key) headers.set('authorization', `Bearer ${key}`);
      return fetch(pathOrUrl.startsWith('http') ? pathOrUrl : url + pathOrUrl, { ...init, headers });
    },
    async close() {
      for (const w of workers) await w.close();
      await api.close();
    },
  };
}

/**
 * A connection of the test's own to its schema, to fill or inspect tables from outside as an
 * operator would (the Store keeps its handle private). Destroy it in afterAll.
 */
export function testDatabase(env: Record<string, string>): Kysely<Database> {
  return createDb({ url: env.DATABASE_URL, schema: env.DATABASE_SCHEMA, poolSize: 2 });
}

/** A test file's environment, or a function giving it once an earlier `beforeAll` has built it (e.g. around a simulator's URL). */
export type FileEnv = Record<string, string> | (() => Record<string, string> | undefined);

const envOf = (env: FileEnv) => (typeof env === 'function' ? env() : env);

/**
 * The frame most test files share: a stack (`workers` in process, default 1) started before the
 * file's tests and closed, with its schema and queue keys dropped, after them. `set` receives it.
 * Hooks run in the order they are declared: a `beforeAll` after this one sees the stack, and an
 * `afterAll` before it runs while the stack is still up.
 */
export function stackForFile(env: FileEnv, opts: { workers?: number }, set: (stack: Stack) => void): void {
  let stack: Stack | undefined;
  beforeAll(async () => {
    const e = envOf(env);
    if (!e) throw new Error('stackForFile: the environment was not built by an earlier beforeAll');
    stack = await startStack(e, opts);
    set(stack);
  });
  afterAll(async () => {
    await stack?.close();
    const e = envOf(env);
    if (e) await cleanup(e);
  });
}

/**
 * A pg client on the test database as its owner, to read and write tables from outside, for the
 * file's tests; with `searchPath`, unqualified names are the file's schema.
 */
export function pgForFile(env: FileEnv, set: (pg: Client) => void, opts: { searchPath?: boolean } = {}): void {
  let pg: Client | undefined;
  beforeAll(async () => {
    const e = envOf(env)!;
    pg = new Client({ connectionString: e.DATABASE_URL, ...(opts.searchPath ? { options: `-c search_path=${e.DATABASE_SCHEMA}` } : {}) });
    await pg.connect();
    set(pg);
  });
  afterAll(() => pg?.end());
}

/** `testDatabase` for the file's tests, destroyed after them. */
export function dbForFile(env: FileEnv, set: (db: Kysely<Database>) => void): void {
  let db: Kysely<Database> | undefined;
  beforeAll(() => {
    db = testDatabase(envOf(env)!);
    set(db);
  });
  afterAll(() => db?.destroy());
}

/** Drops the test file's schema and queue keys. */
export async function cleanup(env: Record<string, string>): Promise<void> {
  const pg = new Client({ connectionString: env.DATABASE_URL });
  await pg.connect();
  await pg.query(`drop schema if exists "${env.DATABASE_SCHEMA}" cascade`);
  await pg.end();
  await deleteQueueKeys(env);
}

/** Deletes every Redis key of the test file's queue prefix, as a Redis restart would. */
export async function deleteQueueKeys(env: Record<string, string>): Promise<void> {
  const redis = new IORedis(env.REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.QUEUE_PREFIX}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
}

/** Polls until `check` returns a truthy value or the deadline passes; never a fixed sleep. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/** Polls the run until it is finished (completed, failed or cancelled) and returns it. */
export function waitForRun(stack: Stack, id: string, timeoutMs = 90_000, what = `run ${id} to finish`): Promise<Run> {
  return waitFor(
    async () => {
      const run = RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`)));
      return isRunFinished(run.status) ? run : undefined;
    },
    { timeoutMs, what },
  );
}

/** A worker in its own process (ts-node), so a test can SIGKILL it. */
export function spawnWorker(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', join(ROOT, 'apps/worker/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function json<T = any>(res: Response): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 500)}`);
  }
}

export function ndjson(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}
