import { sql, type Kysely } from 'kysely';
import type { Database, BatchesTable } from './schema';
import { ACTIVE_RUN } from './status-sql';

export type BatchRow = Omit<BatchesTable, 'created_at' | 'updated_at' | 'applied_at'> & {
  created_at: Date;
  updated_at: Date;
  applied_at: Date | null;
};

/** A provider batch about to be created: its row is written first. */
export interface NewBatch {
  id: string;
  run_id: string;
  wave: number;
  part: number;
  alias: string;
  custom_ids: string[];
  bytes: number;
}

/** What the provider said about a batch, as saved on its row. */
export interface ProviderState {
  status: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  request_counts?: { total: number; completed: number; failed: number } | null;
  error?: string | null;
}

/** Row statuses after which nothing more happens to a batch. */
export const SETTLED_BATCH = ['applied', 'abandoned'] as const;
/** Provider statuses after which the batch's files are final. */
export const PROVIDER_TERMINAL = ['completed', 'failed', 'expired', 'cancelled'] as const;

/**
 * Batch runs: their provider batches and the lease by which one coordinator process at a time
 * drives a run's waves. A lease is a holder and an expiry on the run row: a coordinator renews it
 * while it works and a killed one's lapses, so another process takes the run over.
 */
export class BatchesRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Batch runs with work to do: unfinished, or finished with provider batches still to settle (a cancel). */
  async runsToDrive(): Promise<string[]> {
    const rows = await sql<{ id: string }>`
      select r.id from runs r
      where r.batch and (r.status in (${ACTIVE_RUN})
        or exists (select 1 from batches b where b.run_id = r.id and b.status not in ('applied', 'abandoned')))
      order by r.created_at`.execute(this.db);
    return rows.rows.map((r) => r.id);
  }

  /** Takes or renews the run's lease for `ms`; false while another live holder has it. */
  async lease(runId: string, owner: string, ms: number): Promise<boolean> {
    const r = await sql`
      update runs set batch_lease_owner = ${owner}, batch_lease_until = now() + make_interval(secs => ${ms / 1000})
      where id = ${runId} and batch
        and (batch_lease_owner is null or batch_lease_owner = ${owner} or batch_lease_until < now())`.execute(this.db);
    return Number(r.numAffectedRows ?? 0) === 1;
  }

  async release(runId: string, owner: string): Promise<void> {
    await sql`update runs set batch_lease_owner = null, batch_lease_until = null where id = ${runId} and batch_lease_owner = ${owner}`.execute(this.db);
  }

  /** The run's batches not yet settled, oldest first. */
  async unsettled(runId: string): Promise<BatchRow[]> {
    return (await this.db
      .selectFrom('batches')
      .selectAll()
      .where('run_id', '=', runId)
      .where('status', 'not in', [...SETTLED_BATCH])
      .orderBy('wave')
      .orderBy('part')
      .execute()) as BatchRow[];
  }

  async nextWave(runId: string): Promise<number> {
    const r = await this.db
      .selectFrom('batches')
      .select(sql<number>`coalesce(max(wave), -1) + 1`.as('next'))
      .where('run_id', '=', runId)
      .executeTakeFirst();
    return Number(r?.next ?? 0);
  }

  /**
   * Writes the rows of a wave's batches as `submitting`, only while `owner` still holds the
   * run's lease (checked under the run row's lock): a coordinator whose lease lapsed while it
   * was planning submits nothing. False when the lease is gone.
   */
  async beginWave(runId: string, owner: string, batches: NewBatch[]): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const held = await sql`
        select 1 from runs where id = ${runId} and batch_lease_owner = ${owner} and batch_lease_until > now() for update`.execute(tx);
      if (held.rows.length === 0) return false;
      for (const b of batches) {
        await tx
          .insertInto('batches')
          .values({ ...b, status: 'submitting', request_total: b.custom_ids.length, request_completed: 0, request_failed: 0 })
          .execute();
      }
      return true;
    });
  }

  async submitted(id: string, providerBatchId: string, inputFileId: string, state: ProviderState): Promise<void> {
    await this.db
      .updateTable('batches')
      .set({ provider_batch_id: providerBatchId, input_file_id: inputFileId, ...this.stateColumns(state), updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  async update(id: string, state: ProviderState): Promise<void> {
    await this.db
      .updateTable('batches')
      .set({ ...this.stateColumns(state), updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Every result of the batch is checkpointed (or recorded as a failure): nothing more to do with it. */
  async settle(id: string, status: (typeof SETTLED_BATCH)[number], error?: string): Promise<void> {
    await this.db
      .updateTable('batches')
      .set({ status, ...(error !== undefined && { error }), applied_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
  }

  /** Counts one more failed line for (sample, seq); returns the attempts so far. */
  async lineFailed(sampleId: string, seq: number, error: string): Promise<number> {
    const r = await sql<{ attempts: number }>`
      insert into batch_line_failures (sample_id, seq, attempts, last_error) values (${sampleId}, ${seq}, 1, ${error})
      on conflict (sample_id, seq) do update set attempts = batch_line_failures.attempts + 1, last_error = excluded.last_error
      returning attempts`.execute(this.db);
    return r.rows[0].attempts;
  }

  /** Pending samples of the run become running: they are part of the wave being planned. */
  async claimRun(runId: string): Promise<void> {
    await sql`update samples set status = 'running', updated_at = now() where run_id = ${runId} and status = 'pending'`.execute(this.db);
  }

  /** The run's progress as the API shows it: the current wave and its batches' request counts. */
  async progress(runId: string): Promise<BatchProgress> {
    const rows = (await this.db
      .selectFrom('batches')
      .select([
        'wave',
        'part',
        'alias',
        'status',
        'provider_status',
        'provider_batch_id',
        'request_total',
        'request_completed',
        'request_failed',
        'created_at',
        'applied_at',
      ])
      .where('run_id', '=', runId)
      .orderBy('wave', 'desc')
      .orderBy('part')
      .execute()) as Pick<
      BatchRow,
      | 'wave'
      | 'part'
      | 'alias'
      | 'status'
      | 'provider_status'
      | 'provider_batch_id'
      | 'request_total'
      | 'request_completed'
      | 'request_failed'
      | 'created_at'
      | 'applied_at'
    >[];
    const wave = rows.length ? rows[0].wave : null;
    const totals = { batches: rows.length, requests: 0, completed: 0, failed: 0 };
    for (const r of rows) {
      totals.requests += r.request_total;
      totals.completed += r.request_completed;
      totals.failed += r.request_failed;
    }
    return {
      wave,
      pending: rows.filter((r) => !SETTLED_BATCH.includes(r.status as (typeof SETTLED_BATCH)[number])).length,
      batches: rows
        .filter((r) => r.wave === wave)
        .map((r) => ({
          id: r.provider_batch_id,
          wave: r.wave,
          part: r.part,
          alias: r.alias,
          status: r.status === 'applied' || r.status === 'abandoned' ? (r.provider_status ?? r.status) : r.status,
          applied: r.status === 'applied',
          request_counts: { total: r.request_total, completed: r.request_completed, failed: r.request_failed },
          created_at: r.created_at.toISOString(),
        })),
      totals,
    };
  }

  private stateColumns(state: ProviderState) {
    return {
      status: state.status,
      provider_status: state.status,
      ...(state.output_file_id !== undefined && { output_file_id: state.output_file_id }),
      ...(state.error_file_id !== undefined && { error_file_id: state.error_file_id }),
      // While validating the provider counts 0 requests; the row keeps the count it was written with.
      ...(state.request_counts &&
        state.request_counts.total > 0 && {
          request_total: state.request_counts.total,
          request_completed: state.request_counts.completed,
          request_failed: state.request_counts.failed,
        }),
      ...(state.error !== undefined && { error: state.error }),
    };
  }
}

export interface BatchProgress {
  /** The latest wave (0 first), null before the first is submitted. */
  wave: number | null;
  /** Batches not yet settled (pending at the provider or results not yet saved). */
  pending: number;
  /** The latest wave's batches. */
  batches: {
    id: string | null;
    wave: number;
    part: number;
    alias: string;
    status: string;
    applied: boolean;
    request_counts: { total: number; completed: number; failed: number };
    created_at: string;
  }[];
  /** Over every wave so far. */
  totals: { batches: number; requests: number; completed: number; failed: number };
}
