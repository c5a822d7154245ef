import { sql, type Kysely } from 'kysely';
import type { PairRecord, RunUsage, SampleStatus, StageRecord } from '@amend/contracts';
import type { Database, RunsTable, SamplesTable } from './schema';
import { insertAuditEvents, type AuditEventInput } from './audit-events';

export type SampleRow = SamplesTable & { updated_at: Date };
export type RunRowForWork = RunsTable & { created_at: Date };

export interface WorkItem {
  sample: SampleRow;
  run: RunRowForWork;
  records: StageRecord[];
}

export type CheckpointOutcome = 'saved' | 'completed' | 'duplicate' | 'stopped';

type Event = Omit<AuditEventInput, 'run_id' | 'sample_id'>;

function toStageRecord(r: any): StageRecord {
  return {
    seq: r.seq,
    stage: r.stage,
    round: r.round,
    principle_id: r.principle_id,
    messages: r.messages,
    text: r.text,
    model: r.model,
    usage: { prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens },
    latency_ms: r.latency_ms,
    simulated: r.simulated,
    created_at: r.created_at instanceof Date ? r.created_at.toISOString() : r.created_at,
    ...(r.judgement != null && { judgement: r.judgement }),
  };
}

function usageOf(row: { calls: number; prompt_tokens: unknown; completion_tokens: unknown }): RunUsage {
  return { calls: row.calls, prompt_tokens: Number(row.prompt_tokens), completion_tokens: Number(row.completion_tokens) };
}

export class SamplesRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Everything a worker needs to continue a sample: the sample, its run, the stages already paid for. */
  async loadForWork(sampleId: string): Promise<WorkItem | undefined> {
    const sample = (await this.db.selectFrom('samples').selectAll().where('id', '=', sampleId).executeTakeFirst()) as SampleRow | undefined;
    if (!sample) return undefined;
    const run = (await this.db.selectFrom('runs').selectAll().where('id', '=', sample.run_id).executeTakeFirstOrThrow()) as RunRowForWork;
    const records = await this.db.selectFrom('stage_records').selectAll().where('sample_id', '=', sampleId).orderBy('seq').execute();
    return { sample, run, records: records.map(toStageRecord) };
  }

  /** pending -> running; false when the sample is no longer waiting for work (finished or cancelled). */
  async claim(sampleId: string): Promise<boolean> {
    const r = await this.db
      .updateTable('samples')
      .set({ status: 'running', updated_at: sql`now()` })
      .where('id', '=', sampleId)
      .where('status', 'in', ['pending', 'running'])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Saves one stage's output with its audit event in one transaction; with `pair`, also the pair
   * and its event, and the sample completes. A stage already saved (another worker got there
   * first after a stall) is a `duplicate` and nothing is written.
   */
  async checkpoint(input: {
    sampleId: string;
    runId: string;
    idx: number;
    record: StageRecord;
    nextStage: string;
    event: Event;
    pair?: { record: PairRecord; event: Event };
    /** What the call cost at the run's prices, and whether the run has a budget to count it against. */
    spend?: { costUsd: number; budgeted: boolean };
  }): Promise<CheckpointOutcome> {
    const { record } = input;
    return this.db.transaction().execute(async (tx) => {
      const current = await tx.selectFrom('samples').select('status').where('id', '=', input.sampleId).forUpdate().executeTakeFirst();
      const inserted = await tx
        .insertInto('stage_records')
        .values({
          sample_id: input.sampleId,
          seq: record.seq,
          stage: record.stage,
          round: record.round,
          principle_id: record.principle_id,
          messages: JSON.stringify(record.messages),
          text: record.text,
          model: record.model,
          prompt_tokens: record.usage.prompt_tokens,
          completion_tokens: record.usage.completion_tokens,
          latency_ms: Math.round(record.latency_ms),
          simulated: record.simulated,
          judgement: record.judgement ? JSON.stringify(record.judgement) : null,
        })
        .onConflict((oc) => oc.columns(['sample_id', 'seq']).doNothing())
        .returning('seq')
        .executeTakeFirst();
      if (!inserted) return 'duplicate';
      const running = current?.status === 'running';
      const completes = running && !!input.pair;
      await tx
        .updateTable('samples')
        .set({
          calls: sql`calls + 1`,
          prompt_tokens: sql`prompt_tokens + ${record.usage.prompt_tokens}`,
          completion_tokens: sql`completion_tokens + ${record.usage.completion_tokens}`,
          ...(input.spend?.costUsd ? { cost_usd: sql`cost_usd + ${input.spend.costUsd}` } : {}),
          stage: completes ? 'done' : input.nextStage,
          ...(completes ? { status: 'completed' } : {}),
          updated_at: sql`now()`,
        })
        .where('id', '=', input.sampleId)
        .execute();
      const events: AuditEventInput[] = [{ ...input.event, run_id: input.runId, sample_id: input.sampleId }];
      if (completes && input.pair) {
        await tx
          .insertInto('pairs')
          .values({
            id: input.pair.record.id,
            run_id: input.runId,
            sample_id: input.sampleId,
            idx: input.idx,
            record: JSON.stringify(input.pair.record),
            flags: input.pair.record.metadata.flags ?? [],
          })
          .execute();
        events.push({ ...input.pair.event, run_id: input.runId, sample_id: input.sampleId });
      }
      await insertAuditEvents(tx, events);
      if (input.spend?.budgeted) {
        // Last, so the run row (shared by every sample of the run) stays locked as briefly as possible.
        await tx
          .updateTable('runs')
          .set({
            spent_tokens: sql`spent_tokens + ${record.usage.prompt_tokens + record.usage.completion_tokens}`,
            spent_cost_usd: sql`spent_cost_usd + ${input.spend.costUsd}`,
          })
          .where('id', '=', input.runId)
          .execute();
      }
      if (!running) return 'stopped';
      return completes ? 'completed' : 'saved';
    });
  }

  async fail(sampleId: string, runId: string, reason: string, event: Event): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const failed = await tx
        .updateTable('samples')
        .set({ status: 'failed', failure_reason: reason, updated_at: sql`now()` })
        .where('id', '=', sampleId)
        .where('status', 'in', ['pending', 'running'])
        .executeTakeFirst();
      // A sample that already finished (completed, cancelled) did not fail: the trail says what happened.
      if (Number(failed.numUpdatedRows) === 0) return;
      await insertAuditEvents(tx, [{ ...event, run_id: runId, sample_id: sampleId }]);
    });
  }

  async list(runId: string, opts: { status?: SampleStatus; limit: number; cursor?: number }) {
    let q = this.db
      .selectFrom('samples')
      .select(['id', 'run_id', 'idx', 'external_id', 'status', 'stage', 'failure_reason', 'calls', 'prompt_tokens', 'completion_tokens'])
      .where('run_id', '=', runId)
      .orderBy('idx')
      .limit(opts.limit + 1);
    if (opts.status) q = q.where('status', '=', opts.status);
    if (opts.cursor !== undefined) q = q.where('idx', '>', opts.cursor);
    const rows = await q.execute();
    const page = rows.slice(0, opts.limit);
    return {
      samples: page.map((r) => ({
        id: r.id,
        run_id: r.run_id,
        index: r.idx,
        external_id: r.external_id,
        status: r.status as SampleStatus,
        stage: r.stage,
        failure_reason: r.failure_reason,
        usage: usageOf(r),
      })),
      next_cursor: rows.length > opts.limit ? page[page.length - 1].idx : null,
    };
  }

  async detail(sampleId: string, team?: string) {
    let q = this.db
      .selectFrom('samples')
      .innerJoin('runs', 'runs.id', 'samples.run_id')
      .selectAll('samples')
      .where('samples.id', '=', sampleId);
    if (team) q = q.where('runs.team', '=', team);
    const s = await q.executeTakeFirst();
    if (!s) return undefined;
    const stages = await this.db.selectFrom('stage_records').selectAll().where('sample_id', '=', sampleId).orderBy('seq').execute();
    return {
      id: s.id,
      run_id: s.run_id,
      index: s.idx,
      external_id: s.external_id,
      status: s.status as SampleStatus,
      stage: s.stage,
      failure_reason: s.failure_reason,
      usage: usageOf(s),
      prompt: s.prompt,
      metadata: (s.metadata as Record<string, unknown> | null) ?? null,
      stages: stages.map(toStageRecord),
    };
  }

  /** Unfinished samples of unfinished runs, in pages, for the reconciler. */
  async unfinished(runId: string, afterIdx: number, limit: number): Promise<{ id: string; idx: number }[]> {
    return this.db
      .selectFrom('samples')
      .select(['id', 'idx'])
      .where('run_id', '=', runId)
      .where('status', 'in', ['pending', 'running'])
      .where('idx', '>', afterIdx)
      .orderBy('idx')
      .limit(limit)
      .execute();
  }
}
