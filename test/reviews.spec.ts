import { ConversationalPairLineSchema, ErrorBodySchema, PairReviewDetailSchema, ReviewListSchema, RunSchema, StandardPairLineSchema } from '@amend/contracts';
import { Store } from '@amend/store';
import { json, ndjson, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

const env = testEnv('reviews');
let stack: Stack;
let runId: string;

const get = (path: string) => stack.fetch(path);
const post = (path: string, body: unknown) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** How events and reviews name the submitter key the stack sends. */
let submitter: string;

async function reviewList(query = '') {
  return ReviewListSchema.parse(await json(await get(`/v1/runs/${runId}/reviews${query}`)));
}

stackForFile(env, {}, (s) => (stack = s));
beforeAll(async () => {
  submitter = `key:${(await json(await get('/v1/keys/me'))).id}`;
  const prompts = Array.from({ length: 6 }, (_, i) => `Question ${i}: how should I water a cactus in winter?`);
  const res = await post('/v1/runs', { constitution: 'anthropic-cai', prompts, seed: 3 });
  runId = RunSchema.parse(await json(res)).id;
  await waitFor(async () => RunSchema.parse(await json(await get(`/v1/runs/${runId}`))).status === 'completed', { what: 'the run to complete' });
});

describe('human review of pairs', () => {
  it('lists a run’s pairs in sample order, all unreviewed at first, page by page', async () => {
    const first = await reviewList('?limit=4');
    expect(first.counts).toEqual({ pairs: 6, unreviewed: 6, accepted: 0, rejected: 0 });
    expect(first.items.map((i) => i.pair.metadata.sample_index)).toEqual([0, 1, 2, 3]);
    expect(first.items.every((i) => i.review === null)).toBe(true);
    const second = await reviewList(`?limit=4&cursor=${first.next_cursor}`);
    expect(second.items.map((i) => i.pair.metadata.sample_index)).toEqual([4, 5]);
    expect(second.next_cursor).toBeNull();
  });

  it('accepts, rejects, swaps and edits with a reason, the reviewer being the key (a name in the body is only a note), each audited as pair.reviewed', async () => {
    const [a, b, c, d] = (await reviewList()).items.map((i) => i.pair);
    const keyId = submitter.slice('key:'.length);
    const accept = await post(`/v1/pairs/${a.id}/review`, {
      decision: 'accept',
      reason: 'the revision is better',
      note: 'alice (team lead)',
      base_review_id: null,
    });
    expect(accept.status).toBe(201);
    const accepted = PairReviewDetailSchema.parse(await json(accept));
    expect(accepted.review).toMatchObject({
      decision: 'accept',
      status: 'accepted',
      reviewer: submitter,
      reviewer_key_id: keyId,
      note: 'alice (team lead)',
      reason: 'the revision is better',
      chosen: a.chosen,
    });

    // The old `reviewer` field no longer names the reviewer: it is kept as the note.
    const claimed = await post(`/v1/pairs/${b.id}/review`, { decision: 'reject', reason: 'both answers are off topic', reviewer: 'alice (team lead)' });
    expect(claimed.status).toBe(201);
    expect(PairReviewDetailSchema.parse(await json(claimed)).review).toMatchObject({ reviewer: submitter, reviewer_key_id: keyId, note: 'alice (team lead)' });
    const swapped = PairReviewDetailSchema.parse(await json(await post(`/v1/pairs/${c.id}/review`, { decision: 'swap', reason: 'the draft was better' })));
    expect(swapped.review).toMatchObject({ chosen: c.rejected, rejected: c.chosen, status: 'accepted', reviewer: submitter });
    const edited = PairReviewDetailSchema.parse(
      await json(await post(`/v1/pairs/${d.id}/review`, { decision: 'edit', reason: 'tightened the wording', chosen: 'Water it once a month in winter.' })),
    );
    expect(edited.review).toMatchObject({ chosen: 'Water it once a month in winter.', rejected: d.rejected, status: 'accepted' });

    const store = stack.api.get(Store);
    const events = await store.audit.listForSample(d.sample_id);
    const reviewed = events.filter((e) => e.type === 'pair.reviewed');
    expect(reviewed).toHaveLength(1);
    expect(reviewed[0].payload).toMatchObject({
      pair_id: d.id,
      decision: 'edit',
      reason: 'tightened the wording',
      edited: { chosen: { from: d.chosen, to: 'Water it once a month in winter.' } },
    });

    expect((await reviewList()).counts).toEqual({ pairs: 6, unreviewed: 2, accepted: 3, rejected: 1 });
    expect((await reviewList('?status=rejected')).items.map((i) => i.pair.id)).toEqual([b.id]);
  });

  it('refuses a review based on a stale view of the pair with 409, and keeps the history', async () => {
    const { items } = await reviewList('?limit=1');
    const pairId = items[0].pair.id;
    const stale = await post(`/v1/pairs/${pairId}/review`, { decision: 'reject', reason: 'changed my mind', base_review_id: null });
    expect(stale.status).toBe(409);
    expect(ErrorBodySchema.parse(await json(stale)).error.message).toContain(`reviewed meanwhile (accept by ${submitter})`);
    const fresh = await post(`/v1/pairs/${pairId}/review`, { decision: 'reject', reason: 'changed my mind', base_review_id: items[0].review!.id });
    expect(fresh.status).toBe(201);
    const detail = PairReviewDetailSchema.parse(await json(await get(`/v1/pairs/${pairId}/review`)));
    expect(detail.history.map((r) => r.decision)).toEqual(['accept', 'reject']);
    expect(detail.review?.status).toBe('rejected');
    // Back to accepted for the export test below.
    await post(`/v1/pairs/${pairId}/review`, { decision: 'accept', reason: 'on reflection it is fine' });
  });

  it('refuses reviews without a reason, edits without text, and texts outside an edit, with 422', async () => {
    const pairId = (await reviewList('?limit=1')).items[0].pair.id;
    for (const body of [
      { decision: 'accept' },
      { decision: 'accept', reason: '  ' },
      { decision: 'edit', reason: 'x' },
      { decision: 'swap', reason: 'x', chosen: 'y' },
      { decision: 'approve', reason: 'x' },
    ]) {
      const res = await post(`/v1/pairs/${pairId}/review`, body);
      expect(res.status).toBe(422);
      ErrorBodySchema.parse(await json(res));
    }
    expect((await get(`/v1/pairs/00000000-0000-4000-8000-000000000000/review`)).status).toBe(404);
  });

  it('exports only accepted pairs with reviewed=accepted, with swaps and edits applied and the review fields', async () => {
    const lines = ndjson(await (await get(`/v1/runs/${runId}/pairs?format=standard&reviewed=accepted`)).text());
    expect(lines).toHaveLength(3);
    for (const l of lines) StandardPairLineSchema.parse(l);
    expect(lines.map((l) => l.review.decision).sort()).toEqual(['accept', 'edit', 'swap']);
    const edit = lines.find((l) => l.review.decision === 'edit');
    // standard strings continue the HH prompt, so they start with a space.
    expect(edit.chosen).toBe(' Water it once a month in winter.');
    expect(edit.review).toMatchObject({ status: 'accepted', reviewer: submitter, reason: 'tightened the wording' });
    const swap = lines.find((l) => l.review.decision === 'swap');
    const detail = PairReviewDetailSchema.parse(await json(await get(`/v1/pairs/${swap.id}/review`)));
    expect(swap.chosen).toBe(` ${detail.pair.rejected}`);

    const all = ndjson(await (await get(`/v1/runs/${runId}/pairs`)).text());
    expect(all).toHaveLength(6);
    for (const l of all) ConversationalPairLineSchema.parse(l);
    expect(all.filter((l) => l.review).length).toBe(4);
    expect(all.find((l) => l.review?.status === 'rejected')).toBeDefined();
  });

  it('refuses an unknown reviewed filter with 422', async () => {
    expect((await get(`/v1/runs/${runId}/pairs?reviewed=all`)).status).toBe(422);
  });
});
