import { sql, type Kysely, type Transaction } from 'kysely';
import type { PairRecord, ReviewDecision } from '@amend/contracts';
import type { Database } from './schema';
import { insertAuditEvents } from './audit-events';
import { BUSY, type Busy } from './lock-retry';

type Db = Kysely<Database> | Transaction<Database>;

/** Each pair needs this many reviews when its run has no review policy. */
export const DEFAULT_REVIEWS_PER_PAIR = 1;

/** Pairs a `next` call weighs after taking their rows and finding them full meanwhile, before it answers BUSY. */
const MAX_TRIES = 20;

/** A pair handed to a reviewer: the pair as the worker made it and the reviewer's lease on one of its open slots. */
export interface QueuedPair {
  pair: PairRecord;
  expires_at: Date;
  /** Different keys that reviewed the pair so far, and how many it needs. */
  reviews: number;
  per_pair: number;
}

/** One key's decision on one pair: its latest review of it. */
export interface ReviewerDecisionRow {
  pair_id: string;
  idx: number;
  reviewer: string;
  reviewer_key_id: string | null;
  decision: ReviewDecision;
  reason: string;
  review_id: string;
  /** The review's row order: the latest of several is the one with the highest. */
  seq: string;
  /** The judge's P(chosen better), on judged pairs. */
  p_chosen: number | null;
}

/** One reviewer's share of a run's reviews. */
export interface ReviewerProgress {
  reviewer: string;
  reviewer_key_id: string | null;
  /** Pairs this key reviewed. */
  reviewed: number;
  /** Pairs it holds a live lease on and has not reviewed yet. */
  leased: number;
}

export interface QueueProgress {
  per_pair: number;
  /** Whether the run set its policy (otherwise DEFAULT_REVIEWS_PER_PAIR applies). */
  policy_set: boolean;
  pairs: number;
  /** Pairs with per_pair reviews or more, with at least one and fewer, and with none. */
  complete: number;
  partial: number;
  unreviewed: number;
  /** Reviews done (one per key and pair) and still needed to complete every pair. */
  reviews_done: number;
  reviews_needed: number;
  /** Live leases of keys that have not reviewed their pair yet. */
  leased: number;
  reviewers: ReviewerProgress[];
}

/** Different keys that reviewed the pair `pair` (an SQL expression naming its id); reviews stored without a key count by name. */
const reviewersOf = (pair: ReturnType<typeof sql>) =>
  sql`(select count(distinct coalesce(r.reviewer_key_id::text, r.reviewer)) from pair_reviews r where r.pair_id = ${pair})`;

/** Live leases on the pair of keys other than `keyId` that have not reviewed it yet: slots held for them. */
const heldByOthers = (pair: ReturnType<typeof sql>, keyId: string) =>
  sql`(select count(*) from review_leases l where l.pair_id = ${pair} and l.expires_at > clock_timestamp() and l.key_id <> ${keyId}
      and not exists (select 1 from pair_reviews r where r.pair_id = l.pair_id and r.reviewer_key_id = l.key_id))`;

const reviewedBy = (pair: ReturnType<typeof sql>, keyId: string) =>
  sql`exists (select 1 from pair_reviews r where r.pair_id = ${pair} and r.reviewer_key_id = ${keyId})`;

/** The open slots of a pair for `keyId`: what the policy asks, less the reviews done and the slots other keys hold. */
export const openSlots = (pair: ReturnType<typeof sql>, keyId: string, perPair: number) =>
  sql<number>`(${perPair}::int - ${reviewersOf(pair)} - ${heldByOthers(pair, keyId)})`;

/** The review policy in force for a run (its latest setting), or null when it has none. */
export async function reviewPolicyOf(db: Db, runId: string): Promise<number | null> {
  const row = await db.selectFrom('review_policies').select('per_pair').where('run_id', '=', runId).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row?.per_pair ?? null;
}

/** Stores a review policy setting inside the caller's transaction (the run's creation, or a change). */
export async function insertReviewPolicy(tx: Transaction<Database>, runId: string, perPair: number, setBy: string): Promise<void> {
  await tx.insertInto('review_policies').values({ run_id: runId, per_pair: perPair, set_by: setBy }).execute();
}

/**
 * Makes sure every pair of the run (but erased ones) has its queue row. Pairs are written as their
 * samples finish, in any order, so this looks for missing rows rather than past an index. Its own
 * short statement, outside the lease's transaction, so callers that race here wait only for it.
 */
export async function fillQueue(db: Db, of: { runId: string } | { pairId: string }): Promise<void> {
  await sql`
    insert into review_queue (pair_id, run_id, idx)
    select p.id, p.run_id, p.idx from pairs p
    where ${'runId' in of ? sql`p.run_id = ${of.runId}` : sql`p.id = ${of.pairId}`}
      and not exists (select 1 from review_queue q where q.pair_id = p.id)
      and not (p.record ? 'erased')
    order by p.idx
    on conflict do nothing`.execute(db);
}

/**
 * The review queue of a run (docs/ml-teams.md#review-by-several-reviewers): which pair a reviewer
 * takes next, the leases that keep two reviewers from both taking a pair's last open slot, and the
 * run's review policy. Concurrency (docs/concurrency.md): a caller takes a pair's queue row with
 * `FOR UPDATE SKIP LOCKED`, so reviewers asking at once each weigh a different pair and none queues
 * on another's lock holding a connection; a caller that finds only held rows answers BUSY and looks
 * again with no connection held (`untilNotBusy`), since the holder may leave a slot open.
 */
export class ReviewQueueRepository {
  constructor(private readonly db: Kysely<Database>) {}

  policy(runId: string): Promise<number | null> {
    return reviewPolicyOf(this.db, runId);
  }

  /** Sets the run's review policy and records a `run.review_policy_set` event with it, in one transaction. */
  async setPolicy(runId: string, perPair: number, actor: string): Promise<{ per_pair: number; previous: number | null }> {
    return this.db.transaction().execute(async (tx) => {
      // The run row first, as a review does: the event below re-seals a finished run.
      await tx.selectFrom('runs').select('id').where('id', '=', runId).forUpdate().execute();
      const previous = await reviewPolicyOf(tx, runId);
      await insertReviewPolicy(tx, runId, perPair, actor);
      await insertAuditEvents(tx, [
        { run_id: runId, sample_id: null, type: 'run.review_policy_set', actor, payload: { per_pair: perPair, previous_per_pair: previous } },
      ]);
      return { per_pair: perPair, previous };
    });
  }

  /**
   * The next pair `keyId` should review: the pair it already holds a live lease on (renewed), else
   * the first pair in sample order that it has not reviewed and that has an open slot, leased to it
   * for `leaseMs`. Null when there is none; BUSY when the only candidates are rows other callers
   * hold right now (ask again shortly).
   */
  async next(runId: string, keyId: string, leaseMs: number): Promise<QueuedPair | null | Busy> {
    await fillQueue(this.db, { runId });
    const leased = await this.db.transaction().execute(async (tx) => {
      const perPair = (await reviewPolicyOf(tx, runId)) ?? DEFAULT_REVIEWS_PER_PAIR;
      const lease = (pairId: string) =>
        sql<{ expires_at: Date }>`
          insert into review_leases (pair_id, key_id, run_id, expires_at)
          values (${pairId}, ${keyId}, ${runId}, clock_timestamp() + ${leaseMs} * interval '1 millisecond')
          on conflict (pair_id, key_id) do update set expires_at = excluded.expires_at, taken_at = clock_timestamp()
          returning expires_at`
          .execute(tx)
          .then((r) => ({ pairId, perPair, expires_at: r.rows[0].expires_at }));

      // A pair already leased to this key and not yet reviewed: the same pair again (a reload, a second tab).
      const held = await sql<{ pair_id: string }>`
        select l.pair_id from review_leases l
        where l.run_id = ${runId} and l.key_id = ${keyId} and l.expires_at > clock_timestamp() and not ${reviewedBy(sql`l.pair_id`, keyId)}
        order by l.taken_at limit 1`.execute(tx);
      if (held.rows[0]) return lease(held.rows[0].pair_id);

      const tried: string[] = [];
      for (let i = 0; i < MAX_TRIES; i++) {
        const candidates = sql`
          from review_queue q
          where q.run_id = ${runId} and not (q.pair_id = any(${tried}::uuid[]))
            and not ${reviewedBy(sql`q.pair_id`, keyId)}
            and ${openSlots(sql`q.pair_id`, keyId, perPair)} > 0`;
        const row = (await sql<{ pair_id: string }>`select q.pair_id ${candidates} order by q.idx limit 1 for update of q skip locked`.execute(tx)).rows[0];
        if (!row) {
          // Nothing free: either nothing is left, or every candidate's row is held by another caller.
          const any = await sql`select 1 ${candidates} limit 1`.execute(tx);
          return any.rows.length > 0 ? BUSY : null;
        }
        // Weighed again now that the row is ours: a caller that held it before may have leased its last slot.
        const open = await sql<{ open: number }>`select ${openSlots(sql`${row.pair_id}::uuid`, keyId, perPair)} as open`.execute(tx);
        if (Number(open.rows[0].open) > 0) return lease(row.pair_id);
        tried.push(row.pair_id);
      }
      return BUSY;
    });
    if (leased === null || leased === BUSY) return leased;
    const pair = await this.db
      .selectFrom('pairs')
      .select([
        'record',
        sql<string>`(select count(distinct coalesce(r.reviewer_key_id::text, r.reviewer)) from pair_reviews r where r.pair_id = pairs.id)`.as('reviews'),
      ])
      .where('id', '=', leased.pairId)
      .executeTakeFirstOrThrow();
    return { pair: pair.record, expires_at: new Date(leased.expires_at), reviews: Number(pair.reviews), per_pair: leased.perPair };
  }

  /** How far a run's reviews are, pair by pair and reviewer by reviewer. */
  async progress(runId: string): Promise<QueueProgress> {
    const set = await reviewPolicyOf(this.db, runId);
    const perPair = set ?? DEFAULT_REVIEWS_PER_PAIR;
    const pairs = await sql<{ pairs: string; complete: string; partial: string; unreviewed: string; done: string; needed: string }>`
      with per_pair as (
        select p.id, ${reviewersOf(sql`p.id`)} as n from pairs p where p.run_id = ${runId} and not (p.record ? 'erased')
      )
      select count(*) as pairs,
        count(*) filter (where n >= ${perPair}) as complete,
        count(*) filter (where n > 0 and n < ${perPair}) as partial,
        count(*) filter (where n = 0) as unreviewed,
        coalesce(sum(n), 0) as done,
        coalesce(sum(greatest(${perPair} - n, 0)), 0) as needed
      from per_pair`.execute(this.db);
    const reviewers = await sql<{ reviewer: string; reviewer_key_id: string | null; reviewed: string; leased: string }>`
      with reviewed as (
        select coalesce(r.reviewer_key_id::text, r.reviewer) as who, max(r.reviewer) as reviewer, r.reviewer_key_id, count(distinct r.pair_id) as n
        from pair_reviews r where r.run_id = ${runId} group by 1, r.reviewer_key_id
      ), leased as (
        select l.key_id::text as who, count(*) as n from review_leases l
        where l.run_id = ${runId} and l.expires_at > clock_timestamp()
          and not exists (select 1 from pair_reviews r where r.pair_id = l.pair_id and r.reviewer_key_id = l.key_id)
        group by 1
      )
      select coalesce(rv.reviewer, 'key:' || ls.who) as reviewer, coalesce(rv.reviewer_key_id::text, case when rv.who is null then ls.who end) as reviewer_key_id,
        coalesce(rv.n, 0) as reviewed, coalesce(ls.n, 0) as leased
      from reviewed rv full join leased ls on ls.who = rv.who
      order by 3 desc, 1`.execute(this.db);
    const p = pairs.rows[0];
    return {
      per_pair: perPair,
      policy_set: set !== null,
      pairs: Number(p.pairs),
      complete: Number(p.complete),
      partial: Number(p.partial),
      unreviewed: Number(p.unreviewed),
      reviews_done: Number(p.done),
      reviews_needed: Number(p.needed),
      leased: reviewers.rows.reduce((n, r) => n + Number(r.leased), 0),
      reviewers: reviewers.rows.map((r) => ({
        reviewer: r.reviewer,
        reviewer_key_id: r.reviewer_key_id,
        reviewed: Number(r.reviewed),
        leased: Number(r.leased),
      })),
    };
  }

  /**
   * Each key's latest decision on each reviewed pair of the run (what agreement is computed over),
   * in sample order, then in the order the keys first reviewed the pair.
   */
  async decisions(runId: string): Promise<ReviewerDecisionRow[]> {
    const rows = await sql<ReviewerDecisionRow & { first_seq: string }>`
      select d.*, (p.record #>> '{metadata,judgement,p_chosen}')::float8 as p_chosen, p.idx
      from (
        select distinct on (r.pair_id, coalesce(r.reviewer_key_id::text, r.reviewer))
          r.pair_id, r.reviewer, r.reviewer_key_id::text as reviewer_key_id, r.decision, r.reason, r.id as review_id, r.seq,
          min(r.seq) over (partition by r.pair_id, coalesce(r.reviewer_key_id::text, r.reviewer)) as first_seq
        from pair_reviews r where r.run_id = ${runId}
        order by r.pair_id, coalesce(r.reviewer_key_id::text, r.reviewer), r.seq desc
      ) d join pairs p on p.id = d.pair_id
      order by p.idx, d.first_seq`.execute(this.db);
    return rows.rows.map(({ first_seq: _, ...r }) => ({ ...r, p_chosen: r.p_chosen === null ? null : Number(r.p_chosen) }));
  }
}
