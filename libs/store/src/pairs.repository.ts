import type { Readable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import type { Pool } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { PairFlag, PairRecord } from '@amend/contracts';
import type { Database } from './schema';
import { pairLinesCopy, type LineFormat } from './pair-lines';
import { exportTimeoutOf } from './connect';

/** Rows fetched per round trip while streaming: memory stays bounded by this, not by the run size. */
const PAGE = 500;

export class PairsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly pool?: Pool,
  ) {}

  /** True when export lines can be streamed by COPY (a pool made by createDb is at hand). */
  get canCopy(): boolean {
    return !!this.pool;
  }

  /**
   * A run's export lines as Postgres builds them (pair-lines.ts), streamed by `COPY ... TO STDOUT`:
   * the bytes go from the connection to the caller as they come, one line per pair with its
   * newline, paused while the reader is slow (the stream's backpressure pauses the socket). The
   * connection goes back to the pool when the stream ends, and is dropped when it is destroyed early.
   */
  async copyLines(runId: string, format: LineFormat, opts: { exclude?: readonly PairFlag[] } = {}): Promise<Readable> {
    if (!this.pool) throw new Error('copyLines needs the pool that createDb made');
    const text = pairLinesCopy(runId, format, opts.exclude);
    const client = await this.pool.connect();
    let released = false;
    const release = (err?: Error) => {
      if (released) return;
      released = true;
      // A COPY cut short leaves the connection mid-protocol: drop it rather than reuse it.
      client.release(err);
    };
    // The COPY streams at the reader's pace, so a million pairs to a slow reader outlast the
    // session's statement_timeout: it gets its own (DATABASE_EXPORT_TIMEOUT_MS) for this
    // transaction only, and the connection goes back to the pool with the session's.
    const limit = exportTimeoutOf(this.pool);
    if (limit !== undefined) {
      try {
        await client.query('begin');
        await client.query(`set local statement_timeout = ${Math.floor(limit)}`);
      } catch (err) {
        release(err as Error);
        throw err;
      }
    }
    const stream = client.query(copyTo(text));
    let ended = false;
    stream.on('end', () => {
      ended = true;
      if (limit === undefined) return release();
      client.query('commit').then(
        () => release(),
        (err: Error) => release(err),
      );
    });
    stream.on('error', (err) => release(err));
    stream.on('close', () => {
      if (!ended) release(new Error('export stream closed before its end'));
    });
    return stream;
  }

  /**
   * How many of a run's pairs an export leaves out, by why: `erased`, and each excluded flag (a
   * pair with two such flags counts under both). What `Amend-Excluded` says before the stream.
   */
  async excluded(runId: string, exclude: readonly PairFlag[] = []): Promise<Record<string, number>> {
    const flags = [...new Set(exclude)];
    const r = await sql<{ why: string; n: string }>`
      select 'erased' as why, count(*) as n from pairs where run_id = ${runId} and record ? 'erased'
      union all
      select f as why, count(*) as n from pairs cross join unnest(flags) f
        where run_id = ${runId} and f = any(${flags}::text[]) and not (record ? 'erased') group by f`.execute(this.db);
    const out: Record<string, number> = {};
    for (const row of r.rows) if (Number(row.n) > 0) out[row.why] = Number(row.n);
    return out;
  }

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
        .where('idx', '>', after)
        // An erased pair has no texts left to export (docs/audit.md "Erasure").
        .where(sql<boolean>`not (record ? 'erased')`);
      if (exclude.length > 0) q = q.where(sql<boolean>`not (flags && ${exclude}::text[])`);
      const rows = await q.orderBy('idx').limit(pageSize).execute();
      for (const r of rows) yield r.record;
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].idx;
    }
  }
}
