import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { isRunFinished, type ComparisonJudgement, type Evaluation, type EvaluationReport, type EvaluationStatus, type Run } from '@amend/contracts';
import type { PromptOutcome } from '@amend/pipeline';
import type { Database, EvaluationsTable } from './schema';
import { insertAuditEvents, type AuditEventInput } from './audit-events';
import { RunsRepository, activeRunsOf, committedEvent, insertRun, type NewRun, type NewSample } from './runs.repository';
import { StoreError } from './errors';
import { ACTIVE_RUN } from './status-sql';

export interface NewEvaluation {
  id: string;
  team: string;
  eval_set: string | null;
  model: string;
  judge_model: string;
  rounds: number;
  seed: number;
  rubric: unknown;
  estimate: unknown;
  created_by: string;
}

export type EvaluationRow = Selectable<EvaluationsTable>;

/** What a candidate sample needs of its baseline twin (the sample of the same index in the baseline run). */
export interface TwinSample {
  id: string;
  status: string;
  failure_reason: string | null;
  draft: { text: string; model: string; simulated: boolean; finish_reason?: string | null } | null;
  /** The final revision's text once the twin completed. */
  final: string | null;
}

type Event = Omit<AuditEventInput, 'run_id' | 'sample_id'>;

/** The report from the prompts' outcomes: pure and synchronous, as it runs while the evaluation's row is held. */
export type ReportBuilder = (prompts: PromptOutcome[], runs: { simulated: boolean; rubric: unknown }) => EvaluationReport;

/**
 * What a close did: `written` the report; `already` found it written; `runs_going` found a run
 * still going; `busy` found another session closing it (or about to); `missing` found no evaluation.
 */
export type EvaluationCloseOutcome = 'written' | 'already' | 'runs_going' | 'busy' | 'missing';

export class EvaluationsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * The evaluation, its two runs with their samples, and their events in one transaction:
   * `run.created` on each run's chain, then `evaluation.created` on both, so either run's trail
   * says what it belongs to.
   */
  async create(
    evaluation: NewEvaluation,
    runs: { baseline: { run: NewRun; samples: NewSample[]; event: Event }; candidate: { run: NewRun; samples: NewSample[]; event: Event } },
    created: Event,
    /** As for a run: the key's queued and running runs, counted under its lock, passed to `check` (which may throw). */
    opts: { activeRuns?: { createdBy: string; check: (active: number) => void } } = {},
  ): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      if (opts.activeRuns) {
        const { createdBy, check } = opts.activeRuns;
        await sql`select pg_advisory_xact_lock(hashtextextended(${'amend.runs.' + createdBy}, 0))`.execute(tx);
        check(await activeRunsOf(tx, createdBy));
      }
      const commitments = [];
      for (const side of [runs.baseline, runs.candidate]) commitments.push(await insertRun(tx, side.run, side.samples));
      await tx
        .insertInto('evaluations')
        .values({
          id: evaluation.id,
          team: evaluation.team,
          status: 'queued',
          baseline_run_id: runs.baseline.run.id,
          candidate_run_id: runs.candidate.run.id,
          eval_set: evaluation.eval_set,
          model: evaluation.model,
          judge_model: evaluation.judge_model,
          rounds: evaluation.rounds,
          seed: evaluation.seed,
          rubric: JSON.stringify(evaluation.rubric),
          estimate: JSON.stringify(evaluation.estimate),
          created_by: evaluation.created_by,
        })
        .execute();
      const events: AuditEventInput[] = [];
      for (const [i, side] of [runs.baseline, runs.candidate].entries()) {
        events.push(
          { ...committedEvent(side.event, commitments[i]), run_id: side.run.id, sample_id: null },
          { ...created, run_id: side.run.id, sample_id: null },
        );
      }
      await insertAuditEvents(tx, events);
    });
  }

  async row(id: string, team?: string): Promise<EvaluationRow | undefined> {
    let q = this.db.selectFrom('evaluations').selectAll().where('id', '=', id);
    if (team) q = q.where('team', '=', team);
    return (await q.executeTakeFirst()) as EvaluationRow | undefined;
  }

  /** The evaluation as the API shows it, if `team` may see it (undefined: any team): its row with both runs' progress and usage. */
  async view(id: string, team?: string): Promise<Evaluation | undefined> {
    const row = await this.row(id, team);
    return row ? this.toView(row) : undefined;
  }

  /** Evaluations newest first, one page at a time, without their reports. */
  async list(opts: { limit: number; cursor?: string; team?: string }): Promise<{ evaluations: Omit<Evaluation, 'report'>[]; next_cursor: string | null }> {
    let q = this.db
      .selectFrom('evaluations')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(opts.limit + 1);
    if (opts.team) q = q.where('team', '=', opts.team);
    if (opts.cursor) {
      const [at, id] = Buffer.from(opts.cursor, 'base64url').toString().split('|');
      if (!at || !id || Number.isNaN(Date.parse(at)) || !/^[0-9a-f-]{36}$/i.test(id))
        throw new StoreError('invalid_cursor', 'cursor is not one this API returned');
      q = q.where(sql<boolean>`(created_at, id) < (${new Date(at)}, ${id}::uuid)`);
    }
    const rows = (await q.execute()) as EvaluationRow[];
    const page = rows.slice(0, opts.limit);
    const last = page[page.length - 1];
    const evaluations = await Promise.all(
      page.map(async (r) => {
        const { report: _report, ...rest } = await this.toView(r);
        return rest;
      }),
    );
    return {
      evaluations,
      next_cursor: rows.length > opts.limit && last ? Buffer.from(`${last.created_at.toISOString()}|${last.id}`).toString('base64url') : null,
    };
  }

  private async toView(row: EvaluationRow): Promise<Evaluation> {
    const runs = new RunsRepository(this.db);
    const [baseline, candidate, shared] = await Promise.all([
      runs.view(row.baseline_run_id),
      runs.view(row.candidate_run_id),
      this.sharedDrafts(row.candidate_run_id),
    ]);
    if (!baseline || !candidate) throw new Error(`evaluation ${row.id} lost a run`);
    let status = row.status;
    if (status === 'queued' || status === 'running') {
      if ([baseline, candidate].some((r) => r.status === 'cancelled')) status = 'cancelled';
      else status = baseline.status === 'queued' && candidate.status === 'queued' ? 'queued' : 'running';
    }
    const c = candidate.counts;
    const side = (r: Run) => ({
      constitution: r.constitution,
      model: r.model,
      sampling: r.sampling,
      run_id: r.id,
      status: r.status,
      counts: r.counts,
      usage: r.usage,
    });
    const usage: Evaluation['usage'] = {
      // The candidate run counts each shared draft as a stage; no model was called for it.
      calls: baseline.usage.calls + candidate.usage.calls - shared,
      prompt_tokens: baseline.usage.prompt_tokens + candidate.usage.prompt_tokens,
      completion_tokens: baseline.usage.completion_tokens + candidate.usage.completion_tokens,
    };
    if (baseline.usage.cost_usd !== undefined || candidate.usage.cost_usd !== undefined) {
      usage.cost_usd = Math.round(((baseline.usage.cost_usd ?? 0) + (candidate.usage.cost_usd ?? 0)) * 1e6) / 1e6;
    }
    return {
      id: row.id,
      status,
      baseline: side(baseline),
      candidate: side(candidate),
      eval_set: row.eval_set,
      model: row.model,
      judge_model: row.judge_model,
      ...(candidate.feedback_models && { judge_models: candidate.feedback_models }),
      ...(candidate.judge === 'ratings' && { judge: 'ratings' as const }),
      rounds: row.rounds,
      seed: row.seed,
      progress: { total: c.total, judged: c.completed, failed: c.failed + c.cancelled + (c.budget_exhausted ?? 0) },
      estimate: row.estimate,
      usage,
      simulated: baseline.simulated || candidate.simulated,
      created_at: row.created_at.toISOString(),
      finished_at: row.finished_at?.toISOString() ?? null,
      report: row.report ?? null,
    };
  }

  /** The baseline sample of the same prompt as a candidate sample, with its draft and final answer. */
  async twin(baselineRunId: string, idx: number, rounds: number): Promise<TwinSample | undefined> {
    const sample = await this.db
      .selectFrom('samples')
      .select(['id', 'status', 'failure_reason'])
      .where('run_id', '=', baselineRunId)
      .where('idx', '=', idx)
      .executeTakeFirst();
    if (!sample) return undefined;
    const records = await this.db
      .selectFrom('stage_records')
      .selectAll()
      .where('sample_id', '=', sample.id)
      .where('seq', 'in', [0, 2 * rounds])
      .execute();
    const draft = records.find((r) => r.seq === 0) as ((typeof records)[number] & { finish_reason?: string | null }) | undefined;
    const final = records.find((r) => r.seq === 2 * rounds);
    return {
      ...sample,
      draft: draft ? { text: draft.text, model: draft.model, simulated: draft.simulated, finish_reason: draft.finish_reason ?? null } : null,
      final: sample.status === 'completed' && final ? final.text : null,
    };
  }

  /** The candidate sample of the same prompt as a baseline sample: enqueued once the baseline's is finished. */
  async candidateTwin(candidateRunId: string, idx: number): Promise<{ id: string; status: string } | undefined> {
    return this.db.selectFrom('samples').select(['id', 'status']).where('run_id', '=', candidateRunId).where('idx', '=', idx).executeTakeFirst();
  }

  /** Every prompt of the evaluation with both final answers and the judge's labels, in prompt order. */
  prompts(row: Pick<EvaluationRow, 'baseline_run_id' | 'candidate_run_id' | 'rounds'>): Promise<PromptOutcome[]> {
    return promptOutcomes(this.db, row);
  }

  /**
   * Writes the report once both runs are finished, with `evaluation.judged` on the candidate
   * run's chain (a run already sealed is sealed again): `written`, or why not. One caller writes:
   * the others do not queue on the evaluation's row (issue 23: each queued caller held a pool
   * connection, and the holder then waited for one) but answer `busy` at once, and the caller
   * decides whether to look again (lock-retry.ts). Everything the report needs is read in the
   * transaction, and `build` is synchronous, so nothing reaches the pool while the row is held.
   */
  async finish(id: string, build: ReportBuilder, actor: string): Promise<EvaluationCloseOutcome> {
    // Without a lock first: after every sample of an evaluation the worker asks, and nearly always
    // a run is still going.
    const runsOf = await this.db
      .selectFrom('evaluations')
      .innerJoin('runs', (j) =>
        j.on((eb) => eb.or([eb('runs.id', '=', eb.ref('evaluations.baseline_run_id')), eb('runs.id', '=', eb.ref('evaluations.candidate_run_id'))])),
      )
      .select(['runs.status', 'evaluations.report'])
      .where('evaluations.id', '=', id)
      .execute();
    if (runsOf.length < 2) return 'missing';
    if (runsOf[0].report !== null) return 'already';
    if (runsOf.some((r) => !isRunFinished(r.status))) return 'runs_going';
    return this.db.transaction().execute(async (tx): Promise<EvaluationCloseOutcome> => {
      const row = (await tx.selectFrom('evaluations').selectAll().where('id', '=', id).forUpdate().skipLocked().executeTakeFirst()) as
        EvaluationRow | undefined;
      if (!row) return 'busy';
      if (row.report !== null) return 'already';
      const runs = await tx.selectFrom('runs').select(['id', 'status', 'simulated']).where('id', 'in', [row.baseline_run_id, row.candidate_run_id]).execute();
      const status = (runId: string) => runs.find((r) => r.id === runId)?.status ?? 'failed';
      const baseline = status(row.baseline_run_id);
      const candidate = status(row.candidate_run_id);
      if (!isRunFinished(baseline) || !isRunFinished(candidate)) return 'runs_going';
      const report = build(await promptOutcomes(tx, row), { simulated: runs.some((r) => r.simulated), rubric: row.rubric });
      const final: EvaluationStatus = baseline === 'cancelled' || candidate === 'cancelled' ? 'cancelled' : report.prompts.judged > 0 ? 'completed' : 'failed';
      await tx
        .updateTable('evaluations')
        .set({ status: final, report: JSON.stringify(report), finished_at: sql`now()` })
        .where('id', '=', id)
        .execute();
      await insertAuditEvents(tx, [
        {
          run_id: row.candidate_run_id,
          sample_id: null,
          type: 'evaluation.judged',
          actor,
          payload: {
            evaluation_id: id,
            status: final,
            baseline_run_id: row.baseline_run_id,
            candidate_run_id: row.candidate_run_id,
            rubric: report.rubric,
            method: report.method,
            prompts: report.prompts,
            dimensions: report.dimensions,
            refusals: report.refusals,
          },
        },
      ]);
      return 'written';
    });
  }

  /** Evaluations whose two runs are finished and whose report is not written (a closer stopped in between), for the reconciler. */
  async unclosed(): Promise<string[]> {
    const rows = await sql<{ id: string }>`
      select e.id from evaluations e join runs b on b.id = e.baseline_run_id join runs c on c.id = e.candidate_run_id
      where e.report is null and b.status not in (${ACTIVE_RUN}) and c.status not in (${ACTIVE_RUN})`.execute(this.db);
    return rows.rows.map((r) => r.id);
  }

  /** The baseline run of a candidate run; undefined for any other run. */
  async baselineRunOf(runId: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('runs').select('evaluation').where('id', '=', runId).executeTakeFirst();
    const link = row?.evaluation;
    return link?.role === 'candidate' ? link.baseline_run_id : undefined;
  }

  /** Of these candidate samples, those whose baseline twin has finished (completed, failed or stopped). */
  async twinFinished(baselineRunId: string, candidateIds: string[]): Promise<string[]> {
    if (candidateIds.length === 0) return [];
    const r = await sql<{ id: string }>`
      select c.id from samples c join samples b on b.run_id = ${baselineRunId} and b.idx = c.idx
      where c.id = any(${candidateIds}::uuid[]) and b.status not in ('pending', 'running')`.execute(this.db);
    const ready = new Set(r.rows.map((x) => x.id));
    return candidateIds.filter((id) => ready.has(id));
  }

  /** Candidate samples whose draft was copied from the baseline: stage records, not model calls. */
  async sharedDrafts(candidateRunId: string): Promise<number> {
    const r = await sql<{ n: string }>`
      select count(*) as n from stage_records sr join samples c on c.id = sr.sample_id
      where c.run_id = ${candidateRunId} and sr.seq = 0
        and exists (select 1 from runs r where r.id = c.run_id and coalesce((r.evaluation ->> 'shared_draft')::boolean, true))`.execute(this.db);
    return Number(r.rows[0]?.n ?? 0);
  }
}

/** Every prompt of the evaluation with both final answers and the judge's labels, in prompt order; on `db`, the transaction when closing. */
async function promptOutcomes(
  db: Kysely<Database> | Transaction<Database>,
  row: Pick<EvaluationRow, 'baseline_run_id' | 'candidate_run_id' | 'rounds'>,
): Promise<PromptOutcome[]> {
  const finalSeq = 2 * row.rounds;
  const samples = await sql<{
    idx: number;
    external_id: string | null;
    prompt: string;
    metadata: Record<string, unknown> | null;
    candidate_id: string;
    candidate_status: string;
    baseline_final: string | null;
    candidate_final: string | null;
  }>`
    select c.idx, c.external_id, c.prompt, c.metadata, c.id as candidate_id, c.status as candidate_status,
      (select text from stage_records where sample_id = b.id and seq = ${finalSeq}) as baseline_final,
      (select text from stage_records where sample_id = c.id and seq = ${finalSeq}) as candidate_final
    from samples c join samples b on b.run_id = ${row.baseline_run_id} and b.idx = c.idx
    where c.run_id = ${row.candidate_run_id}
    order by c.idx`.execute(db);
  const comparisons = await sql<{ sample_id: string; principle_id: string; judgement: ComparisonJudgement }>`
    select sr.sample_id, sr.principle_id, sr.judgement from stage_records sr join samples c on c.id = sr.sample_id
    where c.run_id = ${row.candidate_run_id} and sr.stage = 'comparison' order by sr.sample_id, sr.seq`.execute(db);
  const bySample = new Map<string, PromptOutcome['labels']>();
  for (const c of comparisons.rows) {
    const list = bySample.get(c.sample_id) ?? [];
    list.push({ dimension: c.principle_id, options: c.judgement.options, p_a: c.judgement.p_a, label_source: c.judgement.label_source });
    bySample.set(c.sample_id, list);
  }
  return samples.rows.map((s) => ({
    index: s.idx,
    external_id: s.external_id,
    prompt: s.prompt,
    metadata: s.metadata,
    baseline: s.baseline_final,
    candidate: s.candidate_final,
    judged: s.candidate_status === 'completed',
    labels: bySample.get(s.candidate_id) ?? [],
  }));
}
