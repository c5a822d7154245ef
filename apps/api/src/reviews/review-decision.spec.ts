import type { PairRecord, PairReview } from '@amend/contracts';
import { ApiError } from '../errors/api-error';
import { applyReview, decideReview, exportReview } from './review-decision';

const texts = { chosen: 'the revision', rejected: 'the draft' };

describe('a review decision', () => {
  it('accept and reject keep the texts and set the status', () => {
    expect(decideReview('accept', texts)).toEqual({ ...texts, status: 'accepted' });
    expect(decideReview('reject', texts)).toEqual({ ...texts, status: 'rejected' });
  });

  it('swap exchanges chosen and rejected and keeps the pair', () => {
    expect(decideReview('swap', texts)).toEqual({ chosen: 'the draft', rejected: 'the revision', status: 'accepted' });
    const back = decideReview('swap', decideReview('swap', texts));
    expect({ chosen: back.chosen, rejected: back.rejected }).toEqual(texts);
  });

  it('edit replaces only the texts given', () => {
    expect(decideReview('edit', texts, { chosen: 'a better answer' })).toEqual({ chosen: 'a better answer', rejected: 'the draft', status: 'accepted' });
    expect(decideReview('edit', texts, { rejected: 'a worse answer' })).toEqual({ chosen: 'the revision', rejected: 'a worse answer', status: 'accepted' });
  });

  it('an edit that makes chosen equal to rejected is refused with a 422', () => {
    let err: unknown;
    try {
      decideReview('edit', texts, { chosen: 'the draft' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(422);
  });
});

describe('a reviewed pair in the export', () => {
  const pair = { id: 'p', chosen: 'the revision', rejected: 'the draft' } as PairRecord;
  const review: PairReview = {
    id: '11111111-1111-4111-8111-111111111111',
    pair_id: 'p',
    run_id: 'r',
    sample_id: 's',
    decision: 'swap',
    status: 'accepted',
    reviewer: 'ana',
    actor: 'anonymous',
    reason: 'the draft answers the question',
    chosen: 'the draft',
    rejected: 'the revision',
    created_at: '2026-01-01T00:00:00.000Z',
  };

  it('carries the texts of its latest review, and the worker texts when unreviewed', () => {
    expect(applyReview(pair, review)).toMatchObject({ chosen: 'the draft', rejected: 'the revision' });
    expect(applyReview(pair, null)).toBe(pair);
  });

  it("swaps the judge's scores with a swap, and drops them for texts a reviewer wrote", () => {
    const scored = { ...pair, chosen: 'the revision', rejected: 'the draft', metadata: { score_chosen: 0.7, score_rejected: 0.3 } } as unknown as Parameters<
      typeof applyReview
    >[0];
    expect(applyReview(scored, review).metadata).toMatchObject({ score_chosen: 0.3, score_rejected: 0.7 });
    const edited = applyReview(scored, { ...review, decision: 'edit', chosen: 'my own words', rejected: 'the draft' }).metadata;
    expect(edited).not.toHaveProperty('score_chosen');
  });

  it('names the decision, reviewer, reason and time', () => {
    expect(exportReview(review)).toEqual({
      status: 'accepted',
      decision: 'swap',
      reviewer: 'ana',
      reviewer_key_id: null,
      reason: 'the draft answers the question',
      reviewed_at: '2026-01-01T00:00:00.000Z',
      review_id: review.id,
    });
  });
});
