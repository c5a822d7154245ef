import { Kysely, PostgresDialect, sql } from 'kysely';
import { Pool, Client } from 'pg';
import type { Database } from './schema';
import { migrateToLatest } from './migrations';

export interface DbOptions {
  url: string;
  schema: string;
  poolSize?: number;
  /** Postgres `synchronous_commit` for this pool's sessions; default on (durable). */
  synchronousCommit?: 'on' | 'off';
  /** Open this many connections at boot, so the first jobs do not each pay for a connect. */
  warm?: number;
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

/** The pg pool under a Kysely made by `createDb`: for named prepared statements, which Kysely does not send. */
export function poolOf(db: Kysely<Database>): Pool | undefined {
  return pools.get(db);
}

export function createDb(opts: DbOptions): Kysely<Database> {
  const pool = new Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 20,
    // Every connection works in the configured schema; tests give each file its own.
    options: `-c search_path=${opts.schema}${opts.synchronousCommit === 'off' ? ' -c synchronous_commit=off' : ''}`,
  });
  // An idle client error (Postgres restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Nor may one on a client checked out between two statements (inside a transaction): pg emits
  // it on the client, where the pool listens only while the client is idle. The statement that
  // follows fails instead, and the job or request that ran it is retried or answered 503.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  return db;
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
    await sql`select pg_advisory_lock(hashtext(${'amend-migrate:' + opts.schema}))`.execute(conn);
    try {
      await migrateToLatest(conn, opts.schema);
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${'amend-migrate:' + opts.schema}))`.execute(conn);
    }
  });
  const pool = poolOf(db);
  if (pool && opts.warm) {
    // As many queries at once as connections wanted: the pool opens one for each.
    await Promise.all(Array.from({ length: Math.min(opts.warm, opts.poolSize ?? 20) }, () => pool.query('select 1')));
  }
  return db;
}
