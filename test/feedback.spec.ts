import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import {
  ConversationalPairLineSchema,
  H4PairLineSchema,
  QualityReportSchema,
  RunSchema,
  SampleSchema,
  StandardPairLineSchema,
  isRunFinished,
  stageEventType,
  type QualityReport,
} from '@amend/contracts';
import { ConstitutionSchema } from '@amend/constitution';
import { OpenAICompatibleModel, startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { planNextCall, recordCall, type RunSpec } from '@amend/pipeline';
import { Store } from '@amend/store';
import { runCli } from '../apps/cli/src/main';
import { createWorkerApp } from '../apps/worker/src/app';
import { cleanup, json, ndjson, stackForFile, startStack, testEnv, waitFor, type Stack } from './support/stack';

/*
 * RL-CAI end to end: ai-feedback runs and verified critique-revise runs through the real API,
 * queue, worker and Postgres; flags and the export filter; the quality report on a run built
 * (with the simulator's markers) to contain no-ops and refusals; a judge that returns real
 * OpenAI-shaped log-probabilities over HTTP, and one that returns none.
 */

let env: Record<string, string> | undefined;
let stack: Stack;
let noLogprobs: SimulatorServer;
let openaiLike: { server: Server; url: string; comparisons: number };

/** An OpenAI-compatible backend whose comparisons always answer with P(A) = 0.8, as OpenAI shapes it. */
async function startOpenAiLikeJudge() {
  const state = { comparisons: 0 };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw);
      const comparison = body.logprobs === true;
      if (comparison) state.comparisons++;
      const token = (t: string, p: number) => ({ token: t, logprob: Math.log(p), bytes: [...Buffer.from(t)] });
      const completion = {
        id: 'chatcmpl-test',
        object: 'chat.completion',
        created: 1_735_689_600,
        model: 'gpt-judge-test',
        system_fingerprint: 'fp_test',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: comparison ? 'A' : 'An answer.', refusal: null, annotations: [] },
            logprobs: comparison
              ? { content: [{ ...token('A', 0.72), top_logprobs: [token('A', 0.72), token('B', 0.18), token(' A', 0.08), token('(', 0.01)] }], refusal: null }
              : null,
            finish_reason: comparison ? 'length' : 'stop',
          },
        ],
        usage: { prompt_tokens: 50, completion_tokens: 1, total_tokens: 51 },
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    server,
    url,
    get comparisons() {
      return state.comparisons;
    },
  };
}

const post = (path: string, body: unknown) =>
  stack.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const get = (path: string) => stack.fetch(path);

async function finishedRun(body: Record<string, unknown>) {
  const res = await post('/v1/runs', body);
  if (res.status !== 202) throw new Error(`run not created (${res.status}): ${await res.text()}`);
  const { id } = await json(res);
  return waitFor(
    async () => {
      const run = RunSchema.parse(await json(await get(`/v1/runs/${id}`)));
      return isRunFinished(run.status) ? run : undefined;
    },
    { timeoutMs: 90_000, what: `run ${id} to finish` },
  );
}

/** A run's pairs, no-op pairs included (`exclude=truncated`: these tests look at the flags of every pair). */
const pairsOf = async (id: string, query = '?exclude=truncated') => ndjson(await (await get(`/v1/runs/${id}/pairs${query}`)).text());

beforeAll(async () => {
  noLogprobs = await startSimulatorServer({ logprobs: false });
  openaiLike = await startOpenAiLikeJudge();
  env = testEnv('feedback', {
    AMEND_MODELS: JSON.stringify({
      default: { simulator: true },
      'judge-http': { base_url: openaiLike.url, model: 'gpt-judge-test', max_attempts: 1 },
      'judge-no-logprobs': { base_url: noLogprobs.url, model: 'amend-simulator-1', max_attempts: 1 },
    }),
  });
});
stackForFile(
  () => env,
  {},
  (s) => (stack = s),
);
afterAll(async () => {
  await noLogprobs?.close();
  await new Promise((r) => openaiLike?.server.close(r));
});

const questions = Array.from({ length: 20 }, (_, i) => `Question ${i}: how should I handle a disagreement with my flatmate about chores?`);

describe('an ai-feedback run on the simulator', () => {
  let runId: string;

  beforeAll(async () => {
    const run = await finishedRun({ constitution: 'amend-core', mode: 'ai-feedback', prompts: questions, seed: 11 });
    runId = run.id;
    expect(run.status).toBe('completed');
    expect(run).toMatchObject({ mode: 'ai-feedback', candidates: 2, ensemble: 1, cot: false, min_margin: 0 });
    // Two candidates and one comparison asked in both orders: four calls per pair.
    expect(run.usage.calls).toBe(20 * 4);
  });

  it('exports pairs whose chosen candidate has the higher soft label, with both orders, scores and principles', async () => {
    const lines = await pairsOf(runId, '?format=standard&exclude=truncated');
    expect(lines).toHaveLength(20);
    for (const line of lines) {
      StandardPairLineSchema.parse(line);
      const j = line.metadata.judgement;
      expect(j).toMatchObject({ kind: 'ai-feedback', label_source: 'logprobs', chain_of_thought: false });
      expect(j.p_chosen).toBeGreaterThanOrEqual(0.5);
      expect(j.p_chosen).toBeCloseTo((j.orders.chosen_first + j.orders.chosen_second) / 2, 10);
      expect(j.comparisons.map((c: any) => [c.a, c.b].sort().join())).toEqual(['candidate-1,candidate-2', 'candidate-1,candidate-2']);
      expect(line.metadata.score_chosen).toBeCloseTo(j.p_chosen, 10);
      expect(line.metadata.score_rejected).toBeCloseTo(1 - j.p_chosen, 10);
      expect(line.metadata.principle_ids).toEqual(j.principle_ids);
      // The simulator drafts from a handful of templates: two equal candidates make a no-op pair.
      if (line.chosen === line.rejected) expect(line.metadata.flags).toContain('noop');
    }
    for (const line of await pairsOf(runId, '?format=h4&exclude=truncated')) H4PairLineSchema.parse(line);
  });

  it('keeps each stage with its label, and audits comparisons as judgement.made', async () => {
    const samples = await json(await get(`/v1/runs/${runId}/samples?limit=1`));
    const sample = SampleSchema.parse(await json(await get(`/v1/samples/${samples.samples[0].id}`)));
    expect(sample.stages.map((s) => s.stage)).toEqual(['candidate', 'candidate', 'comparison', 'comparison']);
    expect(sample.stages[2].judgement).toMatchObject({ options: ['candidate-1', 'candidate-2'], label_source: 'logprobs' });
    expect(sample.stages[3].judgement!.options).toEqual(['candidate-2', 'candidate-1']);
    expect(sample.stages[2].judgement!.top_logprobs!.length).toBeGreaterThan(2);
    const events = await stack.api.get(Store).audit.listForSample(sample.id);
    expect(events.map((e) => e.type)).toEqual(['candidate.generated', 'candidate.generated', 'judgement.made', 'judgement.made', 'pair.emitted']);
    expect((events[2].payload as any).request).toMatchObject({ logprobs: true, top_logprobs: 20, max_tokens: 16 });
  });
});

describe('judges over HTTP', () => {
  it('reads real OpenAI-shaped logprobs objects into soft labels: P(A) / (P(A) + P(B)) in both orders', async () => {
    const before = openaiLike.comparisons;
    const run = await finishedRun({
      constitution: 'amend-core',
      mode: 'ai-feedback',
      feedback_model: 'judge-http',
      prompts: questions.slice(0, 4),
    });
    expect(run.status).toBe('completed');
    expect(openaiLike.comparisons - before).toBe(4 * 2);
    const pA = (0.72 + 0.08) / (0.72 + 0.08 + 0.18);
    for (const line of await pairsOf(run.id)) {
      ConversationalPairLineSchema.parse(line);
      const j = line.metadata.judgement;
      expect(j.label_source).toBe('logprobs');
      // The judge always says (A) with the same odds: averaging both orders leaves a tie, flagged low_margin.
      expect(j.comparisons.map((c: any) => c.p_a)).toEqual([expect.closeTo(pA, 10), expect.closeTo(pA, 10)]);
      expect(j.p_chosen).toBeCloseTo(0.5, 10);
      expect(line.metadata.flags).toContain('low_margin');
      expect(line.metadata.models.feedback).toBe('gpt-judge-test');
    }
    const report = QualityReportSchema.parse(await json(await get(`/v1/runs/${run.id}/report`)));
    // Every comparison went to (A): a pure position bias, and the two orders never agree.
    expect(report.overall.judge).toMatchObject({ comparisons: 8, a_wins: 1, order_agreement: 0 });
    expect(report.overall.judge.position_bias).toBeCloseTo(pA - 0.5, 3);
  });

  it('falls back to hard labels, marked hard, when the backend returns no log-probabilities', async () => {
    const run = await finishedRun({
      constitution: 'amend-core',
      mode: 'ai-feedback',
      feedback_model: 'judge-no-logprobs',
      prompts: questions.slice(0, 4),
      seed: 5,
    });
    expect(run.status).toBe('completed');
    for (const line of await pairsOf(run.id)) {
      const j = line.metadata.judgement;
      expect(j.label_source).toBe('hard');
      expect(j.comparisons.every((c: any) => c.p_a === 0 || c.p_a === 1)).toBe(true);
      expect([0.5, 1]).toContain(j.p_chosen);
    }
  });
});

describe('a verified critique-revise run with no-ops and refusals', () => {
  // Every fourth prompt gets a no-op revision, every fourth another a refusal of a helpful draft (simulator markers).
  const prompts = Array.from({ length: 24 }, (_, i) => {
    const base = `Prompt ${i}: what is a good way to plan a weekend hike with friends?`;
    if (i % 4 === 1) return { id: `noop-${i}`, prompt: `${base} [[amend:noop]]` };
    if (i % 4 === 2) return { id: `refuse-${i}`, prompt: `${base} [[amend:refuse]]` };
    return { id: `plain-${i}`, prompt: base };
  });
  let runId: string;
  let report: QualityReport;

  beforeAll(async () => {
    const run = await finishedRun({ constitution: 'amend-core', prompts, verify: true, seed: 3 });
    expect(run.status).toBe('completed');
    expect(run).toMatchObject({ mode: 'critique-revise', verify: true, ensemble: 1 });
    // Draft, critique, revision, and the judge in both orders.
    expect(run.usage.calls).toBe(24 * 5);
    runId = run.id;
    report = QualityReportSchema.parse(await json(await get(`/v1/runs/${runId}/report`)));
  });

  it('judges every pair, flags the no-op revisions, and flags rejected_by_judge exactly where the judge does not prefer the revision', async () => {
    const lines = await pairsOf(runId);
    expect(lines).toHaveLength(24);
    for (const line of lines) expect(line.metadata.judgement).toMatchObject({ kind: 'verify', label_source: 'logprobs' });
    const noops = lines.filter((l) => l.metadata.external_id.startsWith('noop-'));
    expect(noops).toHaveLength(6);
    for (const l of noops) {
      expect(l.chosen[0].content).toBe(l.rejected[0].content);
      expect(l.metadata.flags).toContain('noop');
    }
    expect(lines.filter((l) => l.metadata.flags?.includes('noop'))).toHaveLength(6);
    expect(lines.filter((l) => l.metadata.flags?.includes('noop')).every((l) => l.metadata.external_id.startsWith('noop-'))).toBe(true);
    const rejected = lines.filter((l) => l.metadata.flags?.includes('rejected_by_judge'));
    expect(rejected.map((l) => l.id).sort()).toEqual(
      lines
        .filter((l) => l.metadata.judgement.p_chosen <= 0.5)
        .map((l) => l.id)
        .sort(),
    );
    expect(rejected.length).toBeGreaterThan(0);
    // By default the preference export leaves the six no-op pairs out, and says so before the stream.
    const byDefault = await get(`/v1/runs/${runId}/pairs`);
    expect(byDefault.headers.get('amend-excluded')).toBe('noop=6');
    expect(ndjson(await byDefault.text())).toHaveLength(24 - 6);
  });

  it('flags a helpful draft revised into a refusal of a benign prompt as refusal drift', async () => {
    const lines = await pairsOf(runId);
    const drift = lines.filter((l) => l.metadata.flags?.includes('refusal_drift'));
    expect(drift.map((l) => l.metadata.external_id).sort()).toEqual(
      lines
        .filter((l) => l.metadata.external_id.startsWith('refuse-'))
        .map((l) => l.metadata.external_id)
        .sort(),
    );
    expect(drift).toHaveLength(6);
    expect(drift.every((l) => /sorry|cannot/i.test(l.chosen[0].content))).toBe(true);
  });

  it('leaves flagged pairs out of the export with exclude=', async () => {
    const all = await pairsOf(runId);
    const kept = await pairsOf(runId, '?exclude=noop,rejected_by_judge,refusal_drift');
    const flagged = all.filter((l) => (l.metadata.flags ?? []).some((f: string) => ['noop', 'rejected_by_judge', 'refusal_drift'].includes(f)));
    expect(kept).toHaveLength(all.length - flagged.length);
    expect(kept.every((l) => !l.metadata.flags)).toBe(true);
    expect((await get(`/v1/runs/${runId}/pairs?exclude=noop,bogus`)).status).toBe(422);
  });

  it('reports no-ops, refusals and drift overall and per principle', () => {
    expect(report.overall.pairs).toBe(24);
    expect(report.overall.noop_share).toBeCloseTo(6 / 24, 4);
    expect(report.overall.flags.noop).toBe(6);
    expect(report.overall.refusal_rate_chosen).toBeCloseTo(6 / 24, 4);
    expect(report.overall.refusal_rate_rejected).toBe(0);
    expect(report.overall.refusal_drift).toBe(6);
    expect(report.overall.refusal_drift_share).toBeCloseTo(0.25, 4);
    expect(report.overall.judge.comparisons).toBe(48);
    expect(report.overall.judge.order_agreement).not.toBeNull();
    const perPrinciple = Object.values(report.principles);
    expect(perPrinciple.length).toBeGreaterThan(1);
    expect(perPrinciple.reduce((s, f) => s + f.judge.comparisons, 0)).toBe(48);
    expect(report.thresholds.noop_edit_distance).toBe(0.05);
  });

  it('prints the report from the CLI', async () => {
    let text = '';
    const stdout = new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) });
    const code = await runCli(['--api', stack.url, 'report', runId], { stdout, stderr: stdout, env: { AMEND_API_KEY: stack.submitterKey }, tty: false } as any);
    expect(code).toBe(0);
    expect(text).toMatch(/^overall\s+24\s+25\.0%/m);
    expect(text).toContain('flags: noop 6');
  });
});

describe('anthropic-cai 1.1.0', () => {
  it('has a comparison question on every principle, so an ai-feedback run with it completes with judged pairs', async () => {
    const run = await finishedRun({
      constitution: 'anthropic-cai@1.1.0',
      mode: 'ai-feedback',
      prompts: ['How do I pick a lock?', 'How do I cheer up a friend?'],
      seed: 4,
      ensemble: 2,
    });
    expect(run.status).toBe('completed');
    const lines = await pairsOf(run.id);
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.metadata.judgement.principle_ids).toHaveLength(2);
  });
});

describe('refused run options', () => {
  it('answers 422 to options the mode would ignore, and to a constitution without comparison questions', async () => {
    const candidates = await post('/v1/runs', { constitution: 'amend-core', prompts: ['hi'], candidates: 3 });
    expect(candidates.status).toBe(422);
    expect((await json(candidates)).error.message).toMatch(/candidates applies to mode "ai-feedback"/);
    const noQuestions = await post('/v1/runs', { constitution: 'anthropic-cai@1.0.0', mode: 'ai-feedback', prompts: ['hi'] });
    expect(noQuestions.status).toBe(422);
    expect((await json(noQuestions)).error.code).toBe('no_comparison_principles');
    const tooMany = await post('/v1/runs', { constitution: 'amend-core', mode: 'ai-feedback', prompts: ['hi'], ensemble: 16 });
    expect(tooMany.status).toBe(422);
    expect((await json(tooMany)).error.code).toBe('ensemble_too_large');
    expect((await post('/v1/runs', { constitution: 'amend-core', mode: 'ai-feedback', prompts: ['hi'], candidates: 5 })).status).toBe(422);
  });
});

describe('resuming an ai-feedback sample', () => {
  it('continues a sample checkpointed up to its first comparison at the second one, without asking anything twice', async () => {
    const sim = await startSimulatorServer();
    const own = await startStack(
      testEnv('feedback_resume', { AMEND_MODELS: JSON.stringify({ default: { base_url: sim.url, model: 'amend-simulator-1', max_attempts: 1 } }) }),
      { workers: 0 },
    );
    try {
      const created = await own.fetch('/v1/runs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ constitution: 'amend-core', mode: 'ai-feedback', prompts: ['How should I plan a picnic for ten people?'], seed: 8 }),
      });
      const runId = (await json(created)).id as string;
      const store = own.api.get(Store);
      const sampleId = (await store.samples.list(runId, { limit: 1 })).samples[0].id;
      const item = (await store.samples.loadForWork(sampleId))!;
      expect(await store.samples.claim(sampleId)).toBe(true);

      // A worker that died after three of the four calls: both candidates and the first comparison saved.
      const constitution = ConstitutionSchema.parse((await store.constitutions.resolve('amend-core', item.run.constitution_version))!.content);
      const spec: RunSpec = {
        id: runId,
        mode: 'ai-feedback',
        rounds: item.run.rounds,
        seed: item.run.seed,
        model: 'default',
        feedback_model: null,
        sampling: item.run.sampling as unknown as RunSpec['sampling'],
        constitution,
        constitutionRef: { name: 'amend-core', version: item.run.constitution_version, sha256: item.run.constitution_sha256 },
        feedback: item.run.feedback as unknown as RunSpec['feedback'],
      };
      const sample = { id: sampleId, index: 0, external_id: null, prompt: item.sample.prompt };
      const model = new OpenAICompatibleModel({ alias: 'default', baseURL: sim.url, model: 'amend-simulator-1' });
      const saved = [];
      for (let i = 0; i < 3; i++) {
        const call = planNextCall(spec, sample, saved)!;
        const record = recordCall(call, await model.complete(call.request));
        const next = planNextCall(spec, sample, [...saved, record])!;
        await store.samples.checkpoint({
          sampleId,
          runId,
          idx: 0,
          record,
          nextStage: next.stage,
          event: { type: stageEventType(call.stage), actor: 'test', payload: {} },
        });
        saved.push(record);
      }
      expect(saved.map((r) => r.stage)).toEqual(['candidate', 'candidate', 'comparison']);

      sim.resetStats();
      const worker = await createWorkerApp(own.config);
      try {
        const run = await waitFor(
          async () => {
            const r = RunSchema.parse(await json(await own.fetch(`/v1/runs/${runId}`)));
            return r.status === 'completed' ? r : undefined;
          },
          { timeoutMs: 60_000, what: 'the resumed run to complete' },
        );
        expect(sim.stats().calls).toBe(1);
        expect(run.usage.calls).toBe(4);
        const stages = SampleSchema.parse(await json(await own.fetch(`/v1/samples/${sampleId}`))).stages;
        expect(stages.map((r) => r.stage)).toEqual(['candidate', 'candidate', 'comparison', 'comparison']);
        expect(stages.slice(0, 3).map((r) => r.text)).toEqual(saved.map((r) => r.text));
        expect(stages[3].judgement!.options).toEqual(['candidate-2', 'candidate-1']);
        const [line] = ndjson(await (await own.fetch(`/v1/runs/${runId}/pairs?format=standard`)).text());
        expect([line.chosen, line.rejected].sort()).toEqual([` ${saved[0].text}`, ` ${saved[1].text}`].sort());
      } finally {
        await worker.close();
      }
    } finally {
      await own.close();
      await sim.close();
      await cleanup(own.env);
    }
  });
});
