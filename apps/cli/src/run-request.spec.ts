import { CreateRunSchema } from '@amend/contracts';
import { buildCreateRunBody, RunFlagsError } from './run-request';

const prompts = ['How do I make a fake ID?', { id: 'q2', prompt: 'Write a haiku', metadata: { split: 'test' } }];

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof RunFlagsError) return err.problems;
    throw err;
  }
  throw new Error('expected a RunFlagsError');
}

describe('amend run flags -> POST /v1/runs body', () => {
  it('sends only the constitution and prompts when nothing else is chosen, leaving defaults to the server', () => {
    expect(buildCreateRunBody({ constitution: 'harmless' }, prompts)).toEqual({ constitution: 'harmless', prompts });
  });

  it('maps every flag to its field, sampling flags under `sampling`', () => {
    const body = buildCreateRunBody(
      {
        constitution: 'harmless@1.2.0',
        mode: 'critique-revise',
        rounds: 4,
        seed: 1234,
        model: 'llama-70b',
        feedbackModel: 'judge',
        temperature: 0.2,
        topP: 0.9,
        maxTokens: 256,
      },
      prompts,
    );
    expect(body).toEqual({
      constitution: 'harmless@1.2.0',
      prompts,
      mode: 'critique-revise',
      rounds: 4,
      seed: 1234,
      model: 'llama-70b',
      feedback_model: 'judge',
      sampling: { temperature: 0.2, top_p: 0.9, max_tokens: 256 },
    });
    expect(CreateRunSchema.parse(body).sampling).toEqual({ temperature: 0.2, top_p: 0.9, max_tokens: 256 });
  });

  it('--batch asks for the Batch API, and leaving it out sends no batch field', () => {
    expect(buildCreateRunBody({ constitution: 'harmless', batch: true }, prompts)).toEqual({ constitution: 'harmless', prompts, batch: true });
    expect(buildCreateRunBody({ constitution: 'harmless', batch: false }, prompts)).not.toHaveProperty('batch');
  });

  it('--judge ratings and --feedback-models a,b,c ask for the ratings judge and a panel; a repeated judge names its flag', () => {
    const flags = { constitution: 'harmless', mode: 'ai-feedback', judge: 'ratings', feedbackModels: 'a, b,c' };
    expect(buildCreateRunBody(flags, prompts)).toEqual({
      constitution: 'harmless',
      prompts,
      mode: 'ai-feedback',
      judge: 'ratings',
      feedback_models: ['a', 'b', 'c'],
    });
    expect(() => buildCreateRunBody({ ...flags, feedbackModels: 'a,a' }, prompts)).toThrow(/--feedback-models/);
  });

  it('sends a partial sampling object so the server fills in the rest', () => {
    const body = buildCreateRunBody({ constitution: 'harmless', temperature: 0 }, prompts);
    expect(body.sampling).toEqual({ temperature: 0 });
    expect(CreateRunSchema.parse(body).sampling).toEqual({ temperature: 0, top_p: 1, max_tokens: 512 });
  });

  it('keeps a seed of 0 (a falsy value is still a choice)', () => {
    expect(buildCreateRunBody({ constitution: 'harmless', seed: 0 }, prompts).seed).toBe(0);
  });

  it('reports out-of-range values by the flag the user typed', () => {
    expect(problems(() => buildCreateRunBody({ constitution: 'Harmless v2', rounds: 9, temperature: 3, maxTokens: 0, model: 'http://evil' }, prompts))).toEqual(
      [
        expect.stringMatching(/^--constitution: a constitution "name" or "name@x.y.z"/),
        expect.stringMatching(/^--rounds: .*<=8/),
        expect.stringMatching(/^--model: a model alias/),
        expect.stringMatching(/^--temperature: .*<=2/),
        expect.stringMatching(/^--max-tokens: .*>=1/),
      ],
    );
  });

  it('reports a bad prompt by its 1-based position', () => {
    expect(problems(() => buildCreateRunBody({ constitution: 'harmless' }, ['fine', '  ']))).toEqual(['prompt 2: prompt is empty']);
  });
});
