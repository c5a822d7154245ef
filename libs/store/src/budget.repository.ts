import { sql, type Kysely, type Transaction } from 'kysely';
import type { Budget } from '@amend/contracts';
import type { Database, RunPrices } from './schema';
import { insertAuditEvents } from './audit-events';
import { BUSY, untilNotBusy, type Busy } from './lock-retry';

export interface RunSpend {
  budget: Budget | null;
  spent_tokens: number;
  spent_cost_usd: number;
}

/** Cost of one call at the run's prices; 0 when the alias has none. */
export function callCost(prices: RunPrices | null | undefined, alias: string, usage: { prompt_tokens: number; completion_tokens: number }): number {
  const p = prices?.[alias];
  if (!p) return 0;
  return (usage.prompt_tokens * p.prompt + usage.completion_tokens * p.completion) / 1000;
}

/** True once the run has spent its token or cost budget. */
export function budgetReached(s: RunSpend): boolean {
  const b = s.budget;
  if (!b) return false;
  return (b.tokens !== undefined && s.spent_tokens >= b.tokens) || (b.cost_usd !== undefined && s.spent_cost_usd >= b.cost_usd);
}

/**
 * A run's budget: what it has spent (kept on the run row by each checkpoint of a budgeted run)
 * and stopping its samples once the budget is reached.
 */
export class BudgetRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async spend(runId: string): Promise<RunSpend | undefined> {
    const row = await this.db.selectFrom('runs').select(['budget', 'spent_tokens', 'spent_cost_usd']).where('id', '=', runId).executeTakeFirst();
    if (!row) return undefined;
    return {
      budget: row.budget ?? null,
      spent_tokens: Number(row.spent_tokens),
      spent_cost_usd: Number(row.spent_cost_usd),
    };
  }

  /**
   * Stops `sampleId` (which the caller is working on) and every sample of the run still waiting
   * as `budget_exhausted`. Samples that other workers are running finish the call they are in
   * (it is paid for) and stop at their next one. Returns how many samples this stopped.
   */
  async exhaust(runId: string, sampleId: string, actor: string, spend: RunSpend): Promise<number> {
    // Every sample in flight of the run asks once the budget is reached: the run's row first, and a
    // caller that finds it held (another stop, a budgeted checkpoint) looks again once it is free
    // rather than queueing on it with a pool connection (lock-retry.ts).
    return untilNotBusy(`stopping run ${runId} at its budget`, () => this.exhaustOnce(runId, sampleId, actor, spend));
  }

  private exhaustOnce(runId: string, sampleId: string, actor: string, spend: RunSpend): Promise<number | Busy> {
    return this.db.transaction().execute(async (tx) => {
      const locked = await tx.selectFrom('runs').select('id').where('id', '=', runId).forUpdate().skipLocked().executeTakeFirst();
      if (!locked) return (await tx.selectFrom('runs').select('id').where('id', '=', runId).executeTakeFirst()) ? BUSY : 0;
      const reason = `budget_exhausted: the run spent ${spend.spent_tokens} tokens${
        spend.budget?.cost_usd !== undefined ? ` and $${spend.spent_cost_usd.toFixed(6)}` : ''
      } of its budget ${JSON.stringify(spend.budget)}`;
      const stopped = await tx
        .updateTable('samples')
        .set({ status: 'budget_exhausted', failure_reason: reason, updated_at: sql`now()` })
        .where('run_id', '=', runId)
        .where((eb) => eb.or([eb('status', '=', 'pending'), eb.and([eb('id', '=', sampleId), eb('status', '=', 'running')])]))
        .executeTakeFirst();
      const n = Number(stopped.numUpdatedRows);
      if (n > 0) {
        await insertAuditEvents(tx, [
          {
            run_id: runId,
            sample_id: null,
            type: 'run.budget_exhausted',
            actor,
            payload: { budget: spend.budget, spent_tokens: spend.spent_tokens, spent_cost_usd: spend.spent_cost_usd, samples_stopped: n },
          },
        ]);
      }
      return n;
    });
  }

  /**
   * Tokens a team has spent or reserved today (UTC), for its daily quota: a run still going counts
   * its token budget (what it may yet spend), a finished one what it spent. Called inside the new
   * run's transaction under a per-team lock, so two submissions cannot both take the last tokens.
   */
  async teamTokensToday(team: string, tx: Transaction<Database>): Promise<number> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${'amend.quota.' + team} || current_schema(), 0))`.execute(tx);
    const r = await sql<{ n: string }>`
      select coalesce(sum(case
        when r.status in ('queued', 'running') and (r.budget->>'tokens') is not null then (r.budget->>'tokens')::bigint
        when r.budget is not null then r.spent_tokens
        else (select coalesce(sum(s.prompt_tokens + s.completion_tokens), 0) from samples s where s.run_id = r.id)
      end), 0) as n
      from runs r
      where r.team = ${team} and r.created_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'`.execute(tx);
    return Number(r.rows[0]?.n ?? 0);
  }
}
