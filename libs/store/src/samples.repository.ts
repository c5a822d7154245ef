import { CompiledQuery, sql, type Kysely, type Selectable } from 'kysely';
import type { Pool } from 'pg';
import {
  ACTIVE_RUN_STATUSES,
  UNFINISHED_SAMPLE_STATUSES,
  type ChatMessage,
  type RunStatus,
  type RunUsage,
  type SampleStatus,
  type StageRecord,
} from '@amend/contracts';
import type { Database, RunsTable, SamplesTable } from './schema';
import { insertAuditEvents, type AuditEventInput } from './audit-events';
import { statusList, statusLiteral } from './status-sql';
import { verifySample } from './sample-verification';
import { GroupQueue } from './group-queue';
import { CheckpointBatcher, KnownBlobs, contentOf, type CheckpointEvent, type CheckpointInput, type CheckpointResult } from './checkpoint';

export type { CheckpointEvent, CheckpointInput, CheckpointOutcome, CheckpointResult, SampleChainHead } from './checkpoint';

export type SampleRow = Selectable<SamplesTable>;
export type RunRowForWork = Selectable<RunsTable>;

/** A run's prompt as submitted. */
export interface PromptRow {
  idx: number;
  prompt: string;
  messages: ChatMessage[] | null;
  external_id: string | null;
  metadata: Record<string, unknown> | null;
}

export interface WorkItem {
  sample: SampleRow;
  run: RunRowForWork;
  records: StageRecord[];
}

type Event = CheckpointEvent;

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
    finish_reason: r.finish_reason ?? null,
    created_at: r.created_at instanceof Date ? r.created_at.toISOString() : r.created_at,
    ...(r.judgement != null && { judgement: r.judgement }),
  };
}

function usageOf(row: { calls: number; prompt_tokens: unknown; completion_tokens: unknown }): RunUsage {
  return { calls: row.calls, prompt_tokens: Number(row.prompt_tokens), completion_tokens: Number(row.completion_tokens) };
}

/** Characters of a prompt a sample list shows (the console's audit page): enough to tell samples apart. */
const PROMPT_PREVIEW = 120;

/** Runs kept per process: a run's settings never change, only its status, spend and `simulated` flag (read with each claim). */
const RUN_CACHE_MAX = 1_000;

/**
 * Claims a group of samples for work ($1, an array of ids) and reads what the worker needs in one
 * round trip: each pending or running -> running unless its run was cancelled, with its run's status and `simulated` flag (which
 * change while it goes) and the stages already paid for.
 */
const CLAIM_FOR_WORK_SQL = `with c as (
  update samples set status = ${statusLiteral('running')}, updated_at = now()
  where id = any($1::uuid[]) and status in (${statusList(UNFINISHED_SAMPLE_STATUSES)})
    and not exists (select 1 from runs where runs.id = samples.run_id and runs.status = ${statusLiteral('cancelled')})
  returning *
)
select c.*, runs.status as run_status, runs.simulated as run_simulated,
  coalesce((select json_agg(json_build_object(
      'seq', r.seq, 'stage', r.stage, 'round', r.round, 'principle_id', r.principle_id, 'messages', coalesce(r.messages, amend_messages(r.message_refs)), 'text', r.text,
      'model', r.model, 'prompt_tokens', r.prompt_tokens, 'completion_tokens', r.completion_tokens, 'latency_ms', r.latency_ms,
      'simulated', r.simulated, 'judgement', r.judgement, 'finish_reason', r.finish_reason,
      'created_at', to_char(r.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) order by r.seq)
    from stage_records r where r.sample_id = c.id), '[]'::json) as records
from c join runs on runs.id = c.run_id`;

/** Named, so each connection parses and plans it once; the name changes with its text. */
const CLAIM_FOR_WORK_NAME = 'amend_claim_for_work_4';
/** The most claims in one statement. */
const CLAIM_GROUP_MAX = 512;

type ClaimedRow = SampleRow & { run_status: RunStatus; run_simulated: boolean; records: any[] };

export class SamplesRepository {
  private readonly batcher?: CheckpointBatcher;
  private readonly claims?: GroupQueue<string, ClaimedRow | undefined>;
  private readonly runs = new Map<string, RunRowForWork>();
  private readonly blobs = new KnownBlobs();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly pool?: Pool,
  ) {
    if (pool) {
      this.batcher = new CheckpointBatcher(pool, this.blobs);
      this.claims = new GroupQueue(
        (ids) => this.claimGroup(ids),
        (id) => id,
        CLAIM_GROUP_MAX,
      );
    }
  }

  /**
   * Claims the sample (pending or running -> running) and loads everything a worker needs to
   * continue it, in one statement; the run's settings come from a per-process cache. Undefined
   * when the sample is gone, finished or cancelled, or its run was cancelled.
   */
  async claimForWork(sampleId: string): Promise<WorkItem | undefined> {
    // Claims that arrive while one is in flight go together (GroupQueue): one statement, one commit.
    const row = this.claims ? await this.claims.submit(sampleId) : (await this.db.executeQuery(CompiledQuery.raw(CLAIM_FOR_WORK_SQL, [[sampleId]]))).rows[0];
    if (!row) return undefined;
    const { run_status, run_simulated, records, ...sample } = row as ClaimedRow;
    const run = await this.cachedRun(sample.run_id);
    return { sample: sample as SampleRow, run: { ...run, status: run_status, simulated: run_simulated }, records: records.map(toStageRecord) };
  }

  /** One group of claims; each id gets its row, or undefined when it was not claimed. */
  private async claimGroup(ids: string[]): Promise<(ClaimedRow | undefined)[]> {
    let rows: ClaimedRow[];
    try {
      rows = (await this.pool!.query<ClaimedRow>({ name: CLAIM_FOR_WORK_NAME, text: CLAIM_FOR_WORK_SQL, values: [ids] })).rows;
    } catch (e: any) {
      // Two statements locked the same samples in opposite orders (a stalled job's sample claimed
      // again while its group commit goes): nothing of this one committed; claim each on its own.
      if (e?.code !== '40P01' || ids.length === 1) throw e;
      return Promise.all(ids.map(async (id) => (await this.claimGroup([id]))[0]));
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id));
  }

  private async cachedRun(runId: string): Promise<RunRowForWork> {
    let run = this.runs.get(runId);
    if (!run) {
      run = (await this.db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirstOrThrow()) as RunRowForWork;
      if (this.runs.size >= RUN_CACHE_MAX) this.runs.clear();
      this.runs.set(runId, run);
    }
    return run;
  }

  /** Checkpoints that went through the group commit and the statements that carried them. */
  groupStats(): { checkpoints: number; statements: number } {
    return { ...(this.batcher?.stats ?? { checkpoints: 0, statements: 0 }) };
  }

  /** Claims made and the statements that carried them. */
  claimStats(): { claims: number; statements: number } {
    return { claims: this.claims?.stats.items ?? 0, statements: this.claims?.stats.statements ?? 0 };
  }

  /** Everything a worker needs to continue a sample: the sample, its run, the stages already paid for. */
  async loadForWork(sampleId: string): Promise<WorkItem | undefined> {
    const sample = (await this.db.selectFrom('samples').selectAll().where('id', '=', sampleId).executeTakeFirst()) as SampleRow | undefined;
    if (!sample) return undefined;
    const run = (await this.db.selectFrom('runs').selectAll().where('id', '=', sample.run_id).executeTakeFirstOrThrow()) as RunRowForWork;
    return { sample, run, records: await this.stageRecords(sampleId) };
  }

  /** A sample's stages in order; rows since migration 0009 name their messages, expanded from the blobs in the same query. */
  private async stageRecords(sampleId: string): Promise<StageRecord[]> {
    const rows = await this.db
      .selectFrom('stage_records')
      .selectAll()
      .select(sql<unknown>`coalesce(messages, amend_messages(message_refs))`.as('messages'))
      .where('sample_id', '=', sampleId)
      .orderBy('seq')
      .execute();
    return rows.map(toStageRecord);
  }

  /** pending -> running; false when the sample is no longer waiting for work (finished or cancelled). */
  async claim(sampleId: string): Promise<boolean> {
    const r = await this.db
      .updateTable('samples')
      .set({ status: 'running', updated_at: sql`now()` })
      .where('id', '=', sampleId)
      .where('status', 'in', UNFINISHED_SAMPLE_STATUSES)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Saves one stage's output with its audit event in one transaction; with `pair`, also the pair
   * and its event, and the sample completes. A stage already saved (another worker got there
   * first after a stall) is a `duplicate` and nothing is written. With the chain head it joins the
   * process's group commit (checkpoint.ts); the locking transaction takes every other case. The
   * sample's stage becomes `input.nextStage` as given; the result holds the chain's new head.
   */
  async checkpoint(input: CheckpointInput): Promise<CheckpointResult> {
    if (input.head && this.batcher) {
      const grouped = await this.batcher.submit(input);
      if (grouped) return grouped;
    }
    return this.checkpointLocked(input);
  }

  /** The checkpoint as one transaction that locks the sample row first; every case, including the unusual ones. */
  private async checkpointLocked(input: CheckpointInput): Promise<CheckpointResult> {
    const { record } = input;
    const content = contentOf(input);
    const blobs = this.blobs.unknown([input]);
    const result = await this.db.transaction().execute(async (tx): Promise<CheckpointResult> => {
      const current = await tx.selectFrom('samples').select('status').where('id', '=', input.sampleId).forUpdate().executeTakeFirst();
      if (blobs.length > 0) {
        await tx
          .insertInto('content_blobs')
          .values(blobs.map((b) => ({ sha256: b.sha256, content: b.json })))
          .onConflict((oc) => oc.column('sha256').doNothing())
          .execute();
      }
      const inserted = await tx
        .insertInto('stage_records')
        .values({
          sample_id: input.sampleId,
          seq: record.seq,
          stage: record.stage,
          round: record.round,
          principle_id: record.principle_id,
          message_refs: content.refs,
          text: record.text,
          model: record.model,
          prompt_tokens: record.usage.prompt_tokens,
          completion_tokens: record.usage.completion_tokens,
          latency_ms: Math.round(record.latency_ms),
          simulated: record.simulated,
          judgement: record.judgement ? JSON.stringify(record.judgement) : null,
          finish_reason: record.finish_reason ?? null,
        })
        .onConflict((oc) => oc.columns(['sample_id', 'seq']).doNothing())
        .returning('seq')
        .executeTakeFirst();
      if (!inserted) return { outcome: 'duplicate' };
      const running = current?.status === 'running';
      const completes = running && !!input.pair;
      await tx
        .updateTable('samples')
        .set({
          calls: sql`calls + 1`,
          prompt_tokens: sql`prompt_tokens + ${record.usage.prompt_tokens}`,
          completion_tokens: sql`completion_tokens + ${record.usage.completion_tokens}`,
          ...(input.spend?.costUsd ? { cost_usd: sql`cost_usd + ${input.spend.costUsd}` } : {}),
          stage: input.nextStage,
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
            quality: input.pair.quality ? JSON.stringify(input.pair.quality) : null,
          })
          .execute();
        events.push({ ...input.pair.event, run_id: input.runId, sample_id: input.sampleId });
      }
      const stored = await insertAuditEvents(tx, events);
      const last = stored.filter((e) => e.sample_id === input.sampleId && e.chain === `sample:${input.sampleId}`).pop()!;
      const head = { seq: last.seq, hash: last.hash };
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
      if (!running) return { outcome: 'stopped', head };
      return { outcome: completes ? 'completed' : 'saved', head };
    });
    this.blobs.committed(blobs);
    return result;
  }

  async fail(sampleId: string, runId: string, reason: string, event: Event): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const failed = await tx
        .updateTable('samples')
        .set({ status: 'failed', failure_reason: reason, updated_at: sql`now()` })
        .where('id', '=', sampleId)
        .where('status', 'in', UNFINISHED_SAMPLE_STATUSES)
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
      .select(sql<string>`left(prompt, ${PROMPT_PREVIEW})`.as('prompt_preview'))
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
        status: r.status,
        stage: r.stage,
        failure_reason: r.failure_reason,
        usage: usageOf(r),
        prompt_preview: r.prompt_preview,
      })),
      next_cursor: rows.length > opts.limit ? page[page.length - 1].idx : null,
    };
  }

  /** The sample's row, if `team` may see it (undefined: any team). */
  async row(sampleId: string, team?: string): Promise<SampleRow | undefined> {
    let q = this.db.selectFrom('samples').innerJoin('runs', 'runs.id', 'samples.run_id').selectAll('samples').where('samples.id', '=', sampleId);
    if (team) q = q.where('runs.team', '=', team);
    return (await q.executeTakeFirst()) as SampleRow | undefined;
  }

  async detail(sampleId: string, team?: string) {
    let q = this.db.selectFrom('samples').innerJoin('runs', 'runs.id', 'samples.run_id').selectAll('samples').where('samples.id', '=', sampleId);
    if (team) q = q.where('runs.team', '=', team);
    const s = await q.executeTakeFirst();
    if (!s) return undefined;
    const [records, checked] = await Promise.all([this.stageRecords(sampleId), verifySample(this.db, s)]);
    const stages = records.map((r) => ({ ...r, verified: checked.stages.get(r.seq) ?? false }));
    return {
      id: s.id,
      run_id: s.run_id,
      index: s.idx,
      external_id: s.external_id,
      status: s.status,
      stage: s.stage,
      failure_reason: s.failure_reason,
      usage: usageOf(s),
      prompt: s.prompt,
      messages: s.messages ?? null,
      metadata: s.metadata ?? null,
      stages,
      verification: checked.verification,
    };
  }

  /** Unfinished samples of unfinished runs, in pages, for the reconciler. */
  async unfinished(runId: string, afterIdx: number, limit: number): Promise<{ id: string; idx: number }[]> {
    return this.db
      .selectFrom('samples')
      .select(['id', 'idx'])
      .where('run_id', '=', runId)
      .where('status', 'in', UNFINISHED_SAMPLE_STATUSES)
      .where('idx', '>', afterIdx)
      .orderBy('idx')
      .limit(limit)
      .execute();
  }

  /** Samples of unfinished runs by status, for the metrics: bounded by the runs under way, not the whole history. */
  async countsOfActiveRuns(): Promise<Partial<Record<SampleStatus, number>>> {
    const rows = await this.db
      .selectFrom('samples')
      .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
      .where('run_id', 'in', (eb) => eb.selectFrom('runs').select('id').where('status', 'in', ACTIVE_RUN_STATUSES))
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** The prompts of a run in request order, as submitted (for its manifest); `messages` for a multi-turn prompt. */
  async prompts(runId: string): Promise<PromptRow[]> {
    const rows = await this.db
      .selectFrom('samples')
      .select(['idx', 'prompt', 'messages', 'external_id', 'metadata'])
      .where('run_id', '=', runId)
      .orderBy('idx')
      .execute();
    return rows.map((r) => ({
      idx: r.idx,
      prompt: r.prompt,
      messages: r.messages ?? null,
      external_id: r.external_id,
      metadata: (r.metadata as Record<string, unknown> | null) ?? null,
    }));
  }
}
