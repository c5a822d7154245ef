import { Kysely, PostgresDialect } from 'kysely';
import { Client, Pool } from 'pg';
import { createDb } from '@amend/store';
import { testEnv } from './support/stack';

/**
 * Kysely's migrator asks the introspector whether its tables exist, and Kysely's Postgres
 * introspector reads every schema of the database, calling pg_get_serial_sequence on each column.
 * Another process's DDL in its own schema meanwhile failed that call, and so our migration (seen in
 * CI as `column "batch" of relation "runs" does not exist` and `relation "t_….audit_snapshot" does
 * not exist`, both in other test files' schemas). Our dialect looks at our schema only.
 */
const env = testEnv('introspect');
const other = `${env.DATABASE_SCHEMA}_other`;
let churn: Client;
let stop = false;
let churning: Promise<void>;
let rounds = 0;

beforeAll(async () => {
  churn = new Client({ connectionString: env.DATABASE_URL });
  await churn.connect();
  await churn.query(`create schema ${other}`);
  // What other test files do in their schemas: tables made, altered and dropped, each statement committed on its own.
  churning = (async () => {
    while (!stop) {
      await churn.query(`create table ${other}.t (a serial, b int)`);
      await churn.query(`alter table ${other}.t add column batch int`);
      await churn.query(`alter table ${other}.t drop column batch`);
      await churn.query(`drop table ${other}.t`);
      rounds++;
    }
  })();
});

afterAll(async () => {
  stop = true;
  await churning;
  await churn.query(`drop schema if exists ${other} cascade`);
  await churn.query(`drop schema if exists "${env.DATABASE_SCHEMA}" cascade`);
  await churn.end();
});

async function failuresOf(db: Kysely<any>, attempts: number, stopAtFirst = false): Promise<string[]> {
  const failures: string[] = [];
  for (let i = 0; i < attempts; i++) {
    try {
      await db.introspection.getTables({ withInternalKyselyTables: true });
    } catch (err) {
      failures.push(String(err));
      if (stopAtFirst) break;
    }
  }
  return failures;
}

it("Kysely's own introspector fails under another schema's DDL, so the churn here does hit", async () => {
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 1 });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  try {
    const failures = await failuresOf(db, 3_000, true);
    expect(failures[0]).toMatch(/does not exist/);
  } finally {
    await db.destroy();
  }
});

it("the store's dialect looks at its own schema only, and never fails under the same churn", async () => {
  await churn.query(`create schema "${env.DATABASE_SCHEMA}"`);
  const db = createDb({ url: env.DATABASE_URL, schema: env.DATABASE_SCHEMA, poolSize: 1 });
  try {
    const before = rounds;
    expect(await failuresOf(db, 150)).toEqual([]);
    expect(rounds - before).toBeGreaterThan(10);
    await churn.query(`create table "${env.DATABASE_SCHEMA}".mine (a int)`);
    expect((await db.introspection.getTables()).map((t) => t.name)).toEqual(['mine']);
  } finally {
    await db.destroy();
  }
});
