import { sql, type Kysely } from 'kysely';
import type { PairFlag, PairRecord } from '@amend/contracts';
import type { Database } from './schema';

/** Rows fetched per round trip while streaming: memory stays bounded by this, not by the run size. */
const PAGE = 500;

export class PairsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Every pair of a run in sample order, fetched page by page with a keyset cursor, so a stream of
   * a million pairs holds one page at a time and a run still going yields what exists so far.
   * `exclude` leaves out pairs carrying any of those flags (in SQL, on the flags column).
   */
  async *stream(runId: string, pageSize = PAGE, opts: { exclude?: readonly PairFlag[] } = {}): AsyncGenerator<PairRecord> {
    const exclude = [...new Set(opts.exclude ?? [])];
    let after = -1;
    for (;;) {
      let q = this.db
        .selectFrom('pairs')
        .select(['idx', 'record'])
        .where('run_id', '=', runId)
        .where('idx', '>', after);
      if (exclude.length > 0) q = q.where(sql<boolean>`not (flags && ${exclude}::text[])`);
      const rows = await q.orderBy('idx').limit(pageSize).execute();
      for (const r of rows) yield r.record as unknown as PairRecord;
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].idx;
    }
  }
}
