import { Injectable } from '@nestjs/common';
import { isRunFinished, type QualityReport, type Run } from '@amend/contracts';
import { QUALITY_REPORT_VERSION, QualityReportBuilder, pairQuality } from '@amend/pipeline';
import { Store } from '@amend/store';

/**
 * The quality report of a run, from the figures the worker stored with each pair (never the texts,
 * never an edit distance: those were settled when the pair was emitted). A finished run's report
 * is computed once and kept in `run_reports`; later requests read that row.
 */
@Injectable()
export class ReportsService {
  constructor(private readonly store: Store) {}

  /** `run` is the caller's view of it (access checked by whoever fetched it). */
  async report(run: Run): Promise<QualityReport> {
    // The status was read before any pair: a run seen finished has every pair committed (a pair is
    // written only while its sample runs, and a run finishes after its last sample), so what is
    // computed below is final and may be kept. A run seen running is computed and not kept.
    const finished = isRunFinished(run.status);
    if (finished) {
      const cached = await this.store.reports.cached(run.id, QUALITY_REPORT_VERSION);
      if (cached) return cached;
    }
    const builder = new QualityReportBuilder();
    // Page by page: memory is one page of small rows plus one tally per principle.
    for await (const row of this.store.reports.pairQuality(run.id)) {
      if (row.quality) builder.addQuality(row.quality, row.flags);
      else if (row.record) builder.addQuality(pairQuality(row.record), row.flags);
    }
    const built = builder.build({ id: run.id, mode: run.mode, status: run.status, min_margin: run.min_margin ?? 0 });
    const report = run.stopped ? { ...built, stopped: run.stopped } : built;
    if (finished) await this.store.reports.cache(run.id, QUALITY_REPORT_VERSION, report);
    return report;
  }
}
