import { randomUUID } from 'node:crypto';
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { linkEvents } from '@amend/audit';
import type { PairRecord, RunUsage, SampleStatus, StageRecord } from '@amend/contracts';
import type { Database, RunsTable, SamplesTable } from './schema';
import { insertAuditEvents, type AuditEventInput } from './audit-events';

export type SampleRow = Omit<SamplesTable, 'audit_seq' | 'audit_hash'> & { updated_at: Date; audit_seq: number; audit_hash: string };
export type RunRowForWork = RunsTable & { created_at: Date };

export interface WorkItem {
  sample: SampleRow;
  run: RunRowForWork;
  records: StageRecord[];
}

export type CheckpointOutcome = 'saved' | 'completed' | 'duplicate' | 'stopped';

type Event = Omit<AuditEventInput, 'run_id' | 'sample_id'>;

/** Head of a sample's audit chain: seq of its last event (-1 when empty) and that event's hash. */
export interface SampleChainHead {
  seq: number;
  hash: string;
}

/**
 * The checkpoint in one statement (one round trip, its own transaction): the sample row is
 * updated only while it is `running` and its chain head is still the one the caller holds, and
 * the stage record, the pair and the audit events are inserted only when that update matched.
 * The row lock the update takes is the chain lock; the guard on the head makes it optimistic, and
 * the unique keys (stage_records (sample_id, seq), audit_events (chain, seq), pairs) make a
 * conflict fail the whole statement rather than commit half of it.
 */
function fastCheckpointText(events: number, pair: boolean, budgeted: boolean): string {
  // $1 sample id, $2 run id, $3 prompt tokens, $4 completion tokens, $5 cost, $6 next stage,
  // $7 next status, $8 new head seq, $9 new head hash, $10 expected head seq, $11 expected head hash,
  // $12..$24 the stage record, then per event 8 parameters, then the pair (4), then the spend (2).
  const ev: string[] = [];
  let n = 25;
  for (let i = 0; i < events; i++, n += 8) {
    ev.push(`($${n}::uuid, $${n + 1}::int, $${n + 2}::text, $${n + 3}::text, $${n + 4}::timestamptz, $${n + 5}::jsonb, $${n + 6}::text, $${n + 7}::text)`);
  }
  const parts = [
    `with s as (
      update samples set calls = calls + 1, prompt_tokens = prompt_tokens + $3::bigint,
        completion_tokens = completion_tokens + $4::bigint, cost_usd = cost_usd + $5::numeric,
        stage = $6::text, status = $7::text, audit_seq = $8::int, audit_hash = $9::text, updated_at = now()
      where id = $1::uuid and status = 'running' and audit_seq = $10::int and audit_hash = $11::text
      returning id
    ), st as (
      insert into stage_records (sample_id, seq, stage, round, principle_id, messages, text, model, prompt_tokens, completion_tokens, latency_ms, simulated, judgement, finish_reason)
      select s.id, $12::int, $13::text, $14::int, $15::text, $16::jsonb, $17::text, $18::text, $19::int, $20::int, $21::int, $22::boolean, $23::jsonb, $24::text from s
    ), ev as (
      insert into audit_events (event_id, seq, type, actor, at, payload, prev_hash, hash, chain, run_id, sample_id)
      select v.*, 'sample:' || s.id, $2::uuid, s.id from s cross join (values ${ev.join(', ')}) as v(event_id, seq, type, actor, at, payload, prev_hash, hash)
    )`,
  ];
  if (pair) {
    parts.push(`, p as (
      insert into pairs (id, run_id, sample_id, idx, record, flags)
      select $${n}::uuid, $2::uuid, s.id, $${n + 1}::int, $${n + 2}::jsonb, $${n + 3}::text[] from s
    )`);
    n += 4;
  }
  if (budgeted) {
    parts.push(`, r as (
      update runs set spent_tokens = spent_tokens + $${n}::bigint, spent_cost_usd = spent_cost_usd + $${n + 1}::numeric
      where id = $2::uuid and exists (select 1 from s)
    )`);
    n += 2;
  }
  parts.push(' select count(*)::int as n from s');
  return parts.join('');
}

const fastCheckpointTexts = new Map<string, string>();
function fastCheckpointSql(events: number, pair: boolean, budgeted: boolean): string {
  const key = `${events}:${pair}:${budgeted}`;
  let text = fastCheckpointTexts.get(key);
  if (!text) fastCheckpointTexts.set(key, (text = fastCheckpointText(events, pair, budgeted)));
  return text;
}

/** `asStoredJson` and the text stored, from one JSON.stringify: JSON.stringify(JSON.parse(t)) === t. */
function storedJson(value: unknown): { value: unknown; text: string } {
  const text = JSON.stringify(value ?? null);
  return { value: JSON.parse(text), text };
}

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
    /**
     * The sample chain's head as the caller last saw it (from `loadForWork`, then from its own
     * checkpoints): with it the checkpoint is one statement guarded by that head, falling back to
     * the locking transaction when the head moved or the sample is no longer running. Advanced in
     * place when the checkpoint saves.
     */
    head?: SampleChainHead;
  }): Promise<CheckpointOutcome> {
    if (input.head) {
      const fast = await this.checkpointFast(input as typeof input & { head: SampleChainHead });
      if (fast) return fast;
    }
    return this.checkpointLocked(input);
  }

  /** The one-statement checkpoint; undefined when it did not apply (nothing was written). */
  private async checkpointFast(input: Parameters<SamplesRepository['checkpoint']>[0] & { head: SampleChainHead }): Promise<CheckpointOutcome | undefined> {
    const { record, head } = input;
    const at = new Date().toISOString();
    const chain = `sample:${input.sampleId}`;
    const payloads = [storedJson(input.event.payload), ...(input.pair ? [storedJson(input.pair.event.payload)] : [])];
    const events = [input.event, ...(input.pair ? [input.pair.event] : [])];
    const linked = linkEvents(
      head,
      events.map((e, i) => ({
        event_id: randomUUID(),
        chain,
        run_id: input.runId,
        sample_id: input.sampleId,
        type: e.type,
        actor: e.actor,
        at,
        payload: payloads[i].value,
      })),
    );
    const last = linked[linked.length - 1];
    const costUsd = input.spend?.costUsd ?? 0;
    const params: unknown[] = [
      input.sampleId,
      input.runId,
      record.usage.prompt_tokens,
      record.usage.completion_tokens,
      costUsd,
      input.pair ? 'done' : input.nextStage,
      input.pair ? 'completed' : 'running',
      last.seq,
      last.hash,
      head.seq,
      head.hash,
      record.seq,
      record.stage,
      record.round,
      record.principle_id,
      JSON.stringify(record.messages),
      record.text,
      record.model,
      record.usage.prompt_tokens,
      record.usage.completion_tokens,
      Math.round(record.latency_ms),
      record.simulated,
      record.judgement ? JSON.stringify(record.judgement) : null,
      record.finish_reason ?? null,
    ];
    linked.forEach((e, i) => params.push(e.event_id, e.seq, e.type, e.actor, e.at, payloads[i].text, e.prev_hash, e.hash));
    if (input.pair) {
      params.push(input.pair.record.id, input.idx, JSON.stringify(input.pair.record), input.pair.record.metadata.flags ?? []);
    }
    const budgeted = !!input.spend?.budgeted;
    if (budgeted) params.push(record.usage.prompt_tokens + record.usage.completion_tokens, costUsd);
    let matched: number;
    try {
      const r = await this.db.executeQuery<{ n: number }>(CompiledQuery.raw(fastCheckpointSql(linked.length, !!input.pair, budgeted), params));
      matched = r.rows[0]?.n ?? 0;
    } catch (e: any) {
      // A unique key refused the stage, an event or the pair: someone else wrote first. The
      // statement was its own transaction, so nothing of it committed; the locked path sorts it out.
      if (e?.code === '23505') return undefined;
      throw e;
    }
    if (matched !== 1) return undefined;
    head.seq = last.seq;
    head.hash = last.hash;
    return input.pair ? 'completed' : 'saved';
  }

  /** The checkpoint as one transaction that locks the sample row first; every case, including the unusual ones. */
  private async checkpointLocked(input: Parameters<SamplesRepository['checkpoint']>[0]): Promise<CheckpointOutcome> {
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
          finish_reason: record.finish_reason ?? null,
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
      const stored = await insertAuditEvents(tx, events);
      const newHead = stored.filter((e) => e.sample_id === input.sampleId && e.chain === `sample:${input.sampleId}`).pop();
      if (input.head && newHead) {
        input.head.seq = newHead.seq;
        input.head.hash = newHead.hash;
      }
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

  /** Samples of unfinished runs by status, for the metrics: bounded by the runs under way, not the whole history. */
  async countsOfActiveRuns(): Promise<Partial<Record<SampleStatus, number>>> {
    const rows = await this.db
      .selectFrom('samples')
      .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
      .where('run_id', 'in', (eb) => eb.selectFrom('runs').select('id').where('status', 'in', ['queued', 'running']))
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}
