import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { ACTIVE_RUN_STATUSES, isRunFinished, UNFINISHED_SAMPLE_STATUSES, type Run, type RunCounts, type RunMode, type RunStatus } from '@amend/contracts';
import { callsPerSample } from '@amend/pipeline';
import type { Database, RunsTable } from './schema';
import { insertAuditEvents, sealRun, type AuditEventInput } from './audit-events';
import { StoreError } from './errors';
import { sampleCommitmentBlob, sampleEntry } from './sample-commitment';
import { ACTIVE_RUN, UNFINISHED_SAMPLE } from './status-sql';
import { BatchesRepository } from './batches.repository';
import { BUSY, untilNotBusy, type Busy } from './lock-retry';
import { insertReviewPolicy, reviewPolicyOf } from './review-queue.repository';

export interface NewRun {
  id: string;
  team: string;
  mode: RunMode;
  constitution: { name: string; version: string; sha256: string };
  rounds: number;
  seed: number;
  model: string;
  feedback_model: string | null;
  sampling: unknown;
  simulated: boolean;
  created_by: string;
  idempotency_key: string | null;
  request_sha256: string | null;
  /** PrincipleSelector; null or absent for every principle. */
  principles?: unknown | null;
  preview?: boolean;
  /** FeedbackOptions; null or absent for a plain critique-revise run. */
  feedback?: unknown | null;
  /** Budget `{tokens?, cost_usd?}`; null or absent for none. */
  budget?: unknown | null;
  /** Per-alias prices per 1k tokens in force now; null or absent when none are configured. */
  prices?: unknown | null;
  /** Through the provider's Batch API (the batch coordinator drives it; no sample jobs). */
  batch?: boolean;
  /** `{id, role, baseline_run_id?}` when the run is one side of an evaluation. */
  evaluation?: unknown | null;
  /** The review policy given with the run (`{per_pair}`); null or absent for none. */
  review?: { per_pair: number } | null;
}

export interface NewSample {
  id: string;
  /** Position of the prompt in the request (the `idx` column). */
  index: number;
  external_id: string | null;
  /** The prompt, or a multi-turn prompt's last user turn. */
  prompt: string;
  /** A multi-turn prompt's whole conversation; null or absent for a single string. */
  messages?: readonly { role: string; content: string }[] | null;
  metadata: unknown | null;
}

export interface RunCreateOptions {
  /**
   * A per-key limit that must not race: inside the transaction, under a lock per key, the
   * count of the key's queued and running runs is passed to `check`; throwing aborts the run.
   */
  activeRuns?: { createdBy: string; check: (active: number) => void };
  /** Runs inside the run's transaction before the run is stored (a team quota); throwing aborts the run. */
  beforeInsert?: (tx: Transaction<Database>) => Promise<void>;
}

type RunRow = Selectable<RunsTable>;

/** A run list cursor is `created_at` as toISOString writes it (four-digit years only) and the run id. */
const CURSOR_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Rows per INSERT: unnest keeps one statement per chunk regardless of the prompt count. */
const INSERT_CHUNK = 10_000;

/**
 * What a run's `run.created` event commits to beyond the settings its caller records: the seed,
 * the team and the sample blobs (sample-commitment.ts). The row verifier compares the run and
 * sample rows with it.
 */
export interface RunCommitment {
  seed: number;
  team: string;
  samples_sha256: string[];
}

/** The event's payload with the commitment added. */
export function committedEvent<E extends { payload: unknown }>(event: E, c: RunCommitment): E {
  return { ...event, payload: { ...(event.payload as object), seed: c.seed, team: c.team, samples_sha256: c.samples_sha256 } };
}

/** The run row and its samples, inside the caller's transaction (a run, or the two runs of an evaluation). */
export async function insertRun(tx: Transaction<Database>, run: NewRun, samples: NewSample[]): Promise<RunCommitment> {
  await tx
    .insertInto('runs')
    .values({
      id: run.id,
      team: run.team,
      status: 'queued',
      mode: run.mode,
      constitution_name: run.constitution.name,
      constitution_version: run.constitution.version,
      constitution_sha256: run.constitution.sha256,
      rounds: run.rounds,
      seed: run.seed,
      model: run.model,
      feedback_model: run.feedback_model,
      sampling: JSON.stringify(run.sampling),
      total: samples.length,
      simulated: run.simulated,
      idempotency_key: run.idempotency_key,
      request_sha256: run.request_sha256,
      created_by: run.created_by,
      principles: run.principles == null ? null : JSON.stringify(run.principles),
      preview: run.preview ?? false,
      feedback: run.feedback == null ? null : JSON.stringify(run.feedback),
      budget: run.budget == null ? null : JSON.stringify(run.budget),
      prices: run.prices == null ? null : JSON.stringify(run.prices),
      batch: run.batch ?? false,
      batch_lease_owner: null,
      batch_lease_until: null,
      evaluation: run.evaluation == null ? null : JSON.stringify(run.evaluation),
    })
    .execute();
  if (run.review) await insertReviewPolicy(tx, run.id, run.review.per_pair, run.created_by);
  const commitment: RunCommitment = { seed: run.seed, team: run.team, samples_sha256: [] };
  for (let i = 0; i < samples.length; i += INSERT_CHUNK) commitment.samples_sha256.push(await insertSamples(tx, run.id, samples.slice(i, i + INSERT_CHUNK)));
  return commitment;
}

export class RunsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Stores the run, its samples and its `run.created` event in one transaction. With an
   * idempotency key, a repeat of the same request returns the first run (created = false).
   */
  async create(
    run: NewRun,
    samples: NewSample[],
    event: Omit<AuditEventInput, 'run_id' | 'sample_id'>,
    /**
     * A per-key limit that must not race: inside the transaction, under a lock per key, the
     * count of the key's queued and running runs is passed to `check`; throwing aborts the run.
     */
    opts: RunCreateOptions = {},
  ): Promise<{ id: string; created: boolean }> {
    if (run.idempotency_key) {
      const prior = await this.findByIdempotencyKey(run.team, run.idempotency_key, run.request_sha256);
      if (prior) return { id: prior, created: false };
    }
    try {
      await this.db.transaction().execute(async (tx) => {
        await checkActiveRuns(tx, opts);
        await opts.beforeInsert?.(tx);
        const commitment = await insertRun(tx, run, samples);
        await insertAuditEvents(tx, [{ ...committedEvent(event, commitment), run_id: run.id, sample_id: null }]);
      });
    } catch (e: any) {
      // Two requests with the same key raced: the loser returns the winner's run.
      if (e?.code === '23505' && run.idempotency_key) {
        const prior = await this.findByIdempotencyKey(run.team, run.idempotency_key, run.request_sha256);
        if (prior) return { id: prior, created: false };
      }
      throw e;
    }
    return { id: run.id, created: true };
  }

  /**
   * Like `create`, for a run whose prompts arrive as a stream (a JSON Lines upload): the run row
   * first, then the samples chunk by chunk as `chunks` yields them, so the upload is never held
   * whole; the count, the request hash (known once the stream ends) and the `run.created` event
   * last, all in one transaction. An error thrown by `chunks` (a bad line) rolls everything back.
   */
  async createStreamed(
    run: NewRun,
    chunks: AsyncIterable<NewSample[]>,
    finish: () => { request_sha256: string | null; event: Omit<AuditEventInput, 'run_id' | 'sample_id'> },
    opts: RunCreateOptions = {},
  ): Promise<{ id: string; created: boolean; total: number }> {
    let total = 0;
    if (run.idempotency_key) {
      const prior = await this.db
        .selectFrom('runs')
        .select(['id', 'request_sha256'])
        .where('team', '=', run.team)
        .where('idempotency_key', '=', run.idempotency_key)
        .executeTakeFirst();
      if (prior) {
        // A repeat: read the body through only to compare its hash with the first one's.
        for await (const chunk of chunks) total += chunk.length;
        const { request_sha256 } = finish();
        await this.findByIdempotencyKey(run.team, run.idempotency_key, request_sha256);
        return { id: prior.id, created: false, total };
      }
    }
    try {
      await this.db.transaction().execute(async (tx) => {
        await checkActiveRuns(tx, opts);
        await opts.beforeInsert?.(tx);
        const commitment = await insertRun(tx, run, []);
        for await (const chunk of chunks) {
          if (chunk.length === 0) continue;
          commitment.samples_sha256.push(await insertSamples(tx, run.id, chunk));
          total += chunk.length;
        }
        const done = finish();
        run.request_sha256 = done.request_sha256;
        await tx.updateTable('runs').set({ total, request_sha256: run.request_sha256 }).where('id', '=', run.id).execute();
        await insertAuditEvents(tx, [{ ...committedEvent(done.event, commitment), run_id: run.id, sample_id: null }]);
      });
    } catch (e: any) {
      // Another upload with the same key committed first, before this one's body was read.
      if (e?.code === '23505' && run.idempotency_key) {
        throw new StoreError('conflict', 'a run with this Idempotency-Key was created while this one was uploading; ask for it again with the same key');
      }
      throw e;
    }
    return { id: run.id, created: true, total };
  }

  private async findByIdempotencyKey(team: string, key: string, requestSha: string | null): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('runs')
      .select(['id', 'request_sha256'])
      .where('team', '=', team)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.request_sha256 !== requestSha) {
      throw new StoreError('idempotency_key_reused', 'this Idempotency-Key was already used with a different request body; use a new key for a new run', {
        run_id: row.id,
      });
    }
    return row.id;
  }

  async row(id: string, team?: string): Promise<RunRow | undefined> {
    let q = this.db.selectFrom('runs').selectAll().where('id', '=', id);
    if (team) q = q.where('team', '=', team);
    return (await q.executeTakeFirst()) as RunRow | undefined;
  }

  /** The run as the API shows it: counts and usage are summed from its samples. */
  async view(id: string, team?: string): Promise<Run | undefined> {
    const row = await this.row(id, team);
    return row ? this.toView(row) : undefined;
  }

  async list(opts: { limit: number; cursor?: string; status?: RunStatus; team?: string }): Promise<{ runs: Run[]; next_cursor: string | null }> {
    // Previews are runs too, but an author's trial, not a dataset: they stay out of lists.
    let q = this.db
      .selectFrom('runs')
      .selectAll()
      .where('preview', '=', false)
      // The two runs of an evaluation are read through it (GET /v1/evaluations/{id}).
      .where('evaluation', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(opts.limit + 1);
    if (opts.team) q = q.where('team', '=', opts.team);
    if (opts.status) q = q.where('status', '=', opts.status);
    if (opts.cursor) {
      const [at, id] = Buffer.from(opts.cursor, 'base64url').toString().split('|');
      // Checked here, not by Postgres: a made-up time or id is the caller's error, not a 500.
      if (!at || !id || !CURSOR_TIME.test(at) || Number.isNaN(Date.parse(at)) || !UUID.test(id)) {
        throw new StoreError('invalid_cursor', 'cursor is not one this API returned');
      }
      q = q.where(sql<boolean>`(created_at, id) < (${new Date(at)}, ${id}::uuid)`);
    }
    const rows = (await q.execute()) as RunRow[];
    const page = rows.slice(0, opts.limit);
    const last = page[page.length - 1];
    return {
      runs: await Promise.all(page.map((r) => this.toView(r))),
      next_cursor: rows.length > opts.limit && last ? Buffer.from(`${last.created_at.toISOString()}|${last.id}`).toString('base64url') : null,
    };
  }

  private async toView(row: RunRow): Promise<Run> {
    const review = await reviewPolicyOf(this.db, row.id);
    const byStatus = await this.db
      .selectFrom('samples')
      .select([
        'status',
        sql<string>`count(*)`.as('n'),
        sql<string>`coalesce(sum(calls), 0)`.as('calls'),
        sql<string>`coalesce(sum(prompt_tokens), 0)`.as('prompt_tokens'),
        sql<string>`coalesce(sum(completion_tokens), 0)`.as('completion_tokens'),
        sql<string>`coalesce(sum(cost_usd), 0)`.as('cost_usd'),
      ])
      .where('run_id', '=', row.id)
      .groupBy('status')
      .execute();
    const counts: RunCounts = { total: row.total, pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    if (row.budget != null) counts.budget_exhausted = 0;
    const usage: Run['usage'] = { calls: 0, prompt_tokens: 0, completion_tokens: 0 };
    if (row.prices != null) usage.cost_usd = 0;
    // A finished sample made all the calls it will make; an unfinished one is expected to make its plan.
    // An evaluation candidate's judge calls depend on each prompt, so they are left to count as they happen.
    const perSample = callsPerSample({ mode: row.mode, rounds: row.rounds, feedback: row.feedback });
    const unfinished: readonly string[] = UNFINISHED_SAMPLE_STATUSES;
    let planned = 0;
    let rows = 0;
    for (const r of byStatus) {
      rows += Number(r.n);
      if (r.status in counts) counts[r.status as keyof RunCounts] = Number(r.n);
      usage.calls += Number(r.calls);
      planned += unfinished.includes(r.status) ? Math.max(Number(r.calls), Number(r.n) * perSample) : Number(r.calls);
      usage.prompt_tokens += Number(r.prompt_tokens);
      usage.completion_tokens += Number(r.completion_tokens);
      if (usage.cost_usd !== undefined) usage.cost_usd += Number(r.cost_usd);
    }
    // Prompts not yet written as samples (an upload still being saved) are planned too.
    usage.calls_planned = planned + Math.max(0, row.total - rows) * perSample;
    if (usage.cost_usd !== undefined) usage.cost_usd = Math.round(usage.cost_usd * 1e6) / 1e6;
    const failures = counts.failed
      ? await this.db
          .selectFrom('samples')
          .select(['failure_reason', sql<string>`count(*)`.as('n')])
          .where('run_id', '=', row.id)
          .where('status', '=', 'failed')
          .groupBy('failure_reason')
          .orderBy(sql`count(*)`, 'desc')
          .limit(20)
          .execute()
      : [];
    return {
      id: row.id,
      status: row.status,
      mode: row.mode,
      constitution: { name: row.constitution_name, version: row.constitution_version, sha256: row.constitution_sha256 },
      rounds: row.rounds,
      seed: row.seed,
      model: row.model,
      feedback_model: row.feedback_model,
      sampling: row.sampling,
      counts,
      usage,
      failures: failures.map((f) => ({ reason: f.failure_reason ?? 'unknown', count: Number(f.n) })),
      simulated: row.simulated,
      created_at: row.created_at.toISOString(),
      started_at: row.started_at?.toISOString() ?? null,
      finished_at: row.finished_at?.toISOString() ?? null,
      principles: row.principles ?? null,
      preview: row.preview,
      ...row.feedback,
      ...(row.feedback?.panel && { feedback_models: row.feedback.panel }),
      budget: row.budget ?? null,
      ...(row.batch && { batch: await new BatchesRepository(this.db).progress(row.id) }),
      ...(row.stopped != null && { stopped: row.stopped }),
      ...(review !== null && { review: { per_pair: review } }),
    };
  }

  async markRunning(id: string): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({ status: 'running', started_at: sql`now()` })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .execute();
  }

  async markSimulated(id: string): Promise<void> {
    await this.db.updateTable('runs').set({ simulated: true }).where('id', '=', id).where('simulated', '=', false).execute();
  }

  /**
   * Closes (and seals) the run once no sample is pending or running; the run's status, or null when
   * it is still going or already closed. Called after each sample's last commit, so the last
   * committer always sees every sample finished. The one finalize of every caller: a session that
   * holds the run row (another finalizer, a cancel, a budgeted checkpoint) is not queued on
   * (SKIP LOCKED); this looks again once it is gone, as it does after a deadlock (40P01) or a lock
   * wait past lock_timeout (55P03), both of which rolled the attempt back whole (lock-retry.ts).
   */
  async finalizeIfDone(id: string): Promise<RunStatus | null> {
    return untilNotBusy(`closing run ${id}`, () => this.finalizeOnce(id));
  }

  private async finalizeOnce(id: string): Promise<RunStatus | null | Busy> {
    // One read first: while any sample is unfinished (the common case, every sample but the last)
    // or the run is closed already there is nothing to do, and no transaction is needed. A sample
    // that finishes after this read runs this check itself after its own commit, so the last one
    // always gets through.
    const open = await sql<{ n: number }>`
      select 1 as n from runs where id = ${id} and status in (${ACTIVE_RUN})
        and not exists (select 1 from samples where run_id = ${id} and status in (${UNFINISHED_SAMPLE}))`.execute(this.db);
    if (open.rows.length === 0) return null;
    return this.db.transaction().execute(async (tx) => {
      const locked = await sql`select 1 from runs where id = ${id} and status in (${ACTIVE_RUN}) for update skip locked`.execute(tx);
      if (locked.rows.length === 0) return BUSY;
      const status = await this.finalizeIn(tx, id);
      // The run's last change and its seal commit together: a finished run is always sealed.
      if (status) await sealRun(tx, id, 'amend:finalize');
      return status;
    });
  }

  private async finalizeIn(tx: Transaction<Database>, id: string): Promise<RunStatus | null> {
    const updated = await sql<{ status: RunStatus }>`
      update runs set
        -- A run stopped for its judge's labels failed at what it was asked, whatever pairs it made.
        status = case when stopped is null and exists (select 1 from samples where run_id = ${id} and status = 'completed')
                      then 'completed' else 'failed' end,
        finished_at = now(),
        started_at = coalesce(started_at, now())
      where id = ${id} and status in (${ACTIVE_RUN})
        and not exists (select 1 from samples where run_id = ${id} and status in (${UNFINISHED_SAMPLE}))
      returning status`.execute(tx);
    return updated.rows[0]?.status ?? null;
  }

  /** Pending samples become cancelled; samples already running finish their current stage and stop. */
  async cancel(id: string, actor: string): Promise<'cancelled' | 'already_finished'> {
    return this.db.transaction().execute(async (tx) => {
      const run = await tx.selectFrom('runs').select('status').where('id', '=', id).forUpdate().executeTakeFirst();
      if (!run) throw new StoreError('run_not_found', `no run ${id}`, { id });
      if (isRunFinished(run.status)) return 'already_finished';
      const cancelled = await cancelUnfinishedSamples(tx, id);
      await tx
        .updateTable('runs')
        .set({ status: 'cancelled', finished_at: sql`now()` })
        .where('id', '=', id)
        .execute();
      // An event on a finished run seals it: this one seals the cancelled run in this transaction.
      await insertAuditEvents(tx, [{ run_id: id, sample_id: null, type: 'run.cancelled', actor, payload: { samples_cancelled: cancelled } }]);
      return 'cancelled';
    });
  }

  /** Runs that still have work, for the reconciler; batch runs are the batch coordinator's and never queued. */
  async active(): Promise<string[]> {
    const rows = await this.db.selectFrom('runs').select('id').where('status', 'in', ACTIVE_RUN_STATUSES).where('batch', '=', false).execute();
    return rows.map((r) => r.id);
  }
}

/**
 * Cancels every unfinished sample of a run, with `reason` as its failure reason when given (a
 * cancel gives none); returns how many. For a transaction that also closes the run.
 */
export async function cancelUnfinishedSamples(tx: Transaction<Database>, runId: string, reason: string | null = null): Promise<number> {
  const r = await sql`
    update samples set status = 'cancelled', failure_reason = coalesce(${reason}, failure_reason), updated_at = now()
    where run_id = ${runId} and status in (${UNFINISHED_SAMPLE})`.execute(tx);
  return Number(r.numAffectedRows ?? 0);
}

/** Queued and running runs created by a key (the concurrent-runs limit counts these). */
export async function activeRunsOf(db: Kysely<Database> | Transaction<Database>, createdBy: string): Promise<number> {
  const r = await db
    .selectFrom('runs')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('created_by', '=', createdBy)
    .where('status', 'in', ACTIVE_RUN_STATUSES)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

async function checkActiveRuns(tx: Transaction<Database>, opts: RunCreateOptions): Promise<void> {
  if (!opts.activeRuns) return;
  const { createdBy, check } = opts.activeRuns;
  await sql`select pg_advisory_xact_lock(hashtextextended(${'amend.runs.' + createdBy}, 0))`.execute(tx);
  check(await activeRunsOf(tx, createdBy));
}

/**
 * One chunk of samples in one statement: unnest keeps it one statement regardless of the chunk
 * size. Answers the name of the chunk's commitment blob (sample-commitment.ts), stored with it.
 */
async function insertSamples(tx: Transaction<Database>, runId: string, chunk: NewSample[]): Promise<string> {
  const blob = sampleCommitmentBlob(
    chunk.map((s) => sampleEntry({ id: s.id, idx: s.index, external_id: s.external_id, prompt: s.prompt, messages: s.messages, metadata: s.metadata })),
  );
  await tx
    .insertInto('content_blobs')
    .values({ sha256: blob.sha256, content: blob.json })
    .onConflict((oc) => oc.column('sha256').doNothing())
    .execute();
  await sql`
    insert into samples (id, run_id, idx, external_id, prompt, messages, metadata, status, stage)
    select s.id, ${runId}::uuid, s.idx, s.external_id, s.prompt, s.messages, s.metadata, 'pending', 'draft'
    from unnest(${chunk.map((s) => s.id)}::uuid[], ${chunk.map((s) => s.index)}::int[],
                ${chunk.map((s) => s.external_id)}::text[], ${chunk.map((s) => s.prompt)}::text[],
                ${chunk.map((s) => (s.messages == null ? null : JSON.stringify(s.messages)))}::jsonb[],
                ${chunk.map((s) => (s.metadata == null ? null : JSON.stringify(s.metadata)))}::jsonb[])
      as s(id, idx, external_id, prompt, messages, metadata)`.execute(tx);
  return blob.sha256;
}
