import type { Readable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import type { Pool } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { createHash } from 'node:crypto';
import type { ExcludedReason, PairFlag, PairRecord, PairSearchHit, ReviewStatus } from '@amend/contracts';
import { StoreError } from './errors';
import type { Database } from './schema';
import { excludedCountsQuery, keptCondition, pairLinesCopy, type ExportFilter, type LineFormat } from './pair-lines';
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
   * How many of a run's pairs an export leaves out, by why (EXCLUDED_REASONS), each pair counted
   * once under its first reason: what `Amend-Excluded` says before the stream (pair-lines.ts).
   */
  async excluded(runId: string, filter: ExportFilter): Promise<Partial<Record<ExcludedReason, number>>> {
    const r = await sql<{ why: ExcludedReason; n: string }>`${sql.raw(excludedCountsQuery(runId, filter))}`.execute(this.db);
    const out: Partial<Record<ExcludedReason, number>> = {};
    for (const row of r.rows) out[row.why] = Number(row.n);
    return out;
  }

  /** The ids of the pairs an export with `exclude` would stream (erased pairs never), in sample order: what a consensus export counts before it streams. */
  async exportableIds(runId: string, exclude: readonly PairFlag[] = []): Promise<string[]> {
    // The same condition as the stream, the COPY and the Amend-Excluded counts (pair-lines.ts).
    const kept = sql.raw<boolean>(keptCondition(exclude));
    const rows = await this.db.selectFrom('pairs as p').select('p.id').where('p.run_id', '=', runId).where(kept).orderBy('p.idx').execute();
    return rows.map((r) => r.id);
  }

  /**
   * Every pair of a run in sample order, fetched page by page with a keyset cursor, so a stream of
   * a million pairs holds one page at a time and a run still going yields what exists so far.
   * `exclude` leaves out pairs carrying any of those flags (in SQL, on the flags column).
   */
  async *stream(runId: string, pageSize = PAGE, opts: { exclude?: readonly PairFlag[] } = {}): AsyncGenerator<PairRecord> {
    // Not erased (an erased pair has no texts left: docs/audit.md "Erasure") and none of the flags, as the COPY and the counts decide it.
    const kept = sql.raw<boolean>(keptCondition(opts.exclude ?? []));
    let after = -1;
    for (;;) {
      const rows = await this.db
        .selectFrom('pairs as p')
        .select(['p.idx', 'p.record'])
        .where('p.run_id', '=', runId)
        .where('p.idx', '>', after)
        .where(kept)
        .orderBy('p.idx')
        .limit(pageSize)
        .execute();
      for (const r of rows) yield r.record;
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].idx;
    }
  }

  /**
   * One page of a search over pairs (docs/ml-teams.md#searching-pairs). With `q`, pairs whose
   * words (`pairs.search`, migration 0020) match it, best first (ts_rank_cd, ties by id); without,
   * every pair the filters keep, newest first. Erased pairs and previews' pairs are never found
   * (a preview's only when its run is named). The cursor holds the last row's sort key and a
   * fingerprint of the filters, so it continues only the search that made it.
   */
  async search(opts: PairSearch): Promise<{ pairs: PairSearchHit[]; next_cursor: string | null }> {
    const fingerprint = searchFingerprint(opts);
    const after = opts.cursor === undefined ? undefined : readCursor(opts.cursor, fingerprint, opts.q !== undefined);
    const query = opts.q === undefined ? undefined : sql`websearch_to_tsquery('english'::regconfig, ${opts.q})`;
    if (query) {
      // Only stop words or punctuation: websearch_to_tsquery makes an empty query, which matches nothing.
      const r = await sql<{ n: number }>`select numnode(${query}) as n`.execute(this.db);
      if (Number(r.rows[0]?.n ?? 0) === 0) {
        throw new StoreError('invalid_search', `q holds no word that can be searched: "${opts.q}" is only stop words or punctuation`, { q: opts.q });
      }
    }
    const where = [sql`not (p.record ? 'erased')`];
    if (opts.team !== undefined) where.push(sql`r.team = ${opts.team}`);
    if (opts.run !== undefined) where.push(sql`p.run_id = ${opts.run}::uuid`);
    else where.push(sql`r.preview = false`);
    if (query) where.push(sql`p.search @@ ${query}`);
    if (opts.flags?.length) where.push(sql`p.flags @> ${[...new Set(opts.flags)]}::text[]`);
    if (opts.principle !== undefined) where.push(sql`(p.record->'metadata') @> ${JSON.stringify({ principle_ids: [opts.principle] })}::jsonb`);
    for (const [key, value] of opts.metadata ?? []) {
      // A value is matched as the string it is, and as the number or boolean it spells ("3", "true").
      const alternatives = metadataValues(value).map((v) => sql`(p.record->'metadata') @> ${JSON.stringify({ prompt_metadata: { [key]: v } })}::jsonb`);
      where.push(sql`(${sql.join(alternatives, sql` or `)})`);
    }
    if (opts.reviewStatus === 'unreviewed') where.push(sql`lr.status is null`);
    else if (opts.reviewStatus !== undefined) where.push(sql`lr.status = ${opts.reviewStatus}`);
    const rank = query ? sql`ts_rank_cd(p.search, ${query})` : sql`null::real`;
    if (after && query) where.push(sql`(${rank} < ${after.k}::real or (${rank} = ${after.k}::real and p.id > ${after.id}::uuid))`);
    else if (after) where.push(sql`(p.created_at, p.id) < (${after.k}::timestamptz, ${after.id}::uuid)`);
    const order = query ? sql`rank desc, p.id` : sql`p.created_at desc, p.id desc`;
    const headline = query
      ? sql`ts_headline('english'::regconfig, concat_ws(' … ', p.record->>'prompt', p.record->>'chosen', p.record->>'rejected',
          (select string_agg(c, ' … ') from jsonb_array_elements_text(jsonb_path_query_array(p.record, '$.rounds[*].critique')) c)),
          ${query}, 'StartSel=«, StopSel=», MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=" … "')`
      : sql`null::text`;
    const rows = await sql<SearchRow>`
      select p.id, p.run_id, p.sample_id, p.idx, p.record->'metadata'->>'external_id' as external_id, left(p.record->>'prompt', 300) as prompt,
             p.record->'metadata'->'principle_ids' as principle_ids, p.flags, p.record->'metadata'->'prompt_metadata' as prompt_metadata,
             coalesce(lr.status, 'unreviewed') as review_status, p.created_at,
             to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at_key, ${rank} as rank, ${rank}::text as rank_key
      from pairs p
      join runs r on r.id = p.run_id
      left join lateral (select status from pair_reviews pr where pr.pair_id = p.id order by pr.seq desc limit 1) lr on true
      where ${sql.join(where, sql` and `)}
      order by ${order}
      limit ${opts.limit + 1}`.execute(this.db);
    const page = rows.rows.slice(0, opts.limit);
    // Snippets only for the page shown: ts_headline reads the texts again.
    const snippets =
      query && page.length
        ? await this.snippets(
            page.map((r) => r.id),
            headline,
          )
        : new Map<string, string>();
    const last = page[page.length - 1];
    return {
      pairs: page.map((r) => ({
        id: r.id,
        run_id: r.run_id,
        sample_id: r.sample_id,
        sample_index: r.idx,
        external_id: r.external_id,
        prompt: r.prompt ?? '',
        principle_ids: r.principle_ids ?? [],
        flags: r.flags,
        prompt_metadata: r.prompt_metadata ?? null,
        review_status: r.review_status,
        created_at: new Date(r.created_at).toISOString(),
        rank: r.rank === null ? null : Number(r.rank),
        snippet: snippets.get(r.id) ?? null,
      })),
      next_cursor: rows.rows.length > opts.limit && last ? writeCursor({ f: fingerprint, k: query ? (last.rank_key ?? '') : last.at_key, id: last.id }) : null,
    };
  }

  private async snippets(ids: string[], headline: ReturnType<typeof sql>): Promise<Map<string, string>> {
    const r = await sql<{ id: string; snippet: string }>`select p.id, ${headline} as snippet from pairs p where p.id = any(${ids}::uuid[])`.execute(this.db);
    return new Map(r.rows.map((x) => [x.id, x.snippet]));
  }
}

/** A search over pairs, as the API validated it. `team` undefined: every team's (auditors). */
export interface PairSearch {
  team?: string;
  run?: string;
  q?: string;
  flags?: readonly PairFlag[];
  principle?: string;
  reviewStatus?: 'unreviewed' | ReviewStatus;
  /** `metadata.KEY=VALUE` filters, [KEY, VALUE]. */
  metadata?: readonly (readonly [string, string])[];
  limit: number;
  cursor?: string;
}

interface SearchRow {
  id: string;
  run_id: string;
  sample_id: string;
  idx: number;
  external_id: string | null;
  prompt: string | null;
  principle_ids: string[] | null;
  flags: string[];
  prompt_metadata: Record<string, unknown> | null;
  review_status: 'unreviewed' | ReviewStatus;
  created_at: Date;
  at_key: string;
  rank: number | null;
  rank_key: string | null;
}

/** A metadata filter's value as JSON values to match: the string, and the number or boolean it spells. */
function metadataValues(value: string): unknown[] {
  const out: unknown[] = [value];
  if (value === 'true' || value === 'false') out.push(value === 'true');
  else if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value) && Number.isFinite(Number(value))) out.push(Number(value));
  return out;
}

/** What a cursor continues: the filters, not the page size (a client may change `limit` between pages). */
function searchFingerprint(opts: PairSearch): string {
  const canonical = JSON.stringify([
    opts.team ?? null,
    opts.run ?? null,
    opts.q ?? null,
    [...new Set(opts.flags ?? [])].sort(),
    opts.principle ?? null,
    opts.reviewStatus ?? null,
    [...(opts.metadata ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

interface SearchCursor {
  /** Fingerprint of the search. */
  f: string;
  /** The last row's sort key: its rank as Postgres wrote it (a real), or its created_at to the microsecond. */
  k: string;
  id: string;
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RANK_TEXT = /^\d+(\.\d+)?(e[+-]?\d+)?$/;
const AT_TEXT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

function writeCursor(c: SearchCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

/** Checked here, not by Postgres: a made-up or another search's cursor is the caller's error, never a 500. */
function readCursor(text: string, fingerprint: string, ranked: boolean): SearchCursor {
  let c: Partial<SearchCursor> | undefined;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString()) as Partial<SearchCursor>;
  } catch {
    c = undefined;
  }
  const keyOk = typeof c?.k === 'string' && (ranked ? RANK_TEXT.test(c.k) : AT_TEXT.test(c.k) && !Number.isNaN(Date.parse(c.k)));
  if (!c || typeof c.id !== 'string' || !UUID_TEXT.test(c.id) || !keyOk) {
    throw new StoreError('invalid_cursor', 'cursor is not one this API returned');
  }
  if (c.f !== fingerprint) {
    throw new StoreError('invalid_cursor', 'cursor belongs to another search: pass it with the same run, q and filters as the page that returned it');
  }
  return c as SearchCursor;
}
