import { RunSchema, SampleSchema, type StageRecord } from '@amend/contracts';
import { Store } from '@amend/store';
import { cleanup, json, ndjson, stackForFile, startStack, testEnv, waitFor, type Stack } from './support/stack';

/*
 * Truncation: every stage keeps the backend's finish_reason, through both checkpoint paths (the
 * one-statement path the worker takes and the locking transaction it falls back to).
 */

const env = testEnv('truncation');
let stack: Stack;
stackForFile(env, {}, (s) => (stack = s));

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

  it('flags a pair with a stage cut at max_tokens as truncated, leaves it out of pairs and SFT by default, and the report counts it', async () => {
    const cut = await finishedRun({
      constitution: 'amend-core',
      prompts: ['How do I bake bread at home?', 'How do I fix a flat tyre?'],
      seed: 2,
      sampling: { max_tokens: 3 },
    });
    const lines = async (path: string) => ndjson(await (await stack.fetch(path)).text());
    expect(await lines(`/v1/runs/${cut.id}/pairs`)).toEqual([]);
    expect(await lines(`/v1/runs/${cut.id}/sft`)).toEqual([]);
    const all = await lines(`/v1/runs/${cut.id}/pairs?exclude=`);
    expect(all).toHaveLength(2);
    expect(all.every((l) => l.metadata.flags.includes('truncated'))).toBe(true);
    expect(await lines(`/v1/runs/${cut.id}/sft?exclude=noop`)).toHaveLength(2);
    expect(await lines(`/v1/runs/${cut.id}/pairs?exclude=truncated`)).toEqual([]);
    const report = await json(await stack.fetch(`/v1/runs/${cut.id}/report`));
    expect(report.overall.flags.truncated).toBe(2);
    const whole = await finishedRun({ constitution: 'amend-core', prompts: ['How do I bake bread at home?'], seed: 2 });
    const kept = await lines(`/v1/runs/${whole.id}/pairs`);
    expect(kept).toHaveLength(1);
    expect(kept[0].metadata.flags ?? []).not.toContain('truncated');
  });

  it('SFT follows reviews: a swap trains on the other text, a rejected pair is left out, reviewed=accepted keeps only accepted', async () => {
    const run = await finishedRun({
      constitution: 'amend-core',
      prompts: ['How do I bake bread at home?', 'How do I fix a flat tyre?', 'How do I sleep better?'],
      seed: 5,
    });
    const pairs = ndjson(await (await stack.fetch(`/v1/runs/${run.id}/pairs`)).text());
    const byIndex = new Map(pairs.map((p) => [p.sample_index, p]));
    const review = (pairId: string, body: Record<string, unknown>) => post(`/v1/pairs/${pairId}/review`, { reason: 'checked by hand', ...body });
    expect((await review(byIndex.get(0).id, { decision: 'swap' })).status).toBeLessThan(300);
    expect((await review(byIndex.get(1).id, { decision: 'reject' })).status).toBeLessThan(300);
    const sft = ndjson(await (await stack.fetch(`/v1/runs/${run.id}/sft`)).text());
    expect(sft.map((l) => l.sample_index).sort()).toEqual([0, 2]);
    const swapped = sft.find((l) => l.sample_index === 0);
    expect(swapped.messages[swapped.messages.length - 1].content).toBe(byIndex.get(0).rejected[0].content);
    expect(swapped.review).toMatchObject({ decision: 'swap', status: 'accepted' });
    const accepted = ndjson(await (await stack.fetch(`/v1/runs/${run.id}/sft?reviewed=accepted`)).text());
    expect(accepted.map((l) => l.sample_index)).toEqual([0]);
  });

  it('is kept by the locking checkpoint path too', async () => {
    const own = await startStack(testEnv('truncation_locked'), { workers: 0 });
    try {
      const res = await own.fetch('/v1/runs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ constitution: 'amend-core', prompts: ['hi'] }),
      });
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
      const event = { type: 'draft.generated' as const, actor: 'test', payload: {} };
      // No head: the locking transaction.
      expect((await store.samples.checkpoint({ sampleId, runId, idx: 0, record: record(0, 'length'), nextStage: 'critique', event })).outcome).toBe('saved');
      const item = (await store.samples.loadForWork(sampleId))!;
      // With the head: the one-statement path.
      const head = { seq: item.sample.audit_seq, hash: item.sample.audit_hash };
      const saved = await store.samples.checkpoint({ sampleId, runId, idx: 0, record: record(1, null), nextStage: 'revision', event, head });
      expect(saved).toEqual({ outcome: 'saved', head: { seq: item.sample.audit_seq + 1, hash: expect.any(String) } });
      const stored = (await store.samples.loadForWork(sampleId))!.records;
      expect(stored.map((r) => r.finish_reason)).toEqual(['length', null]);
    } finally {
      await own.close();
      await cleanup(own.env);
    }
  });
});
