import {
  AgreementSchema,
  ConversationalPairLineSchema,
  ErrorBodySchema,
  PairReviewDetailSchema,
  ReviewListSchema,
  RunSchema,
  SftLineSchema,
  type PairRecord,
} from '@amend/contracts';
import { json, ndjson, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { amendCli } from './support/capture';

/**
 * Agreement figures and the consensus export of a run reviewed by three keys, against a table
 * worked by hand (docs/ml-teams.md#agreement, #consensus-export).
 *
 *        R1      R2      R3
 *   P0   accept  accept  accept
 *   P1   accept  accept  reject     (R1 first rejected it, then accepted: its latest counts)
 *   P2   swap    accept  swap
 *   P3   reject  reject  -
 *   P4   accept  reject  -          (a tie)
 *   P5   edit    edit    accept     (R2's edit is the later one)
 *   P6   -       -       -          (nobody reviewed it)
 *
 * Coincidences (ordered pairs of values within a pair, weighted 1/(m - 1)): o_aa 4, o_ar = o_ra 2,
 * o_as = o_sa 1, o_ss 1, o_rr 2, o_ee 1, o_ae = o_ea 1; n_a 8, n_r 4, n_s 2, n_e 2, n 16.
 * alpha = 1 - (n - 1) * 8 / (16^2 - (64 + 16 + 4 + 4)) = 1 - 15 * 8 / 168 = 2/7.
 * Raw agreement: 14 pairs of reviewers within a pair, 7 agreeing: 1/2.
 * Kappa R1-R2 (P0..P5): p_o 4/6, p_e 9/36 + 2/36 + 1/36 = 1/3: 1/2.
 * Kappa R1-R3 (P0, P1, P2, P5): p_o 2/4, p_e 4/16 + 1/16 = 5/16: (8 - 5) / (16 - 5) = 3/11.
 * Kappa R2-R3 (P0, P1, P2, P5): p_o 1/4, p_e (3/4)(2/4) = 6/16: (4 - 6) / (16 - 6) = -1/5.
 */
const TABLE: Record<string, (string | null)[]> = {
  R1: ['accept', 'accept', 'swap', 'reject', 'accept', 'edit', null],
  R2: ['accept', 'accept', 'accept', 'reject', 'reject', 'edit', null],
  R3: ['accept', 'reject', 'swap', null, null, 'accept', null],
};

const env = testEnv('review-agreement', { AMEND_KEY_REQUESTS_PER_MINUTE: '100000' });
let stack: Stack;
let runId: string;
let pairs: PairRecord[];
const keys: Record<string, string> = {};
const keyIds: Record<string, string> = {};
const edits = { R1: 'Keep the fern in bright shade and water it when the top soil is dry.', R2: 'Bright indirect light, damp soil, humid air.' };

const post = (path: string, body: unknown, key?: string) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, key);

async function review(who: string, pair: PairRecord, decision: string) {
  const body = { decision, reason: `${who} says ${decision}`, ...(decision === 'edit' ? { chosen: edits[who as 'R1' | 'R2'] } : {}) };
  const res = await post(`/v1/pairs/${pair.id}/review`, body, keys[who]);
  expect([who, pair.metadata.sample_index, res.status]).toEqual([who, pair.metadata.sample_index, 201]);
  return PairReviewDetailSchema.parse(await json(res));
}

stackForFile(env, {}, (s) => (stack = s));
beforeAll(async () => {
  const res = await post('/v1/runs', {
    constitution: 'amend-core',
    prompts: Array.from({ length: 7 }, (_, i) => `Question ${i}: how do I keep a fern alive indoors?`),
    seed: 5,
    verify: true,
    review: { per_pair: 3 },
  });
  expect(res.status).toBe(202);
  runId = RunSchema.parse(await json(res)).id;
  await waitFor(async () => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}`))).status === 'completed', { what: 'the run' });
  pairs = ReviewListSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/reviews?limit=50`))).items.map((i) => i.pair);
  expect(pairs.map((p) => p.metadata.sample_index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  for (const who of ['R1', 'R2', 'R3']) {
    keys[who] = await stack.mintKey('reviewer', 'default');
    keyIds[who] = (await json(await stack.fetch('/v1/keys/me', {}, keys[who]))).id;
  }
  // R1 first rejects P1, then changes its mind: its later decision replaces the earlier one.
  await review('R1', pairs[1], 'reject');
  for (let p = 0; p < 7; p++) for (const who of ['R1', 'R2', 'R3']) if (TABLE[who][p]) await review(who, pairs[p], TABLE[who][p]!);
});

describe('agreement between reviewers', () => {
  it("gives Krippendorff's alpha, raw agreement and Cohen's kappa of the hand-worked table", async () => {
    const res = await stack.fetch(`/v1/runs/${runId}/agreement`, {}, keys.R3);
    expect(res.status).toBe(200);
    const a = AgreementSchema.parse(await json(res));
    expect(a).toMatchObject({ run_id: runId, per_pair: 3, reviewed_pairs: 6, pairable_pairs: 6, reviews: 16, judged: true });
    expect(a.krippendorff_alpha).toBeCloseTo(2 / 7, 10);
    expect(a.raw_agreement).toBeCloseTo(1 / 2, 10);
    expect(a.cohen_kappa.map((k) => [k.a_key_id, k.b_key_id, k.pairs, k.kappa])).toEqual([
      [keyIds.R1, keyIds.R2, 6, expect.closeTo(1 / 2, 10)],
      [keyIds.R1, keyIds.R3, 4, expect.closeTo(3 / 11, 10)],
      [keyIds.R2, keyIds.R3, 4, expect.closeTo(-1 / 5, 10)],
    ]);
  });

  it('gives each pair its majority and share, and lists the disagreements with both decisions and reasons', async () => {
    const a = AgreementSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/agreement`)));
    expect(a.pairs.map((p) => [p.sample_index, p.decision, p.reviews, p.agreement, p.tie])).toEqual([
      [0, 'accept', 3, 1, false],
      [1, 'accept', 3, expect.closeTo(2 / 3, 10), false],
      [2, 'swap', 3, expect.closeTo(2 / 3, 10), false],
      [3, 'reject', 2, 1, false],
      [4, null, 2, 0.5, true],
      [5, 'edit', 3, expect.closeTo(2 / 3, 10), false],
    ]);
    expect(a.disagreements.map((d) => d.sample_index)).toEqual([1, 2, 4, 5]);
    const p4 = a.disagreements.find((d) => d.sample_index === 4)!;
    expect(p4.reviews.map((r) => [r.reviewer_key_id, r.decision, r.reason])).toEqual([
      [keyIds.R1, 'accept', 'R1 says accept'],
      [keyIds.R2, 'reject', 'R2 says reject'],
    ]);
  });

  it("gives each reviewer's agreement with the AI judge: accept and edit prefer chosen, swap rejected, reject is not compared", async () => {
    const a = AgreementSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/agreement`)));
    let comparedInAll = 0;
    for (const who of ['R1', 'R2', 'R3']) {
      let compared = 0;
      let agreed = 0;
      TABLE[who].forEach((decision, p) => {
        const pChosen = pairs[p].metadata.judgement?.p_chosen;
        if (!decision || decision === 'reject' || pChosen === undefined || pChosen === 0.5) return;
        compared++;
        if ((decision === 'swap') === pChosen < 0.5) agreed++;
      });
      const got = a.reviewers.find((r) => r.reviewer_key_id === keyIds[who])!;
      expect([who, got.judge]).toEqual([who, { compared, agreed, agreement: compared ? agreed / compared : null }]);
      comparedInAll += compared;
    }
    // The simulator's judge has a preference on these pairs, so the rule above was really applied.
    expect(comparedInAll).toBeGreaterThan(0);
  });
});

describe('the consensus export', () => {
  it('applies the majority decision, leaves ties, rejected and unreviewed pairs out and counts them in Amend-Excluded', async () => {
    const res = await stack.fetch(`/v1/runs/${runId}/pairs?consensus=majority&exclude=`);
    expect(res.status).toBe(200);
    // A reason with no pair left out is not named (docs/ml-teams.md "Left out").
    expect(res.headers.get('amend-excluded')).toBe('tie=1,rejected=1,unreviewed=1');
    const lines = ndjson(await res.text()).map((l) => ConversationalPairLineSchema.parse(l));
    expect(lines.map((l) => [l.sample_index, l.review && 'consensus' in l.review ? l.review.decision : null])).toEqual([
      [0, 'accept'],
      [1, 'accept'],
      [2, 'swap'],
      [5, 'edit'],
    ]);
    const [p0, , p2, p5] = lines;
    expect([p0.chosen[0].content, p0.rejected[0].content]).toEqual([pairs[0].chosen, pairs[0].rejected]);
    expect([p2.chosen[0].content, p2.rejected[0].content]).toEqual([pairs[2].rejected, pairs[2].chosen]);
    expect([p5.chosen[0].content, p5.rejected[0].content]).toEqual([edits.R2, pairs[5].rejected]);
    expect(p2.review).toEqual({
      consensus: 'majority',
      decision: 'swap',
      status: 'accepted',
      reviews: 3,
      per_pair: 3,
      agreement: 2 / 3,
      counts: { swap: 2, accept: 1 },
      review_ids: expect.any(Array),
    });
  });

  it('leaves out pairs under min_agreement, and the SFT export does the same', async () => {
    const strict = await stack.fetch(`/v1/runs/${runId}/pairs?consensus=majority&min_agreement=0.7&exclude=`);
    expect(strict.headers.get('amend-excluded')).toBe('tie=1,rejected=1,unreviewed=1,low_agreement=3');
    expect(ndjson(await strict.text()).map((l) => ConversationalPairLineSchema.parse(l).sample_index)).toEqual([0]);
    const sft = await stack.fetch(`/v1/runs/${runId}/sft?consensus=majority&exclude=`);
    expect(sft.headers.get('amend-excluded')).toBe('tie=1,rejected=1,unreviewed=1');
    const sftLines = ndjson(await sft.text()).map((l) => SftLineSchema.parse(l));
    expect(sftLines.map((l) => [l.sample_index, l.messages[l.messages.length - 1].content])).toEqual([
      [0, pairs[0].chosen],
      [1, pairs[1].chosen],
      [2, pairs[2].rejected],
      [5, edits.R2],
    ]);
  });

  it('refuses a bad consensus query with 422', async () => {
    for (const q of [
      'consensus=minority',
      'consensus=majority&min_agreement=2',
      'consensus=majority&min_agreement=x',
      'min_agreement=0.5',
      'consensus=majority&reviewed=accepted',
    ]) {
      const res = await stack.fetch(`/v1/runs/${runId}/pairs?${q}`);
      expect([q, res.status]).toEqual([q, 422]);
      expect(ErrorBodySchema.parse(await json(res)).error.code).toBe('invalid_request');
    }
  });
});

describe('amend review', () => {
  it('prints the agreement figures and takes the next pair from the CLI', async () => {
    const out = await amendCli(stack, keys.R1, ['review', 'agreement', runId]);
    expect(out.code).toBe(0);
    expect(out.out).toContain("Krippendorff's alpha 0.286");
    expect(out.out).toContain('raw agreement 0.500');
    // R1 reviewed P0..P5: the next pair for it is P6; a fresh key's is P3, the first with an open slot.
    const mine = await amendCli(stack, keys.R1, ['review', 'next', runId]);
    expect(mine.code).toBe(0);
    expect(mine.out).toContain(`pair ${pairs[6].id} (sample 6), 0 of 3 reviews`);
    const fresh = await stack.mintKey('reviewer', 'default');
    const next = await amendCli(stack, fresh, ['review', 'next', runId, '--json']);
    expect(next.code).toBe(0);
    expect(JSON.parse(next.out).pair.id).toBe(pairs[3].id);
    const policy = await amendCli(stack, stack.submitterKey, ['review', 'policy', runId, '--per-pair', '3']);
    expect(policy.out).toContain('3 review(s) per pair (was 3)');
    const refused = await amendCli(stack, keys.R1, ['review', 'policy', runId, '--per-pair', '2']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('forbidden');
    const progress = await amendCli(stack, keys.R1, ['review', 'progress', runId]);
    // 4/7 complete (P0, P1, P2, P5), 2 partial (P3, P4), 1 unreviewed (P6).
    expect(progress.out).toContain('3 review(s) per pair: 4/7 pairs complete, 2 partial, 1 unreviewed');
  });
});
