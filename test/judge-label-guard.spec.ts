import { QualityReportSchema, RunManifestSchema, RunSchema, type Run } from '@amend/contracts';
import { json, ndjson, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/*
 * `max_hard_label_share`: a run whose judge answers without a readable letter is stopped once it
 * has `hard_label_min_comparisons` labels and too many are hard or unreadable. The judge here is
 * the simulator in its `evasive` style ("It depends on what the human needs; ..."): every label is
 * unreadable. Two workers' worth of concurrency and 20 ms a call keep the run going long enough
 * for the stop to land while samples are still waiting.
 */

const env = testEnv('judge_label_guard', {
  AMEND_MODELS: JSON.stringify({
    default: { simulator: true, latency_ms: 20 },
    evasive: { simulator: true, latency_ms: 20, judge_style: 'evasive' },
  }),
  WORKER_CONCURRENCY: '2',
});
let stack: Stack;
let auditor: string;

stackForFile(env, {}, (s) => (stack = s));
beforeAll(async () => {
  auditor = await stack.mintKey('auditor');
});

const post = (body: unknown) => stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const prompts = Array.from({ length: 40 }, (_, i) => `Question ${i + 1}: how do I keep a sourdough starter alive?`);

async function finished(res: Response): Promise<Run> {
  expect(res.status).toBe(202);
  const { id } = await json(res);
  return waitFor(
    async () => {
      const run = RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`)));
      return run.finished_at ? run : undefined;
    },
    { what: `run ${id} to finish`, timeoutMs: 90_000 },
  );
}

describe('max_hard_label_share', () => {
  it('stops a run whose judge answers unreadably, mid-run, with the reason on the run, its samples, its report and its trail', async () => {
    const run = await finished(
      await post({
        constitution: 'amend-core',
        mode: 'ai-feedback',
        feedback_model: 'evasive',
        prompts,
        seed: 1,
        max_hard_label_share: 0.5,
        hard_label_min_comparisons: 6,
      }),
    );
    expect(run.status).toBe('failed');
    expect(run.max_hard_label_share).toBe(0.5);
    expect(run.hard_label_min_comparisons).toBe(6);
    const stopped = run.stopped!;
    expect(stopped).toMatchObject({ code: 'judge_labels', hard_labels: 0, hard_label_share: 1, max_hard_label_share: 0.5 });
    expect(stopped.comparisons).toBeGreaterThanOrEqual(6);
    expect(stopped.unreadable_labels).toBe(stopped.comparisons);
    expect(stopped.message).toMatch(
      /^stopped: \d+ of the judge's \d+ labels were hard or unreadable \(0 hard, \d+ unreadable: 100%\), more than max_hard_label_share 50%/,
    );
    // The stop came while the run was going: samples were still waiting, and they were cancelled.
    expect(stopped.samples_stopped).toBeGreaterThan(0);
    expect(run.counts.completed).toBeLessThan(prompts.length);
    expect(run.counts.cancelled).toBe(stopped.samples_stopped);
    expect(run.counts.completed + run.counts.cancelled).toBe(prompts.length);
    expect(run.counts.failed).toBe(0);

    const { samples } = await json(await stack.fetch(`/v1/runs/${run.id}/samples?status=cancelled&limit=1000`));
    expect(samples).toHaveLength(stopped.samples_stopped);
    expect(new Set(samples.map((s: { failure_reason: string }) => s.failure_reason))).toEqual(new Set([stopped.message]));

    // The pairs made before the stop stay exportable, and the report says why the run stopped.
    const pairs = ndjson(await (await stack.fetch(`/v1/runs/${run.id}/pairs?exclude=`)).text());
    expect(pairs).toHaveLength(run.counts.completed);
    const report = QualityReportSchema.parse(await json(await stack.fetch(`/v1/runs/${run.id}/report`)));
    expect(report.status).toBe('failed');
    expect(report.stopped).toEqual(stopped);

    const events = await json(await stack.fetch(`/v1/audit/events?run=${run.id}&type=run.stopped`, {}, auditor));
    expect(events.events).toHaveLength(1);
    expect(events.events[0].payload).toEqual(stopped);
    const verify = await json(await stack.fetch(`/v1/runs/${run.id}/audit/verify`, {}, auditor));
    expect(verify).toMatchObject({ ok: true });

    // Its manifest carries the option, so a replay is guarded the same way.
    const manifest = RunManifestSchema.parse(await json(await stack.fetch(`/v1/runs/${run.id}/manifest`)));
    expect(manifest).toMatchObject({ max_hard_label_share: 0.5, hard_label_min_comparisons: 6, feedback_model: 'evasive' });
  });

  it('lets a run whose judge answers with a letter finish: every label is soft', async () => {
    const run = await finished(
      await post({
        constitution: 'amend-core',
        mode: 'ai-feedback',
        prompts: prompts.slice(0, 8),
        seed: 1,
        max_hard_label_share: 0.1,
        hard_label_min_comparisons: 2,
      }),
    );
    expect(run.status).toBe('completed');
    expect(run.counts.completed).toBe(8);
    expect(run.stopped).toBeUndefined();
    const report = QualityReportSchema.parse(await json(await stack.fetch(`/v1/runs/${run.id}/report`)));
    expect(report.overall.judge.hard_label_share).toBe(0);
    expect(report.stopped).toBeUndefined();
  });

  it.each([
    ['a run nothing judges', { max_hard_label_share: 0.2 }, 'max_hard_label_share', /applies to mode "ai-feedback" or to "critique-revise" with verify: true/],
    ['a share above 1', { mode: 'ai-feedback', max_hard_label_share: 1.5 }, 'max_hard_label_share', /1/],
    ['a minimum without a share', { verify: true, hard_label_min_comparisons: 10 }, 'hard_label_min_comparisons', /applies with max_hard_label_share only/],
    ['a minimum of 0', { verify: true, max_hard_label_share: 0.2, hard_label_min_comparisons: 0 }, 'hard_label_min_comparisons', /1/],
  ])('%s is a 422 naming the field', async (_name, options, field, message) => {
    const res = await post({ constitution: 'amend-core', prompts: ['hi'], ...options });
    expect(res.status).toBe(422);
    const body = await json(res);
    expect(body.error.message.startsWith(`${field}: `)).toBe(true);
    expect(body.error.message).toMatch(message);
  });
});
