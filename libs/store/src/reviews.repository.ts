import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { PairRecord, PairReview, ReviewDecision, ReviewStatus } from '@amend/contracts';
import type { Database, PairReviewsTable } from './schema';
import { insertAuditEvents, type AuditEventInput } from './audit-events';
import { StoreError } from './errors';
import { fillQueue, openSlots, reviewPolicyOf } from './review-queue.repository';

type ReviewRow = Selectable<PairReviewsTable>;

/** The texts a pair has now: the worker's, or those of its latest review. */
export interface PairTexts {
  chosen: string;
  rejected: string;
}

/** What a decision makes of the pair; computed by the caller from the pair's current texts. */
export interface ReviewOutcome extends PairTexts {
  status: ReviewStatus;
}

export interface ReviewInput {
  decision: ReviewDecision;
  /** The reviewing key's name (or `key:<id>`) and id. */
  reviewer: string;
  reviewerKeyId: string | null;
  note: string | null;
  actor: string;
  reason: string;
  /** The latest review id the reviewer saw (null: none); undefined skips the check. */
  baseReviewId?: string | null;
}

export type ReviewFilter = 'unreviewed' | ReviewStatus;

function toReview(r: ReviewRow): PairReview {
  return {
    id: r.id,
    pair_id: r.pair_id,
    run_id: r.run_id,
    sample_id: r.sample_id,
    decision: r.decision,
    status: r.status,
    reviewer: r.reviewer,
    reviewer_key_id: r.reviewer_key_id ?? null,
    actor: r.actor,
    note: r.note ?? null,
    reason: r.reason,
    chosen: r.chosen,
    rejected: r.rejected,
    created_at: new Date(r.created_at).toISOString(),
  };
}

/** Reviews of pairs. Reads never return another run's rows: callers check the run's team first. */
export class ReviewsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The latest review of each pair of `runId`, filtered, in sample order, one page at a time. */
  async page(runId: string, opts: { status?: ReviewFilter; limit: number; cursor?: number }) {
    // The latest review per pair through a lateral join on (pair_id, seq desc): one index probe a pair.
    const rows = await sql<{ idx: number; record: PairRecord; review: ReviewRow | null }>`
      select p.idx, p.record, to_jsonb(r) as review
      from pairs p
      left join lateral (
        select * from pair_reviews r where r.pair_id = p.id order by r.seq desc limit 1
      ) r on true
      where p.run_id = ${runId}
        and p.idx > ${opts.cursor ?? -1}
        ${opts.status === 'unreviewed' ? sql`and r.id is null` : opts.status ? sql`and r.status = ${opts.status}` : sql``}
      order by p.idx
      limit ${opts.limit + 1}
    `.execute(this.db);
    const page = rows.rows.slice(0, opts.limit);
    return {
      items: page.map((r) => ({ pair: r.record, review: r.review ? toReview(r.review) : null })),
      next_cursor: rows.rows.length > opts.limit ? page[page.length - 1].idx : null,
    };
  }

  /** How many of a run's pairs are unreviewed, accepted and rejected (by their latest review). */
  async counts(runId: string) {
    const r = await sql<{ pairs: string; accepted: string; rejected: string }>`
      select count(*) as pairs,
             count(*) filter (where latest.status = 'accepted') as accepted,
             count(*) filter (where latest.status = 'rejected') as rejected
      from pairs p
      left join lateral (
        select status from pair_reviews r where r.pair_id = p.id order by r.seq desc limit 1
      ) latest on true
      where p.run_id = ${runId}
    `.execute(this.db);
    const row = r.rows[0];
    const pairs = Number(row.pairs);
    const accepted = Number(row.accepted);
    const rejected = Number(row.rejected);
    return { pairs, unreviewed: pairs - accepted - rejected, accepted, rejected };
  }

  /** A pair, its latest review and its whole review history; undefined if there is no such pair. */
  async detail(pairId: string) {
    const pair = await this.db.selectFrom('pairs').select(['id', 'run_id', 'record']).where('id', '=', pairId).executeTakeFirst();
    if (!pair) return undefined;
    const history = (await this.db.selectFrom('pair_reviews').selectAll().where('pair_id', '=', pairId).orderBy('seq').execute()).map(toReview);
    return { run_id: pair.run_id, pair: pair.record, review: history[history.length - 1] ?? null, history };
  }

  /** The run a pair belongs to, for access checks before anything else is read. */
  async runOf(pairId: string): Promise<string | undefined> {
    const r = await this.db.selectFrom('pairs').select('run_id').where('id', '=', pairId).executeTakeFirst();
    return r?.run_id;
  }

  /** Whether any pair of the run was reviewed: exports of unreviewed runs skip the lookups. */
  async anyForRun(runId: string): Promise<boolean> {
    const r = await this.db.selectFrom('pair_reviews').select('id').where('run_id', '=', runId).limit(1).executeTakeFirst();
    return r !== undefined;
  }

  /** Every review of a run's pairs, oldest first, page by page (the audit bundle holds them all). */
  async *forRun(runId: string, pageSize = 1_000): AsyncGenerator<PairReview> {
    let after = '0';
    for (;;) {
      const rows = await this.db
        .selectFrom('pair_reviews')
        .selectAll()
        .where('run_id', '=', runId)
        .where('seq', '>', after)
        .orderBy('seq')
        .limit(pageSize)
        .execute();
      for (const r of rows) yield toReview(r);
      if (rows.length < pageSize) return;
      after = String(rows[rows.length - 1].seq);
    }
  }

  /** Reviews by id (those that exist). */
  async byIds(ids: string[]): Promise<Map<string, PairReview>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.selectFrom('pair_reviews').selectAll().where('id', 'in', ids).execute();
    return new Map(rows.map((r) => [r.id, toReview(r)]));
  }

  /** The latest review of each of `pairIds` that has one. */
  async latestFor(pairIds: string[]): Promise<Map<string, PairReview>> {
    if (pairIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('pair_reviews')
      .selectAll()
      .distinctOn('pair_id')
      .where('pair_id', 'in', pairIds)
      .orderBy('pair_id')
      .orderBy('seq', 'desc')
      .execute();
    return new Map(rows.map((r) => [r.pair_id, toReview(r)]));
  }

  /**
   * Records a review and its audit event in one transaction. The pair row is locked, so two
   * reviewers of one pair are serialised and `decide` always sees the texts as they are now.
   *
   * On a run with a review policy (docs/ml-teams.md#review-by-several-reviewers) each key's review
   * is its own: the texts it starts from, and `base_review_id`, are the key's own latest review of
   * the pair (or the worker's pair), and a key that has not reviewed the pair yet needs an open slot
   * (its lease, or one nobody holds), weighed under the pair's queue row lock as the queue does.
   */
  async record(
    pairId: string,
    input: ReviewInput,
    decide: (current: PairTexts, pair: PairRecord) => ReviewOutcome,
    audit: (review: PairReview, before: PairTexts) => Omit<AuditEventInput, 'run_id' | 'sample_id'>,
  ): Promise<PairReview> {
    await fillQueue(this.db, { pairId });
    return this.db.transaction().execute(async (tx) => {
      // Reviews of one pair queue on a lock of their own: pairs rows are append-only, and
      // SELECT ... FOR UPDATE would need UPDATE on them, which amend_app does not have.
      await sql`select pg_advisory_xact_lock(hashtextextended(${'amend.review.' + pairId}, 0))`.execute(tx);
      const pair = await tx.selectFrom('pairs').select(['id', 'run_id', 'sample_id', 'record']).where('id', '=', pairId).executeTakeFirst();
      if (!pair) throw new StoreError('pair_not_found', `no pair ${pairId}`, { id: pairId });
      // The run row first: the review's event re-seals a finished run (which locks the row for
      // update), and two reviews that took its key-share lock first (their rows' foreign keys) would
      // each wait for the other to let go of it. Reviews of one run so take turns from the start.
      await tx.selectFrom('runs').select('id').where('id', '=', pair.run_id).forUpdate().execute();
      const perPair = await reviewPolicyOf(tx, pair.run_id);
      const own = perPair !== null && input.reviewerKeyId !== null;
      const latestOf = (keyId?: string) => {
        let q = tx.selectFrom('pair_reviews').selectAll().where('pair_id', '=', pairId);
        if (keyId) q = q.where('reviewer_key_id', '=', keyId);
        return q.orderBy('seq', 'desc').limit(1).executeTakeFirst();
      };
      const latest = own ? await latestOf(input.reviewerKeyId!) : await latestOf();
      if (own && !latest) {
        await sql`select pair_id from review_queue where pair_id = ${pairId} for update`.execute(tx);
        const open = await sql<{ open: number }>`select ${openSlots(sql`${pairId}::uuid`, input.reviewerKeyId!, perPair)} as open`.execute(tx);
        if (Number(open.rows[0].open) <= 0) {
          throw new StoreError(
            'review_slots_full',
            `this pair has the ${perPair} review${perPair === 1 ? '' : 's'} its run's policy asks for, done or held by other reviewers' leases; take the next pair from GET /v1/runs/${pair.run_id}/review-queue/next`,
            { per_pair: perPair, run_id: pair.run_id },
          );
        }
      }
      if (input.baseReviewId !== undefined && (latest?.id ?? null) !== input.baseReviewId) {
        throw new StoreError(
          'conflict',
          latest
            ? `the pair was reviewed meanwhile (${latest.decision} by ${latest.reviewer}); reload it and review again`
            : 'the review you based this on no longer exists; reload the pair and review again',
          { latest_review: latest ? toReview(latest) : null },
        );
      }
      const record = pair.record;
      const before: PairTexts = latest ? { chosen: latest.chosen, rejected: latest.rejected } : { chosen: record.chosen, rejected: record.rejected };
      const outcome = decide(before, record);
      const row = await tx
        .insertInto('pair_reviews')
        .values({
          id: randomUUID(),
          pair_id: pair.id,
          run_id: pair.run_id,
          sample_id: pair.sample_id,
          decision: input.decision,
          status: outcome.status,
          reviewer: input.reviewer,
          reviewer_key_id: input.reviewerKeyId,
          note: input.note,
          actor: input.actor,
          reason: input.reason,
          chosen: outcome.chosen,
          rejected: outcome.rejected,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const review = toReview(row);
      await insertAuditEvents(tx, [{ run_id: pair.run_id, sample_id: pair.sample_id, ...audit(review, before) }]);
      // The key's slot is now its review: the lease has done its work.
      if (own) await tx.deleteFrom('review_leases').where('pair_id', '=', pairId).where('key_id', '=', input.reviewerKeyId!).execute();
      return review;
    });
  }
}
