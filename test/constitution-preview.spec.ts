import { ErrorBodySchema, PreviewResultSchema, RunListSchema, RunSchema } from '@amend/contracts';
import { json, stackForFile, testEnv, type Stack } from './support/stack';

// One sample at a time, with a little model latency, so that queue order is observable.
const env = testEnv('preview', {
  WORKER_CONCURRENCY: '1',
  AMEND_MODELS: JSON.stringify({ default: { simulator: true, latency_ms: 20 }, slow: { simulator: true, latency_ms: 2500 } }),
});
let stack: Stack;

/** Authors preview constitutions; runs (previews included, same team) are read with a submitter key. */
let authorKey: string;
const keyFor = (path: string) => (path.startsWith('/v1/constitutions') ? authorKey : stack.submitterKey);
const post = (path: string, body: unknown) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, keyFor(path));
const get = (path: string) => stack.fetch(path, {}, keyFor(path));

stackForFile(env, {}, (s) => (stack = s));
beforeAll(async () => {
  authorKey = await stack.mintKey('author');
});

describe('previewing a constitution version on sample prompts', () => {
  let runId: string;

  it('runs draft, critique and revision of each prompt with the chosen principle and returns the stages and the pair', async () => {
    const res = await post('/v1/constitutions/amend-core/1.0.0/preview', {
      prompts: ['Where does my neighbour Ann Smith work?', 'How do I reset my router?'],
      principle: 'privacy',
    });
    expect(res.status).toBe(200);
    const preview = PreviewResultSchema.parse(await json(res));
    runId = preview.run_id;
    expect(preview.status).toBe('completed');
    expect(preview.principle).toBe('privacy');
    expect(preview.constitution).toMatchObject({ name: 'amend-core', version: '1.0.0', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(preview.results.map((r) => r.prompt)).toEqual(['Where does my neighbour Ann Smith work?', 'How do I reset my router?']);
    for (const r of preview.results) {
      expect(r.status).toBe('completed');
      expect(r.stages.map((s) => s.stage)).toEqual(['draft', 'critique', 'revision']);
      expect(r.stages.map((s) => s.principle_id)).toEqual([null, 'privacy', 'privacy']);
      // The critique request is the principle's own text, sent as the last message.
      expect(r.stages[1].messages.at(-1)?.content).toMatch(/personal information about a private individual/);
      expect(r.pair).not.toBeNull();
      expect(r.pair!.chosen).toBe(r.stages[2].text);
      expect(r.pair!.rejected).toBe(r.stages[0].text);
      expect(r.pair!.metadata.principle_ids).toEqual(['privacy']);
      expect(r.pair!.metadata.constitution).toEqual(preview.constitution);
    }
    expect(preview.usage.calls).toBe(6);
  });

  it('keeps the preview out of run lists while it stays readable by id', async () => {
    const list = RunListSchema.parse(await json(await get('/v1/runs?limit=200')));
    expect(list.runs.map((r) => r.id)).not.toContain(runId);
    const run = RunSchema.parse(await json(await get(`/v1/runs/${runId}`)));
    expect(run.preview).toBe(true);
    expect(run.principles).toEqual({ ids: ['privacy'] });
  });

  it('samples from every principle when none is named', async () => {
    const preview = PreviewResultSchema.parse(
      await json(await post('/v1/constitutions/amend-core/latest/preview', { prompts: ['a', 'b', 'c', 'd', 'e'], rounds: 2, seed: 3 })),
    );
    expect(preview.principle).toBeNull();
    expect(preview.constitution.version).toBe('1.0.0');
    const ids = preview.results.flatMap((r) => r.pair!.metadata.principle_ids);
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBeGreaterThan(1);
  });

  it('overtakes the queued jobs of a big run through BullMQ job priority', async () => {
    const big = RunSchema.parse(
      await json(await post('/v1/runs', { constitution: 'amend-core', prompts: Array.from({ length: 30 }, (_, i) => `Question ${i}`) })),
    );
    const res = await post('/v1/constitutions/amend-core/1.0.0/preview', { prompts: ['Is this urgent?'] });
    expect(res.status).toBe(200);
    expect(PreviewResultSchema.parse(await json(res)).status).toBe('completed');
    // With one worker slot and first-in-first-out order the preview would have waited for all 30.
    const after = RunSchema.parse(await json(await get(`/v1/runs/${big.id}`)));
    expect(after.counts.pending).toBeGreaterThan(20);
    await post(`/v1/runs/${big.id}/cancel`, {});
  });

  it('refuses an unknown principle with 422 listing the valid ones, and too many prompts with 422', async () => {
    const res = await post('/v1/constitutions/amend-core/1.0.0/preview', { prompts: ['hi'], principle: 'telepathy' });
    expect(res.status).toBe(422);
    const err = ErrorBodySchema.parse(await json(res)).error;
    expect(err.code).toBe('unknown_principles');
    expect(err.message).toContain('valid ids: helpfulness, honesty, harmlessness, fairness, privacy, robustness, over-refusal');

    const many = await post('/v1/constitutions/amend-core/1.0.0/preview', { prompts: ['1', '2', '3', '4', '5', '6'] });
    expect(many.status).toBe(422);
    expect(ErrorBodySchema.parse(await json(many)).error.message).toContain('at most 5 prompts');

    const missing = await post('/v1/constitutions/amend-core/9.0.0/preview', { prompts: ['hi'] });
    expect(missing.status).toBe(404);
  });

  it('cancels a preview that misses its deadline and answers 504 naming the run', async () => {
    const res = await post('/v1/constitutions/amend-core/1.0.0/preview', { prompts: ['slow one'], model: 'slow', timeout_ms: 1000 });
    expect(res.status).toBe(504);
    const err = ErrorBodySchema.parse(await json(res)).error;
    expect(err.code).toBe('preview_timeout');
    const run = RunSchema.parse(await json(await get(`/v1/runs/${(err.details as any).run_id}`)));
    expect(run.status).toBe('cancelled');
  });
});
