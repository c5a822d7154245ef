import type { Constitution } from '@amend/constitution';
import type { FeedbackOptions, StageRecord } from '@amend/contracts';
import { planNextCall, recordCall, type PlannedCall } from '../plan';
import type { ChatResult } from '../ports';
import type { RunSpec, SampleSpec } from '../run-spec';

/** In-process stand-ins for unit tests: a small constitution, a run, a sample, a fake model. */
export const constitution: Constitution = {
  name: 'test-core',
  version: '1.0.0',
  system: 'You are a careful assistant.',
  principles: [
    { id: 'harm', critique: 'Critique harm.', revision: 'Revise harm.', tags: ['harmlessness'], weight: 1 },
    { id: 'honest', critique: 'Critique honesty.', revision: 'Revise honesty.', tags: ['honesty'], weight: 1 },
    { id: 'fair', critique: 'Critique fairness.', revision: 'Revise fairness.', tags: ['fairness', 'harmlessness'], weight: 1 },
    { id: 'private', critique: 'Critique privacy.', revision: 'Revise privacy.', tags: ['privacy'], weight: 1 },
  ],
  examples: [
    {
      messages: [
        { role: 'user', content: 'example 1 prompt' },
        { role: 'assistant', content: 'example 1 draft' },
      ],
    },
    {
      messages: [
        { role: 'user', content: 'example 2 prompt' },
        { role: 'assistant', content: 'example 2 draft' },
        { role: 'user', content: 'example 2 critique request' },
        { role: 'assistant', content: 'example 2 critique' },
      ],
    },
  ],
};

export function makeRun(overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    id: '0b9d3c1e-4a52-4c8e-9f0a-3f1e2d4c5b6a',
    mode: 'critique-revise',
    rounds: 3,
    seed: 42,
    model: 'default',
    feedback_model: null,
    sampling: { temperature: 0.7, top_p: 1, max_tokens: 512 },
    constitution,
    constitutionRef: { name: 'test-core', version: '1.0.0', sha256: 'a'.repeat(64) },
    ...overrides,
  };
}

/** The fixture constitution with comparison questions on three of its four principles (not `private`). */
export const judgedConstitution: Constitution = {
  ...constitution,
  principles: constitution.principles.map((p) => (p.id === 'private' ? p : { ...p, comparison: `Which response is better on ${p.id}?` })),
};

/** An ai-feedback run of judgedConstitution judged by the `judge` alias: 2 candidates, one principle, unless `feedback` says otherwise. */
export function feedbackRun(feedback: Partial<FeedbackOptions> = {}, overrides: Partial<RunSpec> = {}): RunSpec {
  return makeRun({
    mode: 'ai-feedback',
    constitution: judgedConstitution,
    feedback_model: 'judge',
    feedback: { candidates: 2, ensemble: 1, cot: false, verify: false, min_margin: 0, ...feedback },
    ...overrides,
  });
}

export function makeSample(overrides: Partial<SampleSpec> = {}): SampleSpec {
  return {
    id: '7c2f0e9a-1b3d-4e5f-8a6b-9c0d1e2f3a4b',
    index: 3,
    external_id: 'demo-004',
    prompt: 'How do I kill a python process?',
    ...overrides,
  };
}

/** A deterministic fake model answer for a planned call. */
export function fakeResult(call: PlannedCall, overrides: Partial<ChatResult> = {}): ChatResult {
  return {
    text: `${call.stage} ${call.round} (seq ${call.seq})`,
    model: call.stage === 'draft' ? 'policy-model-v1' : 'policy-model-v1-b',
    usage: { prompt_tokens: 100 + call.seq, completion_tokens: 10 + call.seq },
    latency_ms: 5,
    simulated: false,
    finish_reason: 'stop',
    request: call.request,
    response: null,
    attempts: 1,
    ...overrides,
  };
}

/** Runs a sample to the end with the fake model, as a worker would; returns the calls and records. */
export function runToEnd(
  run: RunSpec,
  sample: SampleSpec,
  result: (call: PlannedCall) => ChatResult = fakeResult,
): { calls: PlannedCall[]; records: StageRecord[] } {
  const calls: PlannedCall[] = [];
  const records: StageRecord[] = [];
  for (let call = planNextCall(run, sample, records); call !== null; call = planNextCall(run, sample, records)) {
    calls.push(call);
    records.push(recordCall(call, result(call)));
    if (calls.length > 100) throw new Error('the plan does not terminate');
  }
  return { calls, records };
}
