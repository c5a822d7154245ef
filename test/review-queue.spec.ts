import { Client } from 'pg';
import { ErrorBodySchema, QueuedPairSchema, ReviewProgressSchema, RunSchema } from '@amend/contracts';
import { json, pgForFile, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/**
 * Review by several reviewers (docs/ml-teams.md#review-by-several-reviewers): the review policy,
 * the queue and its leases, under concurrent reviewers over real HTTP.
 */
const env = testEnv('review-queue', { AMEND_KEY_REQUESTS_PER_MINUTE: '100000' });
let stack: Stack;
let pg: Client;
const schema = env.DATABASE_SCHEMA;

const post = (path: string, body: unknown, key?: string) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, key);
const put = (path: string, body: unknown, key?: string) =>
  stack.fetch(path, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, key);

async function finishedRun(prompts: number, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await post('/v1/runs', {
    constitution: 'amend-core',
    prompts: Array.from({ length: prompts }, (_, i) => `Question ${i}: how do I keep a fern alive indoors?`),
    seed: 11,
    ...extra,
  });
  expect(res.status).toBe(202);
  const id = RunSchema.parse(await json(res)).id;
  await waitFor(async () => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`))).status === 'completed', { what: `run ${id}` });
  return id;
}

async function keyIdOf(key: string): Promise<string> {
  return (await json(await stack.fetch('/v1/keys/me', {}, key))).id;
}

stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c));

describe('the review policy', () => {
  it('is given with the run, shown on it, changed later by its team (audited), and refused when malformed', async () => {
    const runId = await finishedRun(2, { review: { per_pair: 2 } });
    expect(RunSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}`))).review).toEqual({ per_pair: 2 });

    const changed = await put(`/v1/runs/${runId}/review-policy`, { per_pair: 3 });
    expect(changed.status).toBe(200);
    expect(await json(changed)).toEqual({ run_id: runId, per_pair: 3, previous_per_pair: 2 });
    expect(RunSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}`))).review).toEqual({ per_pair: 3 });
    const events = await pg.query(`select actor, payload from "${schema}".audit_events where run_id = $1 and type = 'run.review_policy_set'`, [runId]);
    expect(events.rows).toEqual([{ actor: `key:${await keyIdOf(stack.submitterKey)}`, payload: { per_pair: 3, previous_per_pair: 2 } }]);
    const created = await pg.query(`select payload from "${schema}".audit_events where run_id = $1 and type = 'run.created'`, [runId]);
    expect(created.rows[0].payload.review).toEqual({ per_pair: 2 });
    // The run's chain, with the new event after its seal, still verifies.
    const verify = await json(await stack.fetch(`/v1/runs/${runId}/audit/verify`, {}, await stack.mintKey('auditor', 'default')));
    expect(verify.ok).toBe(true);

    for (const bad of [{ per_pair: 0 }, { per_pair: 101 }, { per_pair: 1.5 }, { per_pair: '2' }, {}, { per_pair: 2, extra: true }]) {
      const res = await put(`/v1/runs/${runId}/review-policy`, bad);
      expect([JSON.stringify(bad), res.status]).toEqual([JSON.stringify(bad), 422]);
      expect(ErrorBodySchema.parse(await json(res)).error.code).toBe('invalid_request');
    }
    const refused = await post('/v1/runs', { constitution: 'amend-core', prompts: ['hi'], review: { per_pair: 0 } });
    expect(refused.status).toBe(422);
    expect(ErrorBodySchema.parse(await json(refused)).error.message).toContain('review.per_pair');

    const reviewer = await stack.mintKey('reviewer', 'default');
    expect((await put(`/v1/runs/${runId}/review-policy`, { per_pair: 1 }, reviewer)).status).toBe(403);
    const other = await stack.mintKey('submitter', 'other-team');
    expect((await put(`/v1/runs/${runId}/review-policy`, { per_pair: 1 }, other)).status).toBe(404);
    expect(RunSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}`))).review).toEqual({ per_pair: 3 });
  });
});

describe('the review queue', () => {
  it('gives a key the same pair until it reviews it, then the next; 204 once nothing is left for it', async () => {
    const runId = await finishedRun(2, { review: { per_pair: 1 } });
    const key = await stack.mintKey('reviewer', 'default');
    const first = await stack.fetch(`/v1/runs/${runId}/review-queue/next`, {}, key);
    expect(first.status).toBe(200);
    const a = QueuedPairSchema.parse(await json(first));
    expect(a).toMatchObject({ reviews: 0, per_pair: 1, lease: { lease_ms: 600_000 } });
    expect(a.pair.metadata.sample_index).toBe(0);
    const again = QueuedPairSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/review-queue/next`, {}, key)));
    expect(again.pair.id).toBe(a.pair.id);
    // Another key sees the first pair's only slot held, and gets the second.
    const other = await stack.mintKey('reviewer', 'default');
    const b = QueuedPairSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/review-queue/next`, {}, other)));
    expect(b.pair.metadata.sample_index).toBe(1);
    expect((await stack.fetch(`/v1/runs/${runId}/review-queue/next`, {}, await stack.mintKey('reviewer', 'default'))).status).toBe(204);

    expect((await post(`/v1/pairs/${a.pair.id}/review`, { decision: 'accept', reason: 'fine' }, key)).status).toBe(201);
    // Its later decision replaces the earlier one, with history: two rows of this key, one slot.
    expect((await post(`/v1/pairs/${a.pair.id}/review`, { decision: 'swap', reason: 'on second thought the draft is better' }, key)).status).toBe(201);
    const rows = await pg.query(`select decision from "${schema}".pair_reviews where pair_id = $1 order by seq`, [a.pair.id]);
    expect(rows.rows.map((r) => r.decision)).toEqual(['accept', 'swap']);
    expect((await stack.fetch(`/v1/runs/${runId}/review-queue/next`, {}, key)).status).toBe(204);
    // A key without a slot on a full pair is refused, and nothing is stored.
    const late = await post(`/v1/pairs/${a.pair.id}/review`, { decision: 'reject', reason: 'not needed' }, other);
    expect(late.status).toBe(409);
    expect(ErrorBodySchema.parse(await json(late)).error.code).toBe('review_slots_full');
    expect((await pg.query(`select count(*)::int as n from "${schema}".pair_reviews where pair_id = $1`, [a.pair.id])).rows[0].n).toBe(2);

    const progress = ReviewProgressSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/review-queue`, {}, key)));
    expect(progress).toMatchObject({
      per_pair: 1,
      policy_set: true,
      pairs: 2,
      complete: 1,
      partial: 0,
      unreviewed: 1,
      reviews_done: 1,
      reviews_needed: 1,
      leased: 1,
    });
    expect(progress.reviewers.map((r) => [r.reviewer_key_id, r.reviewed, r.leased]).sort()).toEqual(
      [
        [await keyIdOf(key), 1, 0],
        [await keyIdOf(other), 0, 1],
      ].sort(),
    );
  });

  it('hands an expired lease to another key, and then refuses the first key’s review of the full pair', async () => {
    const runId = await finishedRun(1, { review: { per_pair: 1 } });
    const undo = stack.reconfigure({ AMEND_REVIEW_LEASE_MS: '1000' });
    try {
      const [slow, quick] = [await stack.mintKey('reviewer', 'default'), await stack.mintKey('reviewer', 'default')];
      const taken = QueuedPairSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/review-queue/next`, {}, slow)));
      expect(taken.lease.lease_ms).toBe(1000);
      expect((await stack.fetch(`/v1/runs/${runId}/review-queue/next`, {}, quick)).status).toBe(204);
      let got: Response | undefined;
      await waitFor(
        async () => {
          got = await stack.fetch(`/v1/runs/${runId}/review-queue/next`, {}, quick);
          return got.status === 200;
        },
        { what: 'the lease to expire' },
      );
      expect(QueuedPairSchema.parse(await json(got!)).pair.id).toBe(taken.pair.id);
      const refused = await post(`/v1/pairs/${taken.pair.id}/review`, { decision: 'accept', reason: 'slow' }, slow);
      expect(refused.status).toBe(409);
      expect(ErrorBodySchema.parse(await json(refused)).error.code).toBe('review_slots_full');
      expect((await post(`/v1/pairs/${taken.pair.id}/review`, { decision: 'accept', reason: 'quick' }, quick)).status).toBe(201);
    } finally {
      undo();
    }
  });

  it('20 reviewers pulling from one queue at once give each pair exactly N reviews, none twice by one key (counted from the rows)', async () => {
    const PAIRS = 12;
    const N = 3;
    const runId = await finishedRun(PAIRS, { review: { per_pair: N } });
    const keys = await Promise.all(Array.from({ length: 20 }, () => stack.mintKey('reviewer', 'default')));
    const served: string[] = [];
    const outcomes: number[] = [];
    await Promise.all(
      keys.map(async (key, k) => {
        for (let i = 0; i < PAIRS + 5; i++) {
          const res = await stack.fetch(`/v1/runs/${runId}/review-queue/next`, {}, key);
          if (res.status === 204) return;
          expect(res.status).toBe(200);
          const next = QueuedPairSchema.parse(await json(res));
          served.push(next.pair.id);
          const decision = (['accept', 'reject', 'swap'] as const)[(k + next.pair.metadata.sample_index) % 3];
          const review = await post(`/v1/pairs/${next.pair.id}/review`, { decision, reason: `reviewer ${k}` }, key);
          outcomes.push(review.status);
          await review.arrayBuffer();
        }
        throw new Error(`reviewer ${k} never got a 204`);
      }),
    );
    expect(outcomes.filter((s) => s !== 201)).toEqual([]);
    expect(served).toHaveLength(PAIRS * N);
    const perPair = await pg.query(
      `select p.id, count(r.id)::int as reviews, count(distinct r.reviewer_key_id)::int as keys
       from "${schema}".pairs p left join "${schema}".pair_reviews r on r.pair_id = p.id where p.run_id = $1 group by p.id`,
      [runId],
    );
    expect(perPair.rows).toHaveLength(PAIRS);
    expect(perPair.rows.filter((r) => r.reviews !== N || r.keys !== N)).toEqual([]);
    const twice = await pg.query(
      `select pair_id, reviewer_key_id, count(*)::int as n from "${schema}".pair_reviews where run_id = $1 group by 1, 2 having count(*) > 1`,
      [runId],
    );
    expect(twice.rows).toEqual([]);
    const progress = ReviewProgressSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}/review-queue`)));
    expect(progress).toMatchObject({ pairs: PAIRS, complete: PAIRS, reviews_done: PAIRS * N, reviews_needed: 0, leased: 0 });
  });
});
