import { Inject, Injectable } from '@nestjs/common';
import { REVIEW_DECISIONS, type Agreement, type Config, type QueuedPair, type ReviewDecision, type ReviewProgress } from '@amend/contracts';
import { agreementFigures, type Coding } from '@amend/pipeline';
import { CONFIG } from '@amend/runtime';
import { Store, untilNotBusy, type ReviewerDecisionRow } from '@amend/store';
import { RunsService } from '../runs/runs.service';

/** Which response a decision prefers: accept and edit keep chosen, swap prefers rejected, reject prefers neither. */
const PREFERS: Record<ReviewDecision, 'chosen' | 'rejected' | null> = { accept: 'chosen', edit: 'chosen', swap: 'rejected', reject: null };

/** A reviewer's identity across its reviews: its key, or its name for reviews stored before keys were named. */
const coderOf = (d: Pick<ReviewerDecisionRow, 'reviewer' | 'reviewer_key_id'>) => d.reviewer_key_id ?? `name:${d.reviewer}`;

/**
 * Review by several reviewers (docs/ml-teams.md#review-by-several-reviewers): a run's review
 * policy, its queue and the agreement between its reviewers.
 */
@Injectable()
export class ReviewQueueService {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** The next pair for the caller's key, leased to it; null when none is left for it. */
  async next(runId: string, caller: { key_id: string; team: string | undefined }): Promise<QueuedPair | null> {
    await this.runs.get(runId, caller.team);
    const leaseMs = this.config.AMEND_REVIEW_LEASE_MS;
    const next = await untilNotBusy(`the review queue of run ${runId}`, () => this.store.reviewQueue.next(runId, caller.key_id, leaseMs), 10_000);
    if (!next) return null;
    return { pair: next.pair, lease: { expires_at: next.expires_at.toISOString(), lease_ms: leaseMs }, reviews: next.reviews, per_pair: next.per_pair };
  }

  async progress(runId: string, team: string | undefined): Promise<ReviewProgress> {
    await this.runs.get(runId, team);
    return { run_id: runId, ...(await this.store.reviewQueue.progress(runId)) };
  }

  /** Sets the run's review policy (the run's own team only), audited as `run.review_policy_set`. */
  async setPolicy(runId: string, perPair: number, caller: { actor: string; team: string }) {
    await this.runs.get(runId, caller.team);
    const set = await this.store.reviewQueue.setPolicy(runId, perPair, caller.actor);
    return { run_id: runId, per_pair: set.per_pair, previous_per_pair: set.previous };
  }

  async agreement(runId: string, team: string | undefined): Promise<Agreement> {
    const run = await this.runs.get(runId, team);
    const judged = run.mode === 'ai-feedback' || run.verify === true;
    const decisions = await this.store.reviewQueue.decisions(runId);
    const codings: Coding[] = decisions.map((d) => ({ unit: d.pair_id, coder: coderOf(d), value: d.decision }));
    const figures = agreementFigures(codings);
    const reviewers = new Map<string, { reviewer: string; reviewer_key_id: string | null; reviews: number; compared: number; agreed: number }>();
    const byPair = new Map<string, ReviewerDecisionRow[]>();
    for (const d of decisions) {
      const r = reviewers.get(coderOf(d)) ?? { reviewer: d.reviewer, reviewer_key_id: d.reviewer_key_id, reviews: 0, compared: 0, agreed: 0 };
      r.reviews++;
      const judge = d.p_chosen === null || d.p_chosen === 0.5 ? null : d.p_chosen > 0.5 ? 'chosen' : 'rejected';
      if (judged && judge !== null && PREFERS[d.decision] !== null) {
        r.compared++;
        if (PREFERS[d.decision] === judge) r.agreed++;
      }
      reviewers.set(coderOf(d), r);
      byPair.set(d.pair_id, [...(byPair.get(d.pair_id) ?? []), d]);
    }
    const pairs = [...byPair].map(([pairId, ds]) => {
      const m = figures.units.get(pairId)!;
      return {
        pair_id: pairId,
        sample_index: ds[0].idx,
        reviews: m.reviews,
        decision: m.decision as ReviewDecision | null,
        agreement: m.agreement,
        tie: m.tie,
        counts: m.counts as Partial<Record<ReviewDecision, number>>,
      };
    });
    const name = (coder: string) => reviewers.get(coder)!;
    return {
      run_id: runId,
      per_pair: run.review?.per_pair ?? 1,
      categories: [...REVIEW_DECISIONS],
      reviewed_pairs: pairs.length,
      pairable_pairs: pairs.filter((p) => p.reviews >= 2).length,
      reviews: decisions.length,
      krippendorff_alpha: figures.krippendorff_alpha,
      raw_agreement: figures.raw_agreement,
      cohen_kappa: figures.cohen_kappa.map((k) => ({
        a: name(k.a).reviewer,
        a_key_id: name(k.a).reviewer_key_id,
        b: name(k.b).reviewer,
        b_key_id: name(k.b).reviewer_key_id,
        pairs: k.units,
        agreement: k.agreement,
        kappa: k.kappa,
      })),
      reviewers: [...reviewers.values()].map((r) => ({
        reviewer: r.reviewer,
        reviewer_key_id: r.reviewer_key_id,
        reviews: r.reviews,
        judge: judged ? { compared: r.compared, agreed: r.agreed, agreement: r.compared ? r.agreed / r.compared : null } : null,
      })),
      judged,
      pairs,
      disagreements: pairs
        .filter((p) => Object.keys(p.counts).length > 1)
        .map((p) => ({
          pair_id: p.pair_id,
          sample_index: p.sample_index,
          decision: p.decision,
          tie: p.tie,
          reviews: byPair
            .get(p.pair_id)!
            .map((d) => ({ reviewer: d.reviewer, reviewer_key_id: d.reviewer_key_id, decision: d.decision, reason: d.reason, review_id: d.review_id })),
        })),
    };
  }
}
