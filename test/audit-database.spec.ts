import { randomBytes, randomUUID } from 'node:crypto';
import { Kysely, Migrator, sql } from 'kysely';
import { Client, Pool } from 'pg';
import { RunSchema } from '@amend/contracts';
import { SchemaDialect, Store } from '@amend/store';
import { migrateToLatest } from '../libs/store/src/migrations';
import { MIGRATIONS } from '../libs/store/src/migrations/index';
import { cleanup, json, startStack, testEnv, waitFor, type Stack } from './support/stack';

/**
 * The database side of the audit trail: the application's role cannot change audit rows, and a
 * database written before hash chains existed is chained and sealed by the migration.
 */
const env = testEnv('auditdb');
const role = `amend_t_${randomBytes(4).toString('hex')}`;
let admin: Client;

beforeAll(async () => {
  admin = new Client({ connectionString: env.DATABASE_URL });
  await admin.connect();
});
afterAll(async () => {
  await cleanup(env);
  await admin.query(`drop role if exists ${role}`);
  await admin.end();
});

describe('the application connected as a member of amend_app', () => {
  let stack: Stack | undefined;
  let app: Client | undefined;
  afterAll(async () => {
    await app?.end();
    await stack?.close();
  });

  it('runs the whole flow, and may not update, delete, truncate or unprotect audit rows', async () => {
    // The owner migrates once; the operator's login role joins amend_app (docs/operators.md#the-database-role).
    const owner = await startStack(env, { workers: 0 });
    await owner.close();
    await admin.query(`create role ${role} login in role amend_app`);
    const url = new URL(env.DATABASE_URL);
    url.username = role;
    const appEnv = { ...env, DATABASE_URL: url.toString() };

    stack = await startStack(appEnv);
    const res = await stack.fetch('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ constitution: 'amend-core', prompts: ['a', 'b'] }),
    });
    expect(res.status).toBe(202);
    const { id } = await json(res);
    await waitFor(async () => RunSchema.parse(await json(await stack!.fetch(`/v1/runs/${id}`))).status === 'completed', { what: 'the run' });
    const auditor = await stack.mintKey('auditor', 'audit');
    const verified = await json(await stack.fetch(`/v1/runs/${id}/audit/verify`, {}, auditor));
    expect(verified).toMatchObject({ ok: true, sealed: true });
    // The finished run's quality report is computed and kept by the application's role (run_reports: INSERT, no UPDATE).
    const report = await stack.fetch(`/v1/runs/${id}/report`);
    expect(report.status).toBe(200);
    const first = await json(report);
    expect(first.overall.pairs).toBe(2);
    expect(await json(await stack.fetch(`/v1/runs/${id}/report`))).toEqual(first);

    app = new Client({ connectionString: url.toString(), options: `-c search_path=${env.DATABASE_SCHEMA}` });
    await app.connect();
    for (const statement of [
      `update audit_events set actor = 'x'`,
      `delete from audit_events`,
      `truncate audit_events`,
      `alter table audit_events disable trigger audit_events_no_update_delete`,
      `set session_replication_role = replica`,
      `update run_reports set report = '{}'`,
      `delete from run_reports`,
    ]) {
      await expect(app.query(statement)).rejects.toMatchObject({ code: '42501' });
    }
    // What the application does need still works.
    expect((await app.query(`select count(*) from audit_events where run_id = $1`, [id])).rows[0].count).toBe('10');
    expect((await app.query(`select count(*) from run_reports where run_id = $1`, [id])).rows[0].count).toBe('1');
    await app.query(`update runs set simulated = simulated where id = $1`, [id]);
  });
});

describe('migrating a database written before hash chains', () => {
  const schema = `${env.DATABASE_SCHEMA}_legacy`;
  afterAll(async () => {
    await admin.query(`drop schema if exists "${schema}" cascade`);
  });

  it('chains the events already there in row order and seals the finished runs', async () => {
    const pool = new Pool({ connectionString: env.DATABASE_URL, options: `-c search_path=${schema}`, max: 2 });
    const db = new Kysely<any>({ dialect: new SchemaDialect({ pool }, schema) });
    try {
      await sql`create schema ${sql.id(schema)}`.execute(db);
      const before = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < '0004'));
      const migrator = new Migrator({ db, provider: { getMigrations: async () => before }, migrationTableSchema: schema, allowUnorderedMigrations: true });
      expect((await migrator.migrateToLatest()).error).toBeUndefined();

      await sql`insert into constitutions (name, version, sha256, content, source, published_by) values ('c', '1.0.0', 'x', '{}', 'file', 'test')`.execute(db);
      const runId = randomUUID();
      const samples = [randomUUID(), randomUUID()];
      await sql`insert into runs (id, team, status, mode, constitution_name, constitution_version, constitution_sha256, rounds, seed, model, sampling, total, simulated, created_by)
        values (${runId}, 'default', 'completed', 'critique-revise', 'c', '1.0.0', 'x', 1, 1, 'default', '{}', 2, true, 'anonymous')`.execute(db);
      const legacy = (runIdOrNull: string | null, sampleId: string | null, type: string, payload: unknown) =>
        sql`insert into audit_events (event_id, run_id, sample_id, type, actor, payload) values (${randomUUID()}, ${runIdOrNull}, ${sampleId}, ${type}, 'legacy', ${JSON.stringify(payload)})`.execute(
          db,
        );
      await legacy(null, null, 'constitution.published', { name: 'c', version: '1.0.0' });
      await legacy(runId, null, 'run.created', { samples: 2 });
      for (const s of samples) for (const type of ['draft.generated', 'critique.generated']) await legacy(runId, s, type, { text: `${type} of ${s}`, n: 1.5 });
      for (const s of samples) await legacy(runId, s, 'pair.emitted', { pair: { id: s } });

      await migrateToLatest(db, schema);
      const rows = (await sql<any>`select chain, seq, prev_hash, hash, type from audit_events order by id`.execute(db)).rows;
      expect(rows.every((r) => r.chain && r.hash && r.prev_hash)).toBe(true);
      expect(rows.filter((r) => r.chain === `sample:${samples[0]}`).map((r) => r.seq)).toEqual([0, 1, 2]);
      expect(rows[rows.length - 1]).toMatchObject({ type: 'run.sealed', chain: `run:${runId}`, seq: 1 });

      const store = new Store(db as any);
      expect(await store.audit.verifyRun(runId, { finished: true })).toMatchObject({ ok: true, sealed: true, events: 8, chains: 3 });
      expect((await store.audit.verifyChain('global')).ok).toBe(true);
    } finally {
      await db.destroy();
    }
  });
});
