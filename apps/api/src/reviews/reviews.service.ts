import { Inject, Injectable } from '@nestjs/common';
import {
  requestLimits,
  reviewLimitIssues,
  type Config,
  type ExportReview,
  type PairRecord,
  type PairReviewDetail,
  type ReviewList,
  type ReviewRequest,
} from '@amend/contracts';
import { CONFIG } from '@amend/runtime';
import { Store, reviewSha256, type ReviewFilter } from '@amend/store';
import { RunsService } from '../runs/runs.service';
import { ApiError, notFound } from '../errors/api-error';
import { throwIfOverLimits } from '../common/request-limits';
import { applyReview, decideReview, exportReview } from './review-decision';

/** Pairs looked up per query while exporting: bounds memory like the pairs stream's own pages. */
const EXPORT_BATCH = 500;

@Injectable()
export class ReviewsService {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** A run's pairs with their latest review, in sample order (the review queue). */
  async list(runId: string, query: { status?: ReviewFilter; limit: number; cursor?: number }, team: string | undefined): Promise<ReviewList> {
    await this.runs.get(runId, team);
    const [page, counts] = await Promise.all([this.store.reviews.page(runId, query), this.store.reviews.counts(runId)]);
    return { ...page, counts };
  }

  /** `team`: the caller's team, or undefined for one who reads every team (auditors). */
  async detail(pairId: string, team: string | undefined): Promise<PairReviewDetail> {
    const detail = await this.store.reviews.detail(pairId);
    if (!detail) throw notFound('pair', pairId);
    await this.checkRun(detail.run_id, pairId, team);
    return { pair: detail.pair, review: detail.review, history: detail.history };
  }

  /** Records a review and its audit event (`pair.reviewed`) together; answers the pair as it is now. */
  /** The reviewer is the caller's key (its name, or `key:<id>`), never a name in the body; the body's free text is the note. */
  async review(
    pairId: string,
    body: ReviewRequest,
    caller: { actor: string; key_id: string; name?: string | null; team: string | undefined },
  ): Promise<PairReviewDetail> {
    const { actor, team } = caller;
    throwIfOverLimits(reviewLimitIssues(body, requestLimits(this.config)));
    const runId = await this.store.reviews.runOf(pairId);
    if (!runId) throw notFound('pair', pairId);
    await this.checkRun(runId, pairId, team);
    await this.store.reviews.record(
      pairId,
      {
        decision: body.decision,
        reviewer: caller.name ?? actor,
        reviewerKeyId: caller.key_id,
        note: body.note ?? body.reviewer ?? null,
        actor,
        reason: body.reason,
        baseReviewId: body.base_review_id,
      },
      (current) => decideReview(body.decision, current, { chosen: body.chosen, rejected: body.rejected }),
      (review, before) => ({
        type: 'pair.reviewed',
        actor,
        payload: {
          pair_id: pairId,
          review_id: review.id,
          decision: review.decision,
          status: review.status,
          reviewer: review.reviewer,
          reviewer_key_id: review.reviewer_key_id,
          reason: review.reason,
          note: review.note ?? null,
          // The review row as stored (texts included): the verifier compares every review row with it.
          review_sha256: reviewSha256(review),
          // An edit's texts are the reviewer's own words: keep both sides so the trail shows what changed.
          ...(review.decision === 'edit'
            ? {
                edited: {
                  ...(review.chosen !== before.chosen ? { chosen: { from: before.chosen, to: review.chosen } } : {}),
                  ...(review.rejected !== before.rejected ? { rejected: { from: before.rejected, to: review.rejected } } : {}),
                },
              }
            : {}),
        },
      }),
    );
    return this.detail(pairId, team);
  }

  /**
   * The pairs of an export with their reviews applied (swaps and edits) and the review fields
   * added; with `onlyAccepted`, the pairs a reviewer accepted, swapped or edited, and no others.
   * A run nobody reviewed streams as it is, without a lookup per page.
   */
  async *reviewed(
    runId: string,
    source: AsyncIterable<PairRecord>,
    opts: { onlyAccepted: boolean },
  ): AsyncGenerator<{ pair: PairRecord; review?: ExportReview }> {
    if (!(await this.store.reviews.anyForRun(runId))) {
      if (opts.onlyAccepted) return;
      for await (const pair of source) yield { pair };
      return;
    }
    let batch: PairRecord[] = [];
    const flush = async function* (this: ReviewsService) {
      const latest = await this.store.reviews.latestFor(batch.map((p) => p.id));
      for (const pair of batch) {
        const review = latest.get(pair.id);
        if (opts.onlyAccepted && review?.status !== 'accepted') continue;
        yield review ? { pair: applyReview(pair, review), review: exportReview(review) } : { pair };
      }
      batch = [];
    }.bind(this);
    for await (const pair of source) {
      batch.push(pair);
      if (batch.length >= EXPORT_BATCH) yield* flush();
    }
    if (batch.length > 0) yield* flush();
  }

  /** Another team's pair is a 404 naming the pair, as if it did not exist (ids must not leak). */
  private async checkRun(runId: string, pairId: string, team: string | undefined): Promise<void> {
    try {
      await this.runs.get(runId, team);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) throw notFound('pair', pairId);
      throw e;
    }
  }
}
