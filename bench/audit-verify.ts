/**
 * How long verifying a run's audit trail takes: a run of ~10,000 events written through the
 * store's own append path (per-sample chains, run chain, seal) into a scratch schema, then
 *   - the server's verification (what GET /v1/runs/{id}/audit/verify does: stream from Postgres, recompute),
 *   - the offline verification of the exported bundle (amend audit verify --file),
 *   - the hashing alone on events already in memory.
 * Prints the figures; asserts nothing about time.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/audit-verify.ts [--events 10000] [--repeat 5]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Command } from 'commander';
import { sql } from 'kysely';
import { AuditVerifier, bundleEnd, bundleHeader, verifyBundle } from '@amend/audit';
import { stageEventType, type StageName } from '@amend/contracts';
import { Store, insertAuditEvents, openDatabase, type StoredAuditEvent } from '@amend/store';

const EVENTS_PER_SAMPLE = 6; // draft, (critique, revision) x 2, pair: a two-round critique-revise sample

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

/** A model call's payload of about the size the worker records: the conversation so far and the answer. */
function payload(stage: string, round: number, sample: number) {
  const text = (n: number) => `Sample ${sample} ${stage} ${round}: ` + 'lorem ipsum dolor sit amet '.repeat(n);
  return {
    seq: round,
    stage,
    round,
    principle_id: 'harmful-general',
    constitution: { name: 'bench', version: '1.0.0', sha256: 'f'.repeat(64) },
    request: {
      model: 'sim',
      messages: [
        { role: 'user', content: text(20) },
        { role: 'assistant', content: text(20) },
        { role: 'user', content: text(8) },
      ],
      temperature: 0.7,
      max_tokens: 512,
    },
    response: text(25),
    model: 'amend-simulator-1',
    usage: { prompt_tokens: 900 + round, completion_tokens: 180 },
    latency_ms: 120,
    attempts: 1,
    simulated: true,
  };
}

async function main() {
  const opts = new Command().option('--events <n>', 'events in the run', '10000').option('--repeat <n>', 'verifications timed', '5').parse(process.argv).opts();
  const target = Number(opts.events);
  const repeat = Number(opts.repeat);
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_audit_${randomBytes(4).toString('hex')}`;
  // The store for what it offers (verify, stream); the bench's own handle for the rows it writes.
  const db = await openDatabase({ url, schema });
  const store = new Store(db);
  try {
    const samples = Math.max(1, Math.ceil((target - 2) / EVENTS_PER_SAMPLE));
    const runId = randomUUID();
    const [writeMs] = await time(async () => {
      await db
        .insertInto('constitutions')
        .values({ name: 'bench', version: '1.0.0', sha256: 'f'.repeat(64), content: '{}', source: 'file', published_by: 'bench' } as any)
        .execute();
      await db
        .insertInto('runs')
        .values({
          id: runId,
          team: 'bench',
          status: 'running',
          mode: 'critique-revise',
          constitution_name: 'bench',
          constitution_version: '1.0.0',
          constitution_sha256: 'f'.repeat(64),
          rounds: 2,
          seed: 1,
          model: 'default',
          feedback_model: null,
          sampling: '{}',
          total: samples,
          simulated: true,
          idempotency_key: null,
          request_sha256: null,
          created_by: 'bench',
        } as any)
        .execute();
      await insertAuditEvents(db, [{ run_id: runId, sample_id: null, type: 'run.created', actor: 'bench', payload: { samples } }]);
      const ids = Array.from({ length: samples }, () => randomUUID());
      await sql`insert into samples (id, run_id, idx, prompt, status, stage)
        select s.id, ${runId}::uuid, s.idx, 'prompt', 'running', 'draft' from unnest(${ids}::uuid[], ${ids.map((_, i) => i)}::int[]) as s(id, idx)`.execute(db);
      // One transaction per stage, as the worker checkpoints, a few samples at a time.
      const stages: StageName[] = ['draft', 'critique', 'revision', 'critique', 'revision'];
      const writeSample = async (sampleId: string, i: number) => {
        for (let k = 0; k < stages.length; k++) {
          await insertAuditEvents(db, [
            { run_id: runId, sample_id: sampleId, type: stageEventType(stages[k]), actor: 'worker:bench', payload: payload(stages[k], k, i) },
          ]);
        }
        await db.updateTable('samples').set({ status: 'completed', stage: 'done' }).where('id', '=', sampleId).execute();
        await insertAuditEvents(db, [
          {
            run_id: runId,
            sample_id: sampleId,
            type: 'pair.emitted',
            actor: 'worker:bench',
            payload: { pair: { id: randomUUID(), chosen: payload('revision', 4, i).response, rejected: payload('draft', 0, i).response } },
          },
        ]);
      };
      for (let i = 0; i < ids.length; i += 16) await Promise.all(ids.slice(i, i + 16).map((id, j) => writeSample(id, i + j)));
      await store.runs.finalizeIfDone(runId);
    });

    const server: number[] = [];
    let report;
    for (let i = 0; i < repeat; i++) {
      const [ms, r] = await time(() => store.audit.verifyRun(runId, { finished: true }));
      server.push(ms);
      report = r;
    }
    if (!report?.ok) throw new Error(`the benchmark run does not verify: ${JSON.stringify(report?.first_failure)}`);

    const events: StoredAuditEvent[] = [];
    for await (const e of store.audit.streamRun(runId)) events.push(e);
    const lines = [
      JSON.stringify(bundleHeader({ id: runId, status: 'completed' })),
      ...events.map((e) => JSON.stringify(e)),
      JSON.stringify(bundleEnd(events.length)),
    ];
    const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    const offline: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const [ms, r] = await time(() => verifyBundle(lines));
      if (!r.ok) throw new Error('the bundle does not verify');
      offline.push(ms);
      const [cpuMs] = await time(async () => {
        const v = new AuditVerifier({ runId, expectSealed: true });
        for (const e of events) v.add(e);
        return v.finish();
      });
      cpu.push(cpuMs);
    }
    const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
    console.log(
      `audit verify, ${report.events} events in ${report.chains} chains (${samples} samples x ${EVENTS_PER_SAMPLE} + run.created + run.sealed), bundle ${(bytes / 1e6).toFixed(1)} MB`,
    );
    console.log(`  written through the store's append path in ${(writeMs / 1000).toFixed(1)} s`);
    console.log(`  server (Postgres stream + recompute, GET /v1/runs/{id}/audit/verify): ${fmt(server)}`);
    console.log(`  offline bundle (amend audit verify --file, parse + recompute):     ${fmt(offline)}`);
    console.log(`  recompute only (events in memory):                                 ${fmt(cpu)}`);
    console.log(`  ${(report.events / (median(server) / 1000)).toFixed(0)} events/s on the server path; Node ${process.version}, ${repeat} repetitions`);
  } finally {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
    await store.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
