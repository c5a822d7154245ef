import { randomUUID } from 'node:crypto';
import type { PairRecord, SampleStatus, StageRecord } from '@amend/contracts';
import type { Kysely } from 'kysely';
import { Store, type CheckpointInput, type Database, type SampleChainHead } from '@amend/store';
import { dbForFile, stackForFile, testEnv, type Stack } from './support/stack';

/**
 * The checkpoint's two paths (the group commit and the locking transaction) against a real
 * Postgres, driven by hand: no worker runs, so the test decides which path each checkpoint takes.
 */
const env = testEnv('checkpoint');
let stack: Stack;
let store: Store;
let db: Kysely<Database>;

stackForFile(env, { workers: 0 }, (s) => {
  stack = s;
  store = s.api.get(Store);
});
dbForFile(env, (d) => (db = d));

async function newRun(prompts: number): Promise<{ runId: string; samples: { id: string; idx: number }[] }> {
  const res = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ constitution: 'amend-core', prompts: Array.from({ length: prompts }, (_, i) => `prompt ${i}`), seed: 1 }),
  });
  const runId = ((await res.json()) as { id: string }).id;
  const { samples } = await store.samples.list(runId, { limit: 1000 });
  return { runId, samples: samples.map((s) => ({ id: s.id, idx: s.index })) };
}

/** Three stages by hand (draft, critique, revision + pair), the same content whatever the sample. */
function stages(runId: string, sampleId: string): Omit<CheckpointInput, 'head'>[] {
  const names = ['draft', 'critique', 'revision'] as const;
  return names.map((stage, seq) => {
    const record: StageRecord = {
      seq,
      stage,
      round: seq === 0 ? 0 : 1,
      principle_id: seq === 0 ? null : 'p1',
      messages: [
        { role: 'user', content: 'hello' },
        { role: 'assistant', content: `answer ${seq}` },
      ],
      text: `text of ${stage}`,
      model: 'm',
      usage: { prompt_tokens: 10 + seq, completion_tokens: 5 },
      latency_ms: 3,
      simulated: true,
      finish_reason: seq === 1 ? 'length' : 'stop',
    };
    const last = seq === 2;
    const pair = {
      id: randomUUID(),
      run_id: runId,
      sample_id: sampleId,
      chosen: 'c',
      rejected: 'r',
      metadata: { flags: ['rejected_by_judge'] },
    } as unknown as PairRecord;
    return {
      sampleId,
      runId,
      idx: 0,
      record,
      nextStage: last ? 'done' : names[seq + 1],
      event: { type: `${stage}.generated`, actor: 'test', payload: { seq, stage } },
      ...(last && { pair: { record: pair, quality: QUALITY, event: { type: 'pair.emitted', actor: 'test', payload: { n: 1 } } } }),
      spend: { costUsd: 0.5, budgeted: false },
    };
  });
}

/** Samples of the run with this status, counted in the table. */
async function samplesIn(runId: string, status: SampleStatus): Promise<number> {
  const row = await db
    .selectFrom('samples')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('run_id', '=', runId)
    .where('status', '=', status)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The report's figures of the pair, stored with it by either path. */
const QUALITY = { chosen_chars: 1, rejected_chars: 1, chosen_refuses: false, rejected_refuses: false, p_chosen: null, principle_ids: ['p1'], comparisons: [] };

async function rowsOf(sampleId: string) {
  const sample = await db
    .selectFrom('samples')
    .select(['status', 'stage', 'calls', 'prompt_tokens', 'completion_tokens', 'cost_usd', 'audit_seq'])
    .where('id', '=', sampleId)
    .executeTakeFirstOrThrow();
  const records = await db
    .selectFrom('stage_records')
    .select([
      'seq',
      'stage',
      'round',
      'principle_id',
      'messages',
      'text',
      'model',
      'prompt_tokens',
      'completion_tokens',
      'latency_ms',
      'simulated',
      'judgement',
      'finish_reason',
    ])
    .where('sample_id', '=', sampleId)
    .orderBy('seq')
    .execute();
  const events = await db
    .selectFrom('audit_events')
    .select(['seq', 'type', 'actor', 'payload', 'chain'])
    .where('sample_id', '=', sampleId)
    .orderBy('seq')
    .execute();
  const pairs = await db.selectFrom('pairs').select(['flags', 'quality']).where('sample_id', '=', sampleId).execute();
  return { sample, records, events: events.map((e) => ({ ...e, chain: e.chain.replace(sampleId, 'S') })), pairs };
}

describe('checkpoints', () => {
  it('the group commit and the locking transaction write the same rows', async () => {
    const { runId, samples } = await newRun(2);
    const [a, b] = samples;
    const grouped = (await store.samples.claimForWork(a.id))!;
    await store.samples.claimForWork(b.id);
    const claimed = { seq: grouped.sample.audit_seq, hash: grouped.sample.audit_hash };
    let head: SampleChainHead | undefined = claimed;
    const outA: string[] = [];
    for (const s of stages(runId, a.id)) {
      const saved = await store.samples.checkpoint({ ...s, head });
      outA.push(saved.outcome);
      head = 'head' in saved ? saved.head : undefined;
    }
    const outB: string[] = [];
    // Without a head, every checkpoint takes the locking path.
    for (const s of stages(runId, b.id)) outB.push((await store.samples.checkpoint(s)).outcome);
    expect(outA).toEqual(['saved', 'saved', 'completed']);
    expect(outB).toEqual(['saved', 'saved', 'completed']);
    const rowsA = await rowsOf(a.id);
    expect(rowsA.records).toHaveLength(3);
    expect(rowsA.events.map((e) => e.type)).toEqual(['draft.generated', 'critique.generated', 'revision.generated', 'pair.emitted']);
    expect(rowsA.pairs).toEqual([{ flags: ['rejected_by_judge'], quality: QUALITY }]);
    expect(rowsA.sample).toMatchObject({ status: 'completed', stage: 'done', calls: 3, audit_seq: 3 });
    expect(Number(rowsA.sample.prompt_tokens)).toBe(10 + 11 + 12);
    expect(Number(rowsA.sample.cost_usd)).toBe(1.5);
    expect(rowsA).toEqual(await rowsOf(b.id));
    // Each save returned the chain's new head, and the claim's was left as it was: the last is the pair's event.
    expect(head?.seq).toBe(3);
    expect(head?.hash).toBe((await db.selectFrom('samples').select('audit_hash').where('id', '=', a.id).executeTakeFirstOrThrow()).audit_hash);
    expect(claimed.seq).toBe(grouped.sample.audit_seq);
    for (const s of [a, b]) expect((await store.audit.verifyChain(`sample:${s.id}`)).ok).toBe(true);
  });

  it('checkpoints of many samples made together share commits, and each resolves with its own outcome', async () => {
    const { runId, samples } = await newRun(40);
    const heads = new Map<string, { seq: number; hash: string }>();
    for (const s of samples) {
      const item = (await store.samples.claimForWork(s.id))!;
      heads.set(s.id, { seq: item.sample.audit_seq, hash: item.sample.audit_hash });
    }
    const before = store.samples.groupStats();
    const outcomes = await Promise.all(
      samples.map(async (s) => {
        const out: string[] = [];
        let head = heads.get(s.id);
        for (const st of stages(runId, s.id)) {
          const saved = await store.samples.checkpoint({ ...st, idx: s.idx, head });
          out.push(saved.outcome);
          head = 'head' in saved ? saved.head : undefined;
        }
        return out;
      }),
    );
    const after = store.samples.groupStats();
    for (const o of outcomes) expect(o).toEqual(['saved', 'saved', 'completed']);
    const statements = after.statements - before.statements;
    expect(after.checkpoints - before.checkpoints).toBe(40 * 3);
    // 120 checkpoints went in far fewer statements: each waited for the commit in flight at most.
    expect(statements).toBeLessThan(40 * 3);
    expect(await samplesIn(runId, 'completed')).toBe(40);
    const pairs = await db
      .selectFrom('pairs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('run_id', '=', runId)
      .executeTakeFirstOrThrow();
    expect(Number(pairs.n)).toBe(40);
  });

  it('claims made together share statements, and each gets its own sample or nothing', async () => {
    const { runId, samples } = await newRun(30);
    // Behind the service's back: one sample finished, one cancelled; neither may be claimed.
    const [done, cancelled] = samples;
    await db.updateTable('samples').set({ status: 'completed' }).where('id', '=', done.id).execute();
    await db.updateTable('samples').set({ status: 'cancelled' }).where('id', '=', cancelled.id).execute();
    const before = store.samples.claimStats();
    // Every sample claimed at once, and the third one twice (a stalled job's sample taken again).
    const ids = [...samples.map((s) => s.id), samples[2].id];
    const items = await Promise.all(ids.map((id) => store.samples.claimForWork(id)));
    const after = store.samples.claimStats();
    expect(items[0]).toBeUndefined();
    expect(items[1]).toBeUndefined();
    items.slice(2).forEach((item, k) => {
      expect(item?.sample.id).toBe(ids[k + 2]);
      expect(item?.sample.status).toBe('running');
      expect(item?.run.id).toBe(runId);
      expect(item?.records).toEqual([]);
    });
    expect(after.claims - before.claims).toBe(31);
    expect(after.statements - before.statements).toBeLessThan(31);
    expect(await samplesIn(runId, 'running')).toBe(28);
  });

  it('a checkpoint whose head moved, or whose sample was cancelled, takes the locking path', async () => {
    const { runId, samples } = await newRun(2);
    const [a, b] = samples;
    await store.samples.claimForWork(a.id);
    await store.samples.claimForWork(b.id);
    const [draftA] = stages(runId, a.id);
    // A head this caller did not see (another worker saved meanwhile): the guard does not match.
    const stale = { seq: 7, hash: 'f'.repeat(64) };
    const saved = await store.samples.checkpoint({ ...draftA, head: stale });
    // The locked path returns the real head: the draft's event, the chain's first.
    expect(saved).toEqual({ outcome: 'saved', head: { seq: 0, hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    // The same stage again: already saved, nothing written.
    expect(await store.samples.checkpoint({ ...draftA, head: 'head' in saved ? saved.head : undefined })).toEqual({ outcome: 'duplicate' });

    const itemB = (await store.samples.claimForWork(b.id))!;
    await store.runs.cancel(runId, 'test');
    await db.updateTable('samples').set({ status: 'cancelled' }).where('id', '=', b.id).execute();
    const [draftB] = stages(runId, b.id);
    expect((await store.samples.checkpoint({ ...draftB, head: { seq: itemB.sample.audit_seq, hash: itemB.sample.audit_hash } })).outcome).toBe('stopped');
    // A cancelled run's sample is not claimed again.
    expect(await store.samples.claimForWork(b.id)).toBeUndefined();
  });
});
