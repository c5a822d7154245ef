import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { Usage } from '@amend/contracts';
import { AmendMetrics } from '@amend/runtime';
import { Store, budgetReached, callCost, type WorkItem } from '@amend/store';
import { CLOCK, monotonicClock, type CallMetrics, type Clock, type SampleWorkStore } from './ports';

/**
 * What the orchestrator does around each model call that is not the pipeline: the run's budget
 * (checked before the call), the call's cost (at the prices frozen on the run), and metrics.
 */
@Injectable()
export class SpendMeter {
  private readonly logger = new Logger('SpendMeter');

  constructor(
    @Inject(Store) private readonly store: Pick<SampleWorkStore, 'budget' | 'runs'>,
    @Inject(AmendMetrics) private readonly metrics: CallMetrics,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = monotonicClock,
  ) {}

  /**
   * When the run has reached its budget, stops this sample and the run's waiting samples as
   * `budget_exhausted` and closes the run if none is left going; true then, and the caller must
   * not make the call.
   */
  async stopIfBudgetReached(item: Pick<WorkItem, 'run' | 'sample'>, actor: string): Promise<boolean> {
    if (item.run.budget == null) return false;
    const spend = await this.store.budget.spend(item.run.id);
    if (!spend || !budgetReached(spend)) return false;
    const stopped = await this.store.budget.exhaust(item.run.id, item.sample.id, actor, spend);
    if (stopped > 0) {
      this.logger.warn(
        { run_id: item.run.id, sample_id: item.sample.id, spent_tokens: spend.spent_tokens, spent_cost_usd: spend.spent_cost_usd, samples_stopped: stopped },
        'run reached its budget: samples stopped as budget_exhausted',
      );
    }
    await this.store.runs.finalizeIfDone(item.run.id);
    return true;
  }

  /** What the checkpoint adds to the sample's cost (and the run's spend, when it has a budget). */
  spend(item: Pick<WorkItem, 'run'>, alias: string, usage: Usage): { costUsd: number; budgeted: boolean } {
    return { costUsd: callCost(item.run.prices, alias, usage), budgeted: item.run.budget != null };
  }

  /** Times one call for the metrics, by alias and stage. */
  async timed<T extends { usage: Usage }>(alias: string, stage: string, call: () => Promise<T>): Promise<T> {
    const started = this.clock.now();
    try {
      const result = await call();
      this.metrics.modelCall(alias, stage, (this.clock.now() - started) / 1000, { usage: result.usage });
      return result;
    } catch (error) {
      // A caller's abort (shutdown, cancel) is not a model outcome.
      if (!(error instanceof Error && error.name === 'AbortError') && typeof error !== 'string') {
        this.metrics.modelCall(alias, stage, (this.clock.now() - started) / 1000, { error });
      }
      throw error;
    }
  }
}
