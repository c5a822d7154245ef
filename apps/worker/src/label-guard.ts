import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { judgeLabelStop, type JudgeLabelCounts } from '@amend/contracts';
import { Store, type WorkItem } from '@amend/store';
import { CLOCK, monotonicClock, type Clock, type SampleWorkStore } from './ports';

/**
 * How long a run's label counts are reused by this process: the check comes before every call of
 * a guarded run, and counting reads every comparison of the run, so many samples in flight share
 * one count. A run stops at most this long after it crossed its limit, plus the calls in flight.
 */
export const LABEL_COUNT_TTL_MS = 500;

/**
 * `max_hard_label_share`: before each call of a run that sets it, the share of its judge's labels
 * that are hard or unreadable so far; past the limit (after `hard_label_min_comparisons`) the run
 * is stopped, its unfinished samples cancelled with the reason, and the caller makes no call.
 */
@Injectable()
export class LabelGuard {
  private readonly logger = new Logger('LabelGuard');
  private readonly cache = new Map<string, { at: number; counts: Promise<JudgeLabelCounts> }>();

  constructor(
    @Inject(Store) private readonly store: Pick<SampleWorkStore, 'judgeLabels' | 'runs'>,
    @Optional() @Inject(CLOCK) private readonly clock: Clock = monotonicClock,
  ) {}

  /**
   * When the run's labels are past its limit, stops the run (once: a later check finds it stopped)
   * and closes it; true then, or when an earlier check stopped it, and the caller must not make the call.
   */
  async stopRunIfLabelsBad(item: Pick<WorkItem, 'run'>, actor: string): Promise<boolean> {
    const options = item.run.feedback;
    if (options?.max_hard_label_share === undefined) return false;
    const stop = judgeLabelStop(options, await this.counts(item.run.id));
    if (!stop) return false;
    const stored = await this.store.judgeLabels.stop(item.run.id, actor, stop);
    if (stored) this.logger.warn({ run_id: item.run.id, ...stored }, 'run stopped: too many hard or unreadable judge labels');
    await this.store.runs.finalizeIfDone(item.run.id);
    return true;
  }

  private counts(runId: string): Promise<JudgeLabelCounts> {
    const now = this.clock.now();
    const cached = this.cache.get(runId);
    if (cached && now - cached.at < LABEL_COUNT_TTL_MS) return cached.counts;
    const counts = this.store.judgeLabels.counts(runId);
    // A failed count is not kept: the next call asks again.
    counts.catch(() => this.cache.delete(runId));
    if (this.cache.size >= 1_000) this.cache.clear();
    this.cache.set(runId, { at: now, counts });
    return counts;
  }
}
