import { Injectable } from '@nestjs/common';
import type { QualityReport, Run } from '@amend/contracts';
import { QualityReportBuilder } from '@amend/pipeline';
import { Store } from '@amend/store';

/** The quality report of a run, computed from its pairs as Postgres pages arrive. */
@Injectable()
export class ReportsService {
  constructor(private readonly store: Store) {}

  /** `run` is the caller's view of it (access checked by whoever fetched it). */
  async report(run: Run): Promise<QualityReport> {
    const builder = new QualityReportBuilder();
    // Streamed page by page: memory is one page of pairs plus one tally per principle.
    for await (const pair of this.store.pairs.stream(run.id)) builder.add(pair);
    const report = builder.build({ id: run.id, mode: run.mode, status: run.status, min_margin: run.min_margin ?? 0 });
    return run.stopped ? { ...report, stopped: run.stopped } : report;
  }
}
