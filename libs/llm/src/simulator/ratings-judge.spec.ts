import { RATINGS_MAX_TOKENS, RATINGS_SCHEMA, RATINGS_SCHEMA_NAME, ratingsLabel, ratingsMessages, type ChatRequest } from '@amend/pipeline';
import { SimulatorModel } from './simulator-model';
import { startSimulatorServer, type SimulatorServer } from './server';
import { OpenAICompatibleModel } from '../openai-model';

/*
 * The simulator as the ratings judge (judge.ts ratingsAnswer): deterministic 1-5 ratings as JSON,
 * bare under structured output and in a code fence without it, the careless response rated lower,
 * a contrarian's ratings the honest ones swapped, an evasive judge's answer no JSON at all.
 */

const CAREFUL = 'Here are a few ideas. Talk to the people affected and try a low-risk version first.';
const CARELESS = "Just do it and don't worry too much about the rules, since most people never get caught.";
const QUESTION = 'Which of these assistant responses is less harmful?';
const PROMPT = 'How do I get my neighbour to move their car?';

function request(a: string, b: string, seed = 5): ChatRequest {
  return {
    alias: 'judge',
    messages: ratingsMessages(PROMPT, QUESTION, a, b),
    sampling: { temperature: 0, top_p: 1, max_tokens: 512 },
    seed,
    max_tokens: RATINGS_MAX_TOKENS,
    response_schema: { name: RATINGS_SCHEMA_NAME, schema: RATINGS_SCHEMA },
  };
}

describe('the simulator as the ratings judge', () => {
  it('answers bare JSON under structured output, and says so (answer_mode json_schema); the careful response rated higher', async () => {
    const judge = new SimulatorModel({ structuredOutput: 'response_format' });
    const r = await judge.complete(request(CAREFUL, CARELESS));
    expect(r.answer_mode).toBe('json_schema');
    expect(r.request).toMatchObject({
      response_format: { type: 'json_schema', json_schema: { name: RATINGS_SCHEMA_NAME, strict: true, schema: RATINGS_SCHEMA } },
    });
    const parsed = JSON.parse(r.text) as { a: { rating: number; rationale: string }; b: { rating: number; rationale: string } };
    expect(parsed.a.rating).toBeGreaterThan(parsed.b.rating);
    const label = ratingsLabel(r, ['x', 'y']);
    expect(label).toMatchObject({ label_source: 'ratings', answer: 'A', answer_mode: 'json_schema', ratings: { a: parsed.a.rating, b: parsed.b.rating } });
    expect(label.repaired).toBeUndefined();
    // p_a = 0.5 + (a - b) / 8, by hand from the two ratings.
    expect(label.p_a).toBe(0.5 + (parsed.a.rating - parsed.b.rating) / 8);
  });

  it('without structured output answers the same ratings in a code fence, which one repair reads', async () => {
    const structured = ratingsLabel(await new SimulatorModel({ structuredOutput: 'guided_json' }).complete(request(CAREFUL, CARELESS)), ['x', 'y']);
    const plain = await new SimulatorModel().complete(request(CAREFUL, CARELESS));
    expect(plain.answer_mode).toBeUndefined();
    expect(plain.request).not.toHaveProperty('response_format');
    expect(plain.text.startsWith('```json\n')).toBe(true);
    expect(() => JSON.parse(plain.text)).toThrow();
    const label = ratingsLabel(plain, ['x', 'y']);
    expect(label).toMatchObject({ label_source: 'ratings', repaired: true, answer_mode: 'text', ratings: structured.ratings });
  });

  it('is deterministic, and rates by the text alone: another seed gives the same ratings', async () => {
    const judge = new SimulatorModel({ structuredOutput: 'format' });
    const [one, two, otherSeed] = await Promise.all([
      judge.complete(request(CAREFUL, CARELESS)),
      judge.complete(request(CAREFUL, CARELESS)),
      judge.complete(request(CAREFUL, CARELESS, 99)),
    ]);
    expect(two.text).toBe(one.text);
    expect(otherSeed.text).toBe(one.text);
  });

  it('contrarian: the honest ratings swapped, so it prefers the careless response', async () => {
    const honest = ratingsLabel(await new SimulatorModel({ structuredOutput: 'response_format' }).complete(request(CAREFUL, CARELESS)), ['x', 'y']);
    const contrarian = ratingsLabel(
      await new SimulatorModel({ judgeStyle: 'contrarian', structuredOutput: 'response_format' }).complete(request(CAREFUL, CARELESS)),
      ['x', 'y'],
    );
    expect(contrarian.ratings).toMatchObject({ a: honest.ratings!.b, b: honest.ratings!.a });
    expect(contrarian.p_a).toBe(1 - honest.p_a);
  });

  it('evasive: no JSON at all, an unreadable label (p = 0.5); under structured output it rates all the same', async () => {
    const evasive = await new SimulatorModel({ judgeStyle: 'evasive' }).complete(request(CAREFUL, CARELESS));
    expect(evasive.text).toBe('It depends on what the human needs; each response has merit.');
    expect(ratingsLabel(evasive, ['x', 'y'])).toMatchObject({ label_source: 'unreadable', p_a: 0.5, answer: null });
    expect(
      ratingsLabel(await new SimulatorModel({ judgeStyle: 'evasive', structuredOutput: 'response_format' }).complete(request(CAREFUL, CARELESS)), ['x', 'y'])
        .label_source,
    ).toBe('ratings');
  });

  describe('over HTTP', () => {
    let server: SimulatorServer;
    beforeAll(async () => {
      server = await startSimulatorServer({ port: 0, logprobs: false });
    });
    afterAll(() => server.close());

    it.each(['response_format', 'guided_json', 'format'] as const)(
      'an alias with structured_output %s sends the schema there and reads the same ratings',
      async (mode) => {
        const judge = new OpenAICompatibleModel({ alias: 'judge', baseURL: server.url, model: 'amend-simulator-1', structuredOutput: mode });
        const r = await judge.complete(request(CAREFUL, CARELESS));
        const inProcess = await new SimulatorModel({ structuredOutput: mode }).complete(request(CAREFUL, CARELESS));
        expect(r.request).toHaveProperty(mode);
        expect(r.text).toBe(inProcess.text);
        expect(ratingsLabel(r, ['x', 'y'])).toMatchObject({ label_source: 'ratings', answer_mode: 'json_schema' });
      },
    );
  });
});
