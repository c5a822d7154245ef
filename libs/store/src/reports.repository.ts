import { sql, type Kysely } from 'kysely';
import type { PairQuality, PairRecord, QualityReport } from '@amend/contracts';
import type { Database } from './schema';

/** Rows per round trip: each is a few hundred bytes (no texts), so a page stays small. */
const PAGE = 2_000;

/** One pair as the quality report reads it: its stored quality figures and flags; the record only for pairs stored without figures. */
export interface PairQualityRow {
  quality: PairQuality | null;
  flags: string[];
  /** Only when `quality` is null (pairs stored before migration 0015). */
  record: PairRecord | null;
}

/** The quality report's reads: the stored per-pair figures, and finished runs' cached reports (`run_reports`). */
export class ReportsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * A run's pairs in sample order as the report reads them, page by page with a keyset cursor: the
   * quality column and the flags, never the record (the texts) of a pair that has figures.
   */
  async *pairQuality(runId: string, pageSize = PAGE): AsyncGenerator<PairQualityRow> {
    let after = -1;
    for (;;) {
      const rows = await this.db
        .selectFrom('pairs')
        .select(['idx', 'flags', 'quality', sql<PairRecord | null>`case when quality is null then record end`.as('record')])
        .where('run_id', '=', runId)
        .where('idx', '>', after)
        .orderBy('idx')
        .limit(pageSize)
        .execute();
      for (const r of rows) yield { quality: r.quality ?? null, flags: r.flags ?? [], record: r.record ?? null };
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].idx;
    }
  }

  /** The cached report of a finished run, computed by the report code of `version`. */
  async cached(runId: string, version: string): Promise<QualityReport | undefined> {
    const row = await this.db.selectFrom('run_reports').select('report').where('run_id', '=', runId).where('version', '=', version).executeTakeFirst();
    return row?.report;
  }

  /** Keeps a finished run's report; the first one stored wins (the table is append-only, and a finished run's pairs no longer change). */
  async cache(runId: string, version: string, report: QualityReport): Promise<void> {
    await this.db
      .insertInto('run_reports')
      .values({ run_id: runId, version, report: JSON.stringify(report) })
      .onConflict((oc) => oc.columns(['run_id', 'version']).doNothing())
      .execute();
  }
}
