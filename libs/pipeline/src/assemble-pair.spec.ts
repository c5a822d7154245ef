import { PairRecordSchema } from '@amend/contracts';
import { PipelineError } from './errors';
import { assemblePair } from './assemble-pair';
import { constitution, fakeResult, makeRun, makeSample, runToEnd } from './testing/fixtures';

const PAIR_ID = '5d1e8b7a-2c3f-4a6b-9d0e-1f2a3b4c5d6e';

describe('pair assembly', () => {
  const run = makeRun({ rounds: 3 });
  const sample = makeSample();
  const { calls, records } = runToEnd(run, sample);
  const pair = assemblePair(run, sample, records, PAIR_ID);

  it('chooses the final revision over the draft', () => {
    expect(pair.chosen).toBe('revision 3 (seq 6)');
    expect(pair.rejected).toBe('draft 0 (seq 0)');
    expect(pair.draft).toBe(pair.rejected);
    expect(pair.prompt).toBe(sample.prompt);
    expect([pair.id, pair.run_id, pair.sample_id]).toEqual([PAIR_ID, run.id, sample.id]);
  });

  it('keeps every round with its principle, requests and answers, and gives the last critique as the reason', () => {
    expect(pair.rounds).toHaveLength(3);
    pair.rounds.forEach((r, i) => {
      const principle = constitution.principles.find((q) => q.id === calls[2 * i + 1].principle_id)!;
      expect(r).toEqual({
        round: i + 1,
        principle_id: principle.id,
        critique_request: principle.critique,
        critique: `critique ${i + 1} (seq ${2 * i + 1})`,
        revision_request: principle.revision,
        revision: `revision ${i + 1} (seq ${2 * i + 2})`,
      });
    });
    expect(pair.reason).toBe('critique 3 (seq 5)');
  });

  it('sets category to the tags of the principles used, in round order, without repeats', () => {
    const expected: string[] = [];
    for (const r of pair.rounds) {
      for (const t of constitution.principles.find((q) => q.id === r.principle_id)!.tags) {
        if (!expected.includes(t)) expected.push(t);
      }
    }
    expect(pair.category).toEqual(expected);
    expect(new Set(pair.category).size).toBe(pair.category.length);
  });

  it('fills the metadata from the run, the sample and the records', () => {
    expect(pair.metadata).toEqual({
      mode: 'critique-revise',
      constitution: run.constitutionRef,
      principle_ids: calls.filter((c) => c.stage === 'critique').map((c) => c.principle_id),
      models: { policy: 'policy-model-v1', feedback: null },
      judgement: null,
      usage: {
        prompt_tokens: records.reduce((s, r) => s + r.usage.prompt_tokens, 0),
        completion_tokens: records.reduce((s, r) => s + r.usage.completion_tokens, 0),
        calls: 7,
      },
      simulated: false,
      seed: 42,
      sample_index: 3,
      external_id: 'demo-004',
      prompt_metadata: null,
    });
    expect(pair.metadata.usage.prompt_tokens).toBe(7 * 100 + 21);
  });

  it("carries the prompt's metadata into the pair unchanged", () => {
    const tagged = makeSample({ metadata: { source: 'hh', split: 'test', tags: ['a', 'b'], weight: 0.5 } });
    const made = assemblePair(run, tagged, runToEnd(run, tagged).records, PAIR_ID);
    expect(made.metadata.external_id).toBe('demo-004');
    expect(made.metadata.prompt_metadata).toEqual({ source: 'hh', split: 'test', tags: ['a', 'b'], weight: 0.5 });
    expect(PairRecordSchema.parse(made).metadata.prompt_metadata).toEqual({ source: 'hh', split: 'test', tags: ['a', 'b'], weight: 0.5 });
  });

  it('is marked simulated when any call was answered by the simulator', () => {
    const mixed = runToEnd(run, sample, (c) => fakeResult(c, { simulated: c.seq === 4 })).records;
    expect(assemblePair(run, sample, mixed, PAIR_ID).metadata.simulated).toBe(true);
  });

  it('validates against the contracts PairRecord schema', () => {
    expect(PairRecordSchema.parse(pair)).toEqual(pair);
    const oneRound = makeRun({ rounds: 1 });
    const single = assemblePair(oneRound, makeSample({ external_id: null }), runToEnd(oneRound, sample).records, PAIR_ID);
    expect(PairRecordSchema.safeParse(single).success).toBe(true);
  });

  it('refuses to assemble a pair before the final revision is done', () => {
    expect(() => assemblePair(run, sample, records.slice(0, 6), PAIR_ID)).toThrow(PipelineError);
    try {
      assemblePair(run, sample, records.slice(0, 6), PAIR_ID);
    } catch (e) {
      expect((e as PipelineError).code).toBe('incomplete_records');
    }
  });

  it('refuses records that do not belong to this run', () => {
    const other = runToEnd(makeRun({ seed: 7 }), sample).records;
    expect(() => assemblePair(run, sample, other, PAIR_ID)).toThrow(/inconsistent|principle|messages/);
  });
});
