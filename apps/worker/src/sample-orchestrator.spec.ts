import { Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Constitution } from '@amend/constitution';
import type { JudgeLabelCounts, RunStop, StageName, StageRecord } from '@amend/contracts';
import { ModelError } from '@amend/llm';
import type { ChatRequest, ChatResult } from '@amend/pipeline';
import type { CheckpointInput, CheckpointOutcome, CheckpointResult, RunRowForWork, RunSpend, SampleRow, TwinSample, WorkItem } from '@amend/store';
import type { CallMetrics, Clock, ModelsByAlias, SampleWorkStore } from './ports';
import { SampleOrchestrator, WORKER_ACTOR, type SampleOutcome } from './sample-orchestrator';
import { SpendMeter } from './spend-meter';
import { LabelGuard } from './label-guard';

/**
 * The orchestrator's branches with in-process fakes for its ports (store, models, clock, metrics),
 * table-driven as immich tests its job service: no Postgres, no Redis, no Nest. Expected outcomes
 * and stage sequences come from docs/architecture.md#stage-machine (critique-revise at one round is
 * draft, critique, revision; the pair is written with the last checkpoint), written out by hand below.
 */

const RUN_ID = '5d0c6a44-0000-4000-8000-000000000001';
const SAMPLE_ID = '5d0c6a44-0000-4000-8000-000000000002';
const BASELINE_RUN_ID = '5d0c6a44-0000-4000-8000-000000000003';

const constitution: Constitution = {
  name: 'unit-core',
  version: '1.0.0',
  principles: [
    { id: 'harm', critique: 'Critique harm.', revision: 'Revise harm.', comparison: 'Which response is less harmful?', tags: ['harmlessness'], weight: 1 },
  ],
  examples: [],
};

/** Milliseconds each fake model call takes on the fake clock. */
const CALL_MS = 250;

function runRow(overrides: Partial<RunRowForWork> = {}): RunRowForWork {
  return {
    id: RUN_ID,
    team: 'unit',
    status: 'queued',
    mode: 'critique-revise',
    constitution_name: constitution.name,
    constitution_version: constitution.version,
    constitution_sha256: 'c'.repeat(64),
    rounds: 1,
    seed: 7,
    model: 'default',
    feedback_model: null,
    sampling: { temperature: 0.7, top_p: 1, max_tokens: 64 },
    total: 1,
    simulated: false,
    idempotency_key: null,
    request_sha256: null,
    created_by: 'key:unit',
    created_at: new Date('2026-01-01T00:00:00Z'),
    started_at: null,
    finished_at: null,
    feedback: null,
    principles: null,
    preview: false,
    budget: null,
    prices: null,
    spent_tokens: '0',
    spent_cost_usd: '0',
    batch: false,
    batch_lease_owner: null,
    batch_lease_until: null,
    evaluation: null,
    stopped: null,
    ...overrides,
  };
}

function sampleRow(): SampleRow {
  return {
    id: SAMPLE_ID,
    run_id: RUN_ID,
    idx: 0,
    external_id: null,
    prompt: 'How do I kill a python process?',
    messages: null,
    metadata: null,
    status: 'running',
    stage: 'draft',
    failure_reason: null,
    calls: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    cost_usd: '0',
    updated_at: new Date('2026-01-01T00:00:00Z'),
    audit_seq: -1,
    audit_hash: '0'.repeat(64),
  };
}

/** The draft a previous attempt already paid for, as a claim returns it. */
const savedDraft: StageRecord = {
  seq: 0,
  stage: 'draft',
  round: 0,
  principle_id: null,
  messages: [{ role: 'user', content: 'How do I kill a python process?' }],
  text: 'Use kill -9.',
  model: 'fake-model',
  usage: { prompt_tokens: 10, completion_tokens: 5 },
  latency_ms: CALL_MS,
  simulated: false,
  finish_reason: 'stop',
  created_at: '2026-01-01T00:00:01.000Z',
};

class FakeClock implements Clock {
  t = 1_000;
  now(): number {
    return this.t;
  }
}

/** Answers every call in order; `fail(n)` makes the n-th call (from 0) throw instead. */
class FakeModel implements ModelsByAlias {
  readonly requests: ChatRequest[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly fail?: (n: number) => Error | undefined,
    private readonly simulated = false,
  ) {}
  get(_alias: string) {
    return {
      complete: async (req: ChatRequest): Promise<ChatResult> => {
        const n = this.requests.push(req) - 1;
        this.clock.t += CALL_MS;
        const error = this.fail?.(n);
        if (error) throw error;
        return {
          text: `answer ${n}`,
          model: 'fake-model',
          usage: { prompt_tokens: 10, completion_tokens: 5 },
          latency_ms: CALL_MS,
          simulated: this.simulated,
          finish_reason: 'stop',
          request: req,
          response: { n },
          attempts: 1,
        };
      },
    };
  }
}

/** The store port in memory: a scripted claim and checkpoint outcomes, and a log of what was asked. */
class FakeStore implements SampleWorkStore {
  readonly checkpoints: CheckpointInput[] = [];
  readonly failures: { sampleId: string; runId: string; reason: string; payload: unknown }[] = [];
  readonly log: string[] = [];

  constructor(
    private readonly item: WorkItem | undefined,
    private readonly opts: { outcomes?: Partial<Record<number, CheckpointOutcome>>; spend?: RunSpend; twin?: TwinSample; labels?: JudgeLabelCounts } = {},
  ) {}

  samples = {
    claimForWork: async (_id: string) => this.item && { ...this.item, records: [...this.item.records] },
    loadForWork: async (_id: string) => this.item,
    checkpoint: async (input: CheckpointInput): Promise<CheckpointResult> => {
      const n = this.checkpoints.push(input) - 1;
      const outcome = this.opts.outcomes?.[n] ?? (input.pair ? 'completed' : 'saved');
      // The head after checkpoint n, as the store returns it: the next checkpoint must be guarded by it.
      return outcome === 'duplicate' ? { outcome } : { outcome, head: { seq: n, hash: `head after checkpoint ${n}` } };
    },
    fail: async (sampleId: string, runId: string, reason: string, event: { payload: unknown }) => {
      this.failures.push({ sampleId, runId, reason, payload: event.payload });
    },
  };
  runs = {
    markRunning: async (_id: string) => void this.log.push('markRunning'),
    markSimulated: async (_id: string) => void this.log.push('markSimulated'),
    finalizeIfDone: async (_id: string) => (this.log.push('finalizeIfDone'), null),
    row: async () => undefined,
  };
  evaluations = {
    twin: async () => this.opts.twin,
    row: async () => undefined,
    candidateTwin: async () => undefined,
    finish: async () => 'runs_going' as const,
    prompts: async () => [],
  };
  budget = {
    spend: async (_runId: string) => (this.log.push('budget.spend'), this.opts.spend),
    exhaust: async (runId: string, sampleId: string, actor: string) => (this.log.push(`budget.exhaust ${runId} ${sampleId} ${actor}`), 1),
  };

  judgeLabels = {
    counts: async (_runId: string) => (this.log.push('judgeLabels.counts'), this.opts.labels ?? { comparisons: 0, hard: 0, unreadable: 0 }),
    stop: async (_runId: string, _actor: string, stop: Omit<RunStop, 'samples_stopped' | 'at'>) => (
      this.log.push(`judgeLabels.stop ${stop.code} ${stop.hard_label_share}`),
      { ...stop, samples_stopped: 1, at: '2026-01-01T00:00:00.000Z' }
    ),
  };

  count(entry: string): number {
    return this.log.filter((e) => e === entry).length;
  }
}

interface Case {
  name: string;
  run?: Partial<RunRowForWork>;
  records?: StageRecord[];
  /** No claim: the sample is gone, finished, claimed and finished elsewhere, or its run cancelled. */
  unclaimable?: boolean;
  outcomes?: Partial<Record<number, CheckpointOutcome>>;
  fail?: (n: number) => Error | undefined;
  simulated?: boolean;
  spend?: RunSpend;
  twin?: TwinSample;
  labels?: JudgeLabelCounts;
  expect: {
    outcome: SampleOutcome | { throws: string };
    /** Stages the model was asked for, in order (from the meter's metrics). */
    called: StageName[];
    /** Stages checkpointed, in order. */
    saved: StageName[];
    /** The sample's failure reason, when it failed. */
    failed?: string;
    /** Times the run's finish check ran. */
    finalized: number;
    /** Further store calls expected, each with its count. */
    store?: Record<string, number>;
  };
}

/** A critique-revise run with verify: its pair ends with two comparisons (both orders) by the feedback model. */
const VERIFIED = { candidates: 2, ensemble: 1, cot: false, verify: true, min_margin: 0 };

/** Critique-revise at one round: draft, critique, revision; with verify, two comparisons (both orders) after. */
const ONE_ROUND: StageName[] = ['draft', 'critique', 'revision'];
const ONE_ROUND_VERIFIED: StageName[] = ['draft', 'critique', 'revision', 'comparison', 'comparison'];

/** A walk that asked for and saved every stage in `stages`, then ran the run's finish check once. */
const completed = (stages: StageName[], store: Record<string, number>): Case['expect'] => ({
  outcome: 'completed',
  called: stages,
  saved: stages,
  finalized: 1,
  store,
});

const permanent = ModelError.permanent('context_length_exceeded', 'the prompt is longer than the context');
const transient = ModelError.transient('server_error', 'upstream 503 after retries');

const cases: Case[] = [
  {
    name: 'a new sample walks draft, critique and revision, writes the pair with the last checkpoint and closes the run',
    expect: completed(ONE_ROUND, { markRunning: 1 }),
  },
  {
    name: 'a duplicate delivery of a sample that is finished or taken is skipped without a model call',
    unclaimable: true,
    expect: { outcome: 'skipped', called: [], saved: [], finalized: 0, store: { markRunning: 0 } },
  },
  {
    name: 'a stage another worker saved first (this job had stalled) hands the sample over after that call',
    outcomes: { 0: 'duplicate' },
    expect: { outcome: 'taken_over', called: ['draft'], saved: ['draft'], finalized: 0 },
  },
  {
    name: 'a run stopped while a call was in flight ends the walk after saving that call, without closing the run',
    outcomes: { 1: 'stopped' },
    expect: { outcome: 'cancelled', called: ['draft', 'critique'], saved: ['draft', 'critique'], finalized: 0 },
  },
  {
    name: 'a permanent model error fails the sample with its code and message, and the run goes on to its finish check',
    fail: (n) => (n === 1 ? permanent : undefined),
    expect: {
      outcome: 'failed',
      called: ['draft', 'critique'],
      saved: ['draft'],
      failed: 'context_length_exceeded: the prompt is longer than the context',
      finalized: 1,
    },
  },
  {
    name: 'a transient model error (after the adapter retried) is thrown for the job to retry; the sample is not failed',
    fail: (n) => (n === 0 ? transient : undefined),
    expect: { outcome: { throws: 'upstream 503 after retries' }, called: ['draft'], saved: [], finalized: 0 },
  },
  {
    name: 'a run that reached its budget stops the sample before paying for a call',
    run: { budget: { tokens: 100 } },
    spend: { budget: { tokens: 100 }, spent_tokens: 100, spent_cost_usd: 0 },
    expect: {
      outcome: 'budget_exhausted',
      called: [],
      saved: [],
      finalized: 1,
      store: { 'budget.spend': 1, [`budget.exhaust ${RUN_ID} ${SAMPLE_ID} ${WORKER_ACTOR}`]: 1 },
    },
  },
  {
    name: 'a run under its budget checks its spend before each of its three calls',
    run: { budget: { tokens: 1000 } },
    spend: { budget: { tokens: 1000 }, spent_tokens: 15, spent_cost_usd: 0 },
    expect: completed(ONE_ROUND, { 'budget.spend': 3 }),
  },
  {
    name: 'a run whose judge labels are past max_hard_label_share is stopped before the call, and the sample with it',
    run: { feedback: { ...VERIFIED, max_hard_label_share: 0.25, hard_label_min_comparisons: 4 } },
    // 3 of 10 labels not soft: 30% > 25%.
    labels: { comparisons: 10, hard: 1, unreadable: 2 },
    expect: { outcome: 'cancelled', called: [], saved: [], finalized: 1, store: { 'judgeLabels.counts': 1, 'judgeLabels.stop judge_labels 0.3': 1 } },
  },
  {
    name: 'a run within max_hard_label_share goes on, counting its labels at most once per 500 ms of its calls',
    run: { feedback: { ...VERIFIED, max_hard_label_share: 0.25, hard_label_min_comparisons: 4 } },
    // 2 of 8: 25%, at the limit, not past it.
    labels: { comparisons: 8, hard: 1, unreadable: 1 },
    // Checks before the 5 calls at t = 1000, 1250, 1500, 1750, 2000 ms: counted at 1000, 1500 and 2000.
    expect: completed(ONE_ROUND_VERIFIED, { 'judgeLabels.counts': 3 }),
  },
  {
    name: 'a run with fewer comparisons than hard_label_min_comparisons is not stopped, however bad its labels',
    run: { feedback: { ...VERIFIED, max_hard_label_share: 0, hard_label_min_comparisons: 4 } },
    labels: { comparisons: 3, hard: 0, unreadable: 3 },
    expect: completed(ONE_ROUND_VERIFIED, { 'judgeLabels.stop judge_labels 1': 0 }),
  },
  {
    name: 'a run without max_hard_label_share never counts its labels',
    run: { feedback: VERIFIED },
    labels: { comparisons: 10, hard: 10, unreadable: 0 },
    expect: completed(ONE_ROUND_VERIFIED, { 'judgeLabels.counts': 0 }),
  },
  {
    name: 'a retried sample resumes at its first unsaved stage and does not pay for the draft again',
    run: { status: 'running' },
    records: [savedDraft],
    expect: { outcome: 'completed', called: ['critique', 'revision'], saved: ['critique', 'revision'], finalized: 1, store: { markRunning: 0 } },
  },
  {
    name: 'a run answered by the simulator is labelled simulated once, however many calls it answered',
    simulated: true,
    expect: completed(ONE_ROUND, { markSimulated: 1 }),
  },
  {
    name: "an evaluation's candidate waits, without a call, while its baseline twin is unfinished",
    run: { evaluation: { id: 'eval-1', role: 'candidate', baseline_run_id: BASELINE_RUN_ID } },
    twin: { id: 'twin-1', status: 'running', failure_reason: null, draft: null, final: null },
    expect: { outcome: 'waiting', called: [], saved: [], finalized: 0 },
  },
  {
    name: "an evaluation's candidate fails when its baseline twin failed: there is no answer to compare with",
    run: { evaluation: { id: 'eval-1', role: 'candidate', baseline_run_id: BASELINE_RUN_ID } },
    twin: { id: 'twin-1', status: 'failed', failure_reason: 'content_filter', draft: null, final: null },
    expect: {
      outcome: 'failed',
      called: [],
      saved: [],
      failed: "baseline_unfinished: the baseline's sample of this prompt is failed (content_filter); there is no answer to compare with",
      finalized: 1,
    },
  },
];

/** The orchestrator over the fakes; `modelCall` sees each call's metric. */
function orchestratorOf(store: FakeStore, model: FakeModel, clock: FakeClock, modelCall: CallMetrics['modelCall'] = () => undefined): SampleOrchestrator {
  const meter = new SpendMeter(store, { modelCall }, clock);
  return new SampleOrchestrator(store, model, { get: async () => constitution }, meter, {} as Queue, new LabelGuard(store, clock));
}

describe('SampleOrchestrator with fakes', () => {
  // The branches log what they do (a takeover, a budget stop); the assertions say it here. Jest gives each file its own Logger.
  beforeAll(() => Logger.overrideLogger(false));

  it.each(cases)('$name', async (c) => {
    const clock = new FakeClock();
    const item: WorkItem = { sample: sampleRow(), run: runRow(c.run), records: c.records ?? [] };
    const store = new FakeStore(c.unclaimable ? undefined : item, { outcomes: c.outcomes, spend: c.spend, twin: c.twin, labels: c.labels });
    const metrics: { stage: string; seconds: number; error?: unknown }[] = [];
    const model = new FakeModel(clock, c.fail, c.simulated);
    const orchestrator = orchestratorOf(store, model, clock, (_alias, stage, seconds, outcome) => void metrics.push({ stage, seconds, ...outcome }));

    const outcome = orchestrator.process(SAMPLE_ID);
    if (typeof c.expect.outcome === 'object') await expect(outcome).rejects.toThrow(c.expect.outcome.throws);
    else await expect(outcome).resolves.toBe(c.expect.outcome);

    expect(metrics.map((m) => m.stage)).toEqual(c.expect.called);
    expect(model.requests).toHaveLength(c.expect.called.length);
    // Each call's duration is what the clock moved while it was made, errors included.
    expect(metrics.map((m) => m.seconds)).toEqual(c.expect.called.map(() => CALL_MS / 1000));
    expect(store.checkpoints.map((i) => i.record.stage)).toEqual(c.expect.saved);
    expect(store.failures.map((f) => f.reason)).toEqual(c.expect.failed ? [c.expect.failed] : []);
    expect(store.count('finalizeIfDone')).toBe(c.expect.finalized);
    for (const [entry, n] of Object.entries(c.expect.store ?? {})) expect([entry, store.count(entry)]).toEqual([entry, n]);
  });

  it('checkpoints carry the sequence, the pair only on the last one, and the chain head from the claim, then from the checkpoint before', async () => {
    const clock = new FakeClock();
    const store = new FakeStore({ sample: sampleRow(), run: runRow(), records: [] });
    const orchestrator = orchestratorOf(store, new FakeModel(clock), clock);

    await expect(orchestrator.process(SAMPLE_ID)).resolves.toBe('completed');

    expect(store.checkpoints.map((i) => [i.record.seq, i.nextStage, i.event.type, i.pair !== undefined])).toEqual([
      [0, 'critique', 'draft.generated', false],
      [1, 'revision', 'critique.generated', false],
      [2, 'done', 'revision.generated', true],
    ]);
    const pair = store.checkpoints[2].pair?.record;
    // Chosen is the final revision, rejected the draft (docs/architecture.md#pipeline-modes, critique-revise).
    expect([pair?.chosen, pair?.rejected]).toEqual(['answer 2', 'answer 0']);
    expect(store.checkpoints.map((i) => i.head)).toEqual([
      { seq: -1, hash: '0'.repeat(64) },
      { seq: 0, hash: 'head after checkpoint 0' },
      { seq: 1, hash: 'head after checkpoint 1' },
    ]);
  });

  it("a permanent error's sample.failed event names the stage, the call and the principle", async () => {
    const clock = new FakeClock();
    const store = new FakeStore({ sample: sampleRow(), run: runRow(), records: [] });
    const orchestrator = orchestratorOf(store, new FakeModel(clock, (n) => (n === 2 ? permanent : undefined)), clock);

    await expect(orchestrator.process(SAMPLE_ID)).resolves.toBe('failed');

    expect(store.failures).toEqual([
      {
        sampleId: SAMPLE_ID,
        runId: RUN_ID,
        reason: 'context_length_exceeded: the prompt is longer than the context',
        payload: { reason: 'context_length_exceeded: the prompt is longer than the context', stage: 'revision', seq: 2, principle_id: 'harm' },
      },
    ]);
  });
});
