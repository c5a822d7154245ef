import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { DEFAULT_EXCLUDE, type ConsensusReview, type ExportReview, type PairFlag, type PairRecord, type PairsQuery, type SftQuery } from '@amend/contracts';
import { formatPair, toSft } from '@amend/pipeline';
import { Store, type LineFormat } from '@amend/store';
import { RunsService } from '../runs/runs.service';
import { ReviewsService } from '../reviews/reviews.service';
import { teamScope, type Principal } from '../auth/principal';
import { applyConsensus, consensusOf, type ConsensusPlan } from './consensus';

/**
 * An export's lines, one of two ways: JSON Lines Postgres builds itself (`COPY ... TO STDOUT`,
 * null when nothing can match), or objects built here, one per pair, for the controller to write.
 */
export type ExportLines = ({ kind: 'copy'; lines: Readable | null } | { kind: 'objects'; lines: AsyncIterable<object> }) & {
  /** Pairs left out, by why (EXCLUDED_REASONS, and a consensus export's own reasons), each counted once: the `Amend-Excluded` header. */
  excluded: Record<string, number>;
};

/** The pairs and SFT exports of a run, within the caller's team like the run itself. */
@Injectable()
export class PairsService {
  constructor(
    private readonly store: Store,
    private readonly runs: RunsService,
    private readonly reviews: ReviewsService,
  ) {}

  async pairs(runId: string, query: PairsQuery, caller: Principal): Promise<ExportLines> {
    return this.export(runId, query, caller, query.format, DEFAULT_EXCLUDE.pairs, (pairs) => project(pairs, (pair) => formatPair(pair, query.format)));
  }

  /** A pair a reviewer rejected is no SFT target, so it is left out too. */
  async sft(runId: string, query: SftQuery, caller: Principal): Promise<ExportLines> {
    return this.export(runId, query, caller, 'sft', DEFAULT_EXCLUDE.sft, (pairs) => project(withoutRejected(pairs), toSft));
  }

  /**
   * A run nobody reviewed (the common case) streams lines Postgres builds, at disk speed. Otherwise
   * reviews apply to every export (swaps, edits, review fields) and `lines` makes the export's
   * lines from the reviewed pairs. Either way `exclude=noop,rejected_by_judge,...` leaves flagged
   * pairs out in SQL, before reviews apply (without it, `defaults`: DEFAULT_EXCLUDE), and
   * `reviewed=accepted` keeps only accepted pairs. What is left out is counted first, by the same
   * rules (pair-lines.ts), for `Amend-Excluded`.
   */
  private async export(
    runId: string,
    query: Pick<SftQuery, 'exclude' | 'reviewed' | 'consensus' | 'min_agreement'>,
    caller: Principal,
    format: LineFormat,
    defaults: readonly PairFlag[],
    lines: (pairs: AsyncIterable<ReviewedPair>) => AsyncIterable<object>,
  ): Promise<ExportLines> {
    const run = await this.runs.get(runId, teamScope(caller));
    const exclude = query.exclude ?? defaults;
    if (query.consensus === 'majority') return this.consensus(runId, run.review?.per_pair ?? 1, exclude, query.min_agreement, lines);
    const onlyAccepted = query.reviewed === 'accepted';
    const excluded = await this.store.pairs.excluded(runId, { exclude, onlyAccepted, withoutRejected: format === 'sft' });
    if (await this.copyable(runId)) return { ...(await this.copied(runId, format, exclude, onlyAccepted)), excluded };
    return { kind: 'objects', lines: lines(this.reviews.reviewed(runId, this.store.pairs.stream(runId, undefined, { exclude }), { onlyAccepted })), excluded };
  }

  /**
   * A consensus export (docs/ml-teams.md#consensus-export): every pair's plan is made before the
   * first line, from each key's latest decision (one row per key and pair, held for the run), so
   * the `Amend-Excluded` header can count the ties, rejected, unreviewed and low-agreement pairs
   * left out; then the pairs stream page by page with the plan applied.
   */
  private async consensus(
    runId: string,
    perPair: number,
    exclude: readonly PairFlag[],
    minAgreement: number | undefined,
    lines: (pairs: AsyncIterable<ReviewedPair>) => AsyncIterable<object>,
  ): Promise<ExportLines> {
    const [excluded, ids, decisions] = await Promise.all([
      this.store.pairs.excluded(runId, { exclude }),
      this.store.pairs.exportableIds(runId, exclude),
      this.store.reviewQueue.decisions(runId),
    ]);
    const byPair = new Map<string, typeof decisions>();
    for (const d of decisions) byPair.set(d.pair_id, [...(byPair.get(d.pair_id) ?? []), d]);
    const plans = new Map<string, ConsensusPlan>();
    const left = { tie: 0, rejected: 0, unreviewed: 0, low_agreement: 0 };
    for (const id of ids) {
      const plan = consensusOf(byPair.get(id) ?? [], perPair, minAgreement);
      plans.set(id, plan);
      if (!plan.keep) left[plan.why]++;
    }
    const edits = await this.store.reviews.byIds([...plans.values()].flatMap((p) => (p.keep && p.editReviewId ? [p.editReviewId] : [])));
    const source = this.store.pairs.stream(runId, undefined, { exclude });
    async function* agreed(): AsyncGenerator<ReviewedPair> {
      for await (const pair of source) {
        const plan = plans.get(pair.id);
        // A pair written after the plans were made (a run still going) has no reviews yet.
        if (!plan?.keep) continue;
        yield { pair: applyConsensus(pair, plan, plan.editReviewId ? edits.get(plan.editReviewId) : undefined), review: plan.review };
      }
    }
    return { kind: 'objects', lines: lines(agreed()), excluded: { ...excluded, ...left } };
  }

  /** Reviews change lines (swaps, edits, review fields): only a run without any is exported by COPY. */
  private async copyable(runId: string): Promise<boolean> {
    return this.store.pairs.canCopy && !(await this.store.reviews.anyForRun(runId));
  }

  /** `none`: only accepted pairs were asked for and nobody reviewed any, so the export is empty. */
  private async copied(runId: string, format: LineFormat, exclude: readonly PairFlag[], none: boolean): Promise<{ kind: 'copy'; lines: Readable | null }> {
    return { kind: 'copy', lines: none ? null : await this.store.pairs.copyLines(runId, format, { exclude }) };
  }
}

/** A stored pair with the review (or the consensus) that shaped it, if any. */
type ReviewedPair = { pair: PairRecord; review?: ExportReview | ConsensusReview };

/** Each pair as its line, with the review that shaped it. */
async function* project(source: AsyncIterable<ReviewedPair>, line: (pair: PairRecord) => object): AsyncGenerator<object> {
  for await (const { pair, review } of source) yield { ...line(pair), ...(review ? { review } : {}) };
}

async function* withoutRejected<T extends { review?: { status: string } }>(source: AsyncIterable<T>): AsyncGenerator<T> {
  for await (const item of source) if (item.review?.status !== 'rejected') yield item;
}
