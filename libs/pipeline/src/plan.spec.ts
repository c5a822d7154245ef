import type { StageRecord } from '@amend/contracts';
import { PipelineError } from './errors';
import { callsPerSample, isLastCall, planNextCall, recordCall, requestSeed, stageAt } from './plan';
import { fakeResult, feedbackRun, judgedConstitution, makeRun, makeSample, runToEnd } from './testing/fixtures';

function expectInconsistent(fn: () => unknown, detail: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(PipelineError);
  expect((caught as PipelineError).code).toBe('inconsistent_records');
  expect((caught as PipelineError).message).toMatch(detail);
}

describe('planning the calls of a sample', () => {
  const run = makeRun({ rounds: 3 });
  const sample = makeSample();
  const { calls, records } = runToEnd(run, sample);

  it('makes 1 + 2 x rounds calls: the draft, then a critique and a revision per round', () => {
    expect(callsPerSample({ rounds: 1 })).toBe(3);
    expect(callsPerSample({ rounds: 8 })).toBe(17);
    expect(calls.map((c) => [c.seq, c.stage, c.round])).toEqual([
      [0, 'draft', 0],
      [1, 'critique', 1],
      [2, 'revision', 1],
      [3, 'critique', 2],
      [4, 'revision', 2],
      [5, 'critique', 3],
      [6, 'revision', 3],
    ]);
    expect(calls[0].principle_id).toBeNull();
    expect(calls.slice(1).every((c) => typeof c.principle_id === 'string')).toBe(true);
    expect(stageAt(6)).toEqual({ stage: 'revision', round: 3 });
  });

  it('plans the same principles and seeds for the same prompt position in another run, whatever the sample id', () => {
    // A rerun (or a manifest replay) stores new sample ids; the draws must not depend on them.
    const again = runToEnd(makeRun({ rounds: 3, id: '11111111-2222-4333-8444-555555555555' }), makeSample({ id: '99999999-8888-4777-8666-555555555555' }));
    expect(again.calls).toEqual(calls);
    // Another position draws anew.
    const other = runToEnd(run, makeSample({ index: 4 })).calls;
    expect(other.map((c) => c.request.seed)).not.toEqual(calls.map((c) => c.request.seed));
  });

  it('returns null once every stage is done', () => {
    expect(planNextCall(run, sample, records)).toBeNull();
  });

  it('resumes from any prefix of records at exactly the call a fresh run would make next', () => {
    for (let k = 0; k < records.length; k++) {
      expect(planNextCall(run, sample, records.slice(0, k))).toEqual(calls[k]);
    }
  });

  it('accepts records in any order, since the store may return them unsorted', () => {
    const shuffled = [records[2], records[0], records[3], records[1]];
    expect(planNextCall(run, sample, shuffled)).toEqual(calls[4]);
  });

  it('asks every call with the run model alias, the run sampling and a per-call seed that reruns reproduce', () => {
    for (const call of calls) {
      expect(call.request.alias).toBe('default');
      expect(call.request.sampling).toEqual(run.sampling);
      expect(call.request.seed).toBe(requestSeed(run.seed, sample.index, call.seq));
      expect(Number.isInteger(call.request.seed) && call.request.seed! >= 0 && call.request.seed! < 2 ** 31).toBe(true);
    }
    expect(new Set(calls.map((c) => c.request.seed)).size).toBe(calls.length);
    expect(runToEnd(makeRun({ rounds: 3 }), makeSample()).calls).toEqual(calls);
    expect(requestSeed(43, sample.index, 0)).not.toBe(requestSeed(42, sample.index, 0));
  });

  it('records the exact request messages and what the backend reported', () => {
    const call = calls[3];
    const result = fakeResult(call, { text: 'critique text', model: 'm-reported', simulated: true, latency_ms: 12.5 });
    const record = recordCall(call, result);
    expect(record).toEqual({
      seq: 3,
      stage: 'critique',
      round: 2,
      principle_id: call.principle_id,
      messages: call.request.messages,
      text: 'critique text',
      model: 'm-reported',
      usage: { prompt_tokens: 103, completion_tokens: 13 },
      latency_ms: 12.5,
      simulated: true,
      finish_reason: 'stop',
    });
    expect(record.messages).not.toBe(call.request.messages);
    expect(record).not.toHaveProperty('created_at');
  });

  it('marks only the final revision of the final round as the last call', () => {
    expect(calls.map((c) => isLastCall(run, c))).toEqual([false, false, false, false, false, false, true]);
  });

  describe('rejects inconsistent records', () => {
    const edit = (i: number, patch: Partial<StageRecord>) => records.map((r, j) => (j === i ? { ...r, ...patch } : r));

    it('a gap in seq', () => {
      expectInconsistent(() => planNextCall(run, sample, [records[0], records[2]]), /seq 1 is missing/);
    });

    it('records that do not start at the draft', () => {
      expectInconsistent(() => planNextCall(run, sample, records.slice(1, 3)), /seq 0 is missing/);
    });

    it('the same seq twice', () => {
      expectInconsistent(() => planNextCall(run, sample, [records[0], records[1], records[1]]), /seq 1 appears twice/);
    });

    it('a stage that does not belong at its seq', () => {
      expectInconsistent(() => planNextCall(run, sample, edit(1, { stage: 'revision' }).slice(0, 2)), /expected critique round 1/);
    });

    it('a round that does not belong at its seq', () => {
      expectInconsistent(() => planNextCall(run, sample, edit(2, { round: 2 }).slice(0, 3)), /expected revision round 1/);
    });

    it('a principle other than the one the run seed selects', () => {
      const other = run.constitution.principles.find((p) => p.id !== records[1].principle_id)!.id;
      expectInconsistent(() => planNextCall(run, sample, edit(1, { principle_id: other }).slice(0, 2)), /principle/);
    });

    it('messages that differ from the conversation the plan builds', () => {
      const altered = records[3].messages.map((m, i) => (i === 8 ? { ...m, content: 'tampered' } : m));
      expectInconsistent(() => planNextCall(run, sample, edit(3, { messages: altered }).slice(0, 4)), /at message 8/);
    });

    it('more records than the run makes', () => {
      const extra = { ...records[6], seq: 7 };
      expectInconsistent(() => planNextCall(run, sample, [...records, extra]), /8 stage records/);
    });

    it('records of a run with more rounds', () => {
      const longer = runToEnd(makeRun({ rounds: 4 }), sample).records;
      expectInconsistent(() => planNextCall(run, sample, longer), /stage records/);
    });
  });

  it('refuses a run whose constitution is not the version it cites', () => {
    const ref = { ...run.constitutionRef, version: '1.0.1' };
    expect(() => planNextCall(makeRun({ constitutionRef: ref }), sample, [])).toThrow(/cites test-core@1.0.1/);
  });

  it('refuses runs with rounds outside 1..8', () => {
    for (const rounds of [0, 9, 1.5]) {
      expect(() => planNextCall(makeRun({ rounds }), sample, [])).toThrow(/rounds must be an integer from 1 to 8/);
    }
  });

  describe('continuing from the call just answered (the walk)', () => {
    const runs = {
      'critique-revise, 3 rounds': makeRun({ rounds: 3 }),
      'critique-revise with verify, ensemble 2': makeRun({
        rounds: 1,
        constitution: judgedConstitution,
        feedback_model: 'judge',
        feedback: { candidates: 2, ensemble: 2, cot: false, verify: true, min_margin: 0 },
      }),
      'ai-feedback, 3 candidates': feedbackRun({ candidates: 3 }),
    };

    it.each(Object.entries(runs))('%s: plans every call as replaying all the records does', (_name, r) => {
      // The second implementation is the replay from the first record (no `last`).
      const { calls, records } = runToEnd(r, sample);
      for (let k = 1; k <= records.length; k++) {
        const done = records.slice(0, k);
        expect(planNextCall(r, sample, done, calls[k - 1])).toEqual(planNextCall(r, sample, done));
      }
    });

    it('still checks the record that answers the call', () => {
      const [draft] = calls;
      const altered = { ...records[0], messages: [{ role: 'user' as const, content: 'another prompt' }] };
      expectInconsistent(() => planNextCall(run, sample, [altered], draft), /seq 0: the messages sent differ/);
      expectInconsistent(() => planNextCall(run, sample, [{ ...records[0], stage: 'critique' as const }], draft), /seq 0 is critique/);
    });
  });
});
