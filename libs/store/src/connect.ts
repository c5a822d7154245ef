import { Kysely, sql } from 'kysely';
import { Pool, Client } from 'pg';
import type { Database } from './schema';
import { migrateToLatest } from './migrations';
import { SchemaDialect } from './schema-dialect';

export interface DbOptions {
  url: string;
  schema: string;
  poolSize?: number;
  /** Postgres `synchronous_commit` for this pool's sessions; default on (durable). */
  synchronousCommit?: 'on' | 'off';
  /** Open this many connections at boot, so the first jobs do not each pay for a connect. */
  warm?: number;
  /** Time limits of every session of the pool (docs/concurrency.md); absent: none, as Postgres has by default. */
  limits?: SessionLimits;
  /** Told of every statement that failed on a lock wait (55P03) or a statement limit (57014), for the metrics. */
  onTimeout?: (kind: DbTimeoutKind) => void;
}

/** Milliseconds; 0 turns a limit off. */
export interface SessionLimits {
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  /** The longest a query waits for a free pool connection (pg's connectionTimeoutMillis). */
  poolWaitTimeoutMs: number;
  /** `statement_timeout` of an export's COPY, which streams at the reader's pace. */
  exportTimeoutMs?: number;
}

const SESSION_LIMITS = ['lock_timeout', 'statement_timeout', 'idle_in_transaction_session_timeout'] as const;

export type DbTimeoutKind = 'lock_timeout' | 'statement_timeout';

/** SQLSTATEs of a statement that gave up: a lock not granted in lock_timeout (or NOWAIT), a statement past statement_timeout. */
export function timeoutKindOf(err: unknown): DbTimeoutKind | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '55P03' ? 'lock_timeout' : code === '57014' ? 'statement_timeout' : undefined;
}

/** What the pool of this process is doing now: connections, idle ones, queries waiting for one and for how long. */
export interface PoolHealth {
  total: number;
  idle: number;
  waiting: number;
  /** How long the query that has waited longest for a connection has waited so far; 0 when none waits. */
  oldestWaitMs: number;
}

/** Connections for a worker of this concurrency (and the API beside it): few, as checkpoints share commits. */
export function defaultPoolSize(concurrency: number): number {
  return Math.min(40, Math.max(10, Math.ceil(concurrency / 8) + 8));
}

/** Creates the database named in the URL when it is missing and the user may (docs/architecture.md#postgres-and-redis). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const dbName = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [dbName]);
    if (found.rowCount === 0) {
      try {
        await client.query(`create database "${dbName.replace(/"/g, '""')}"`);
      } catch (e: any) {
        if (e?.code !== '42P04') throw e; // another process created it first
      }
    }
  } finally {
    await client.end();
  }
}

const pools = new WeakMap<Kysely<Database>, Pool>();
const waits = new WeakMap<Pool, Map<number, number>>();

/** The pool's connections, idle ones and waiting queries now (poolOf's pool; undefined for another Kysely). */
export function poolHealth(db: Kysely<Database>): PoolHealth | undefined {
  const pool = pools.get(db);
  if (!pool) return undefined;
  let oldest: number | undefined;
  for (const at of waits.get(pool)?.values() ?? []) if (oldest === undefined || at < oldest) oldest = at;
  return {
    total: pool.totalCount,
    idle: pool.idleCount,
    waiting: pool.waitingCount,
    oldestWaitMs: oldest === undefined ? 0 : Math.max(0, Date.now() - oldest),
  };
}

/** `-c` options that set the session's limits at connect, so every connection of the pool has them from its first statement. */
function sessionOptions(limits: SessionLimits | undefined): string {
  if (!limits) return '';
  return (
    ` -c lock_timeout=${limits.lockTimeoutMs} -c statement_timeout=${limits.statementTimeoutMs}` +
    ` -c idle_in_transaction_session_timeout=${limits.idleInTransactionTimeoutMs}`
  );
}

/**
 * Records when each request for a connection started waiting, so /ready can tell a pool whose
 * queries wait (issue 23: every connection held by a session waiting on a row lock) from a busy one.
 * Both of pg's forms go through here: Kysely's promise and pool.query's callback.
 */
function trackWaits(pool: Pool): void {
  const started = new Map<number, number>();
  waits.set(pool, started);
  let next = 0;
  const connect = pool.connect.bind(pool) as (cb?: (...args: any[]) => void) => any;
  const tracked = (cb?: (...args: any[]) => void) => {
    const key = next++;
    started.set(key, Date.now());
    if (cb) {
      return connect((...args: any[]) => {
        started.delete(key);
        cb(...args);
      });
    }
    return (connect() as Promise<unknown>).finally(() => started.delete(key));
  };
  pool.connect = tracked as typeof pool.connect;
}

/** The pg pool under a Kysely made by `createDb`: for named prepared statements, which Kysely does not send. */
export function poolOf(db: Kysely<Database>): Pool | undefined {
  return pools.get(db);
}

export function createDb(opts: DbOptions): Kysely<Database> {
  const pool = new Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 20,
    // Every connection works in the configured schema; tests give each file its own.
    options: `-c search_path=${opts.schema}${opts.synchronousCommit === 'off' ? ' -c synchronous_commit=off' : ''}${sessionOptions(opts.limits)}`,
    // A query waits this long at most for a connection, then fails (and is retried or answered 503).
    ...(opts.limits?.poolWaitTimeoutMs ? { connectionTimeoutMillis: opts.limits.poolWaitTimeoutMs } : {}),
  });
  trackWaits(pool);
  if (opts.onTimeout) {
    // Statements sent on the pool itself (the claim, the group commit) rather than through Kysely.
    const onTimeout = opts.onTimeout;
    const query = pool.query.bind(pool) as (...args: any[]) => any;
    pool.query = ((...args: any[]) => {
      const r = query(...args);
      if (r && typeof r.then === 'function') (r as Promise<unknown>).catch((e) => noteTimeout(e, onTimeout));
      return r;
    }) as typeof pool.query;
  }
  // An idle client error (Postgres restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Nor may one on a client checked out between two statements (inside a transaction): pg emits
  // it on the client, where the pool listens only while the client is idle. The statement that
  // follows fails instead, and the job or request that ran it is retried or answered 503.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const onTimeout = opts.onTimeout;
  const db = new Kysely<Database>({
    dialect: new SchemaDialect({ pool }, opts.schema),
    ...(onTimeout && { log: (event) => void (event.level === 'error' && noteTimeout(event.error, onTimeout)) }),
  });
  pools.set(db, pool);
  if (opts.limits?.exportTimeoutMs !== undefined) exportTimeouts.set(pool, opts.limits.exportTimeoutMs);
  return db;
}

function noteTimeout(err: unknown, onTimeout: (kind: DbTimeoutKind) => void): void {
  const kind = timeoutKindOf(err);
  if (kind) onTimeout(kind);
}

const exportTimeouts = new WeakMap<Pool, number>();

/** The statement limit of an export's COPY on this pool; undefined: the session's own. */
export function exportTimeoutOf(pool: Pool): number | undefined {
  return exportTimeouts.get(pool);
}

/** Database exists, schema exists, migrations applied: ready for the repositories. */
export async function openDatabase(opts: DbOptions): Promise<Kysely<Database>> {
  await ensureDatabase(opts.url);
  const db = createDb(opts);
  // Only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the
  // schema exists, which the application's role (amend_app) does not have.
  const exists = await sql`select 1 from pg_namespace where nspname = ${opts.schema}`.execute(db);
  if (exists.rows.length === 0) await sql`create schema if not exists ${sql.id(opts.schema)}`.execute(db);
  // Concurrent boots (api + worker) must not both run the migration: Kysely's migrator locks too,
  // but the lock table itself is created racily, so serialise on an advisory lock first.
  await db.connection().execute(async (conn) => {
    // The migrate step has no time limits: it waits for another process's migration (the advisory
    // lock below), and an index on a large table may take minutes. RESET puts the pool's back.
    for (const setting of SESSION_LIMITS) await sql`select set_config(${setting}, '0', false)`.execute(conn);
    try {
      await sql`select pg_advisory_lock(hashtext(${'amend-migrate:' + opts.schema}))`.execute(conn);
      try {
        await migrateToLatest(conn, opts.schema);
      } finally {
        await sql`select pg_advisory_unlock(hashtext(${'amend-migrate:' + opts.schema}))`.execute(conn);
      }
    } finally {
      for (const setting of SESSION_LIMITS) await sql`reset ${sql.raw(setting)}`.execute(conn);
    }
  });
  const pool = poolOf(db);
  if (pool && opts.warm) {
    // As many queries at once as connections wanted: the pool opens one for each.
    await Promise.all(Array.from({ length: Math.min(opts.warm, opts.poolSize ?? 20) }, () => pool.query('select 1')));
  }
  return db;
}
