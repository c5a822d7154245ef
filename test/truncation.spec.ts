import { RunSchema, SampleSchema, type StageRecord } from '@amend/contracts';
import { Store } from '@amend/store';
import { cleanup, json, startStack, testEnv, waitFor, type Stack } from './support/stack';

/*
 * Truncation: every stage keeps the backend's finish_reason, through both checkpoint paths (the
 * one-statement path the worker takes and the locking transaction it falls back to).
 */

const env = testEnv('truncation');
let stack: Stack;

beforeAll(async () => {
  stack = await startStack(env);
});
afterAll(async () => {
  await stack?.close();
  await cleanup(env);
});

const post = (path: string, body: unknown) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function finishedRun(body: Record<string, unknown>) {
  const res = await post('/v1/runs', body);
  expect(res.status).toBe(202);
  const { id } = await json(res);
  return waitFor(
    async () => {
      const run = RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`)));
      return ['completed', 'failed'].includes(run.status) ? run : undefined;
    },
    { what: `run ${id}` },
  );
}

async function stagesOf(runId: string) {
  const { samples } = await json(await stack.fetch(`/v1/runs/${runId}/samples`));
  return SampleSchema.parse(await json(await stack.fetch(`/v1/samples/${samples[0].id}`))).stages;
}

describe('finish_reason on stage records', () => {
  it('records "length" for every stage the simulator cut at max_tokens, and "stop" otherwise', async () => {
    // The simulator's drafts, critiques and revisions are all longer than 3 tokens (12 characters).
    const cut = await finishedRun({ constitution: 'amend-core', prompts: ['How do I bake bread at home?'], seed: 1, sampling: { max_tokens: 3 } });
    expect((await stagesOf(cut.id)).map((s) => s.finish_reason)).toEqual(['length', 'length', 'length']);
    const whole = await finishedRun({ constitution: 'amend-core', prompts: ['How do I bake bread at home?'], seed: 1 });
    expect((await stagesOf(whole.id)).map((s) => s.finish_reason)).toEqual(['stop', 'stop', 'stop']);
  });

  it('is kept by the locking checkpoint path too', async () => {
    const own = await startStack(testEnv('truncation_locked'), { workers: 0 });
    try {
      const res = await own.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ constitution: 'amend-core', prompts: ['hi'] }) });
      const runId = (await json(res)).id as string;
      const store = own.api.get(Store);
      const sampleId = (await store.samples.list(runId, { limit: 1 })).samples[0].id;
      expect(await store.samples.claim(sampleId)).toBe(true);
      const record = (seq: number, finish_reason: string | null): StageRecord => ({
        seq,
        stage: seq === 0 ? 'draft' : 'critique',
        round: seq,
        principle_id: null,
        messages: [{ role: 'user', content: 'hi' }],
        text: 'cut mid',
        model: 'm',
        usage: { prompt_tokens: 1, completion_tokens: 1 },
        latency_ms: 1,
        simulated: true,
        finish_reason,
      });
      const event = { type: 'draft.generated', actor: 'test', payload: {} };
      // No head: the locking transaction.
      expect(await store.samples.checkpoint({ sampleId, runId, idx: 0, record: record(0, 'length'), nextStage: 'critique', event })).toBe('saved');
      const item = (await store.samples.loadForWork(sampleId))!;
      // With the head: the one-statement path.
      const head = { seq: item.sample.audit_seq, hash: item.sample.audit_hash };
      expect(await store.samples.checkpoint({ sampleId, runId, idx: 0, record: record(1, null), nextStage: 'revision', event, head })).toBe('saved');
      expect(head.seq).toBe(item.sample.audit_seq + 1);
      const stored = (await store.samples.loadForWork(sampleId))!.records;
      expect(stored.map((r) => r.finish_reason)).toEqual(['length', null]);
    } finally {
      await own.close();
      await cleanup(own.env);
    }
  });
});
