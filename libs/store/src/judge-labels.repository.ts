import { sql, type Kysely } from 'kysely';
import { isRunFinished, type JudgeLabelCounts, type RunStop } from '@amend/contracts';
import type { Database } from './schema';
import { insertAuditEvents } from './audit-events';
import { cancelUnfinishedSamples } from './runs.repository';
import { BUSY, untilNotBusy, type Busy } from './lock-retry';

/**
 * The labels a run's judge has given so far, and stopping the run when too many of them are hard
 * or unreadable (`max_hard_label_share`): what a team asks for when soft labels are the point.
 */
export class JudgeLabelsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every comparison answered in the run so far (each order counts once), by label source. */
  async counts(runId: string): Promise<JudgeLabelCounts> {
    const r = await sql<{ n: string; hard: string; unreadable: string }>`
      select count(*) as n,
        count(*) filter (where r.judgement->>'label_source' = 'hard') as hard,
        count(*) filter (where r.judgement->>'label_source' = 'unreadable') as unreadable
      from stage_records r join samples s on s.id = r.sample_id
      where s.run_id = ${runId} and r.stage = 'comparison'`.execute(this.db);
    const row = r.rows[0];
    return { comparisons: Number(row?.n ?? 0), hard: Number(row?.hard ?? 0), unreadable: Number(row?.unreadable ?? 0) };
  }

  /**
   * Stops the run: every sample not finished becomes `cancelled` with the stop's message (one in
   * the middle of a call saves that call and stops at its checkpoint), the run ends `failed` with
   * the stop kept on it, and `run.stopped` records it. All in one transaction, as a cancel: the
   * event lands on a finished run and so seals it here, and a checkpoint that commits later sees
   * the run finished and seals it again. (Closing the run in a second transaction left a window
   * where a late checkpoint saw the run still going and the seal did not see its event.) Returns
   * the stop as stored, or null when the run had already finished or stopped.
   */
  async stop(runId: string, actor: string, stop: Omit<RunStop, 'samples_stopped' | 'at'>): Promise<RunStop | null> {
    // Every sample in flight of the run asks at once: one stops it, the others do not queue on the
    // run's row (lock-retry.ts) but look again once the holder is gone, and find it stopped.
    return untilNotBusy(`stopping run ${runId}`, () => this.stopOnce(runId, actor, stop));
  }

  private stopOnce(runId: string, actor: string, stop: Omit<RunStop, 'samples_stopped' | 'at'>): Promise<RunStop | null | Busy> {
    return this.db.transaction().execute(async (tx) => {
      const run = await tx.selectFrom('runs').select(['status', 'stopped']).where('id', '=', runId).forUpdate().skipLocked().executeTakeFirst();
      if (!run) {
        const seen = await tx.selectFrom('runs').select(['status', 'stopped']).where('id', '=', runId).executeTakeFirst();
        return seen && !isRunFinished(seen.status) && seen.stopped == null ? BUSY : null;
      }
      if (isRunFinished(run.status) || run.stopped != null) return null;
      const stopped = await cancelUnfinishedSamples(tx, runId, stop.message);
      const stored: RunStop = { ...stop, samples_stopped: stopped, at: new Date().toISOString() };
      await tx
        .updateTable('runs')
        .set({ stopped: JSON.stringify(stored), status: 'failed', finished_at: sql`now()`, started_at: sql`coalesce(started_at, now())` })
        .where('id', '=', runId)
        .execute();
      await insertAuditEvents(tx, [{ run_id: runId, sample_id: null, type: 'run.stopped', actor, payload: stored }]);
      return stored;
    });
  }
}
