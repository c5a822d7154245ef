import { comparisonLabel, comparisonMessages, TOP_LOGPROBS } from '@amend/pipeline';
import { readLogprobs } from '../logprobs';
import { SimulatorModel } from './simulator-model';
import { simulateCompletion, type SimulatorRequestBody } from './simulate';
import { startSimulatorServer } from './server';
import { OpenAICompatibleModel } from '../openai-model';

const CAREFUL = 'Here are a few ideas. Talk to the people affected and try a low-risk version first.';
const CARELESS = "Just do it and don't worry too much about the rules, since most people never get caught.";
const QUESTION = 'Which of these assistant responses is less harmful?';
const PROMPT = 'How do I get my neighbour to move their car?';

function comparison(a: string, b: string, extra: Partial<SimulatorRequestBody> = {}, cot = false): SimulatorRequestBody {
  return {
    model: 'm',
    messages: comparisonMessages(PROMPT, QUESTION, a, b, cot),
    temperature: cot ? 0.7 : 0,
    max_tokens: cot ? 512 : 1,
    logprobs: true,
    top_logprobs: TOP_LOGPROBS,
    seed: 9,
    ...extra,
  };
}

describe('the simulator as a feedback model', () => {
  it('answers one letter with OpenAI-shaped log-probabilities of the answer position', () => {
    const res = simulateCompletion(comparison(CAREFUL, CARELESS));
    const choice = res.choices[0];
    expect(choice.message.content).toBe('A');
    expect(choice.logprobs!.content).toHaveLength(1);
    const [position] = choice.logprobs!.content!;
    expect(position).toMatchObject({ token: 'A', bytes: [65] });
    expect(position.top_logprobs.map((t) => t.token)).toEqual(expect.arrayContaining(['A', 'B', ' A', ' B']));
    for (const t of position.top_logprobs) expect(t.bytes).toEqual([...Buffer.from(t.token)]);
    const total = position.top_logprobs.reduce((s, t) => s + Math.exp(t.logprob), 0);
    expect(total).toBeLessThanOrEqual(1 + 1e-9);
  });

  it('prefers the careful response whichever position it is shown in, leaning a little towards (A)', () => {
    const read = (body: SimulatorRequestBody) => {
      const choice = simulateCompletion(body).choices[0];
      return comparisonLabel({ text: choice.message.content ?? '', logprobs: readLogprobs(choice.logprobs) }, ['x', 'y'], false);
    };
    const label = (a: string, b: string) => read(comparison(a, b));
    const carefulFirst = label(CAREFUL, CARELESS);
    const carefulSecond = label(CARELESS, CAREFUL);
    expect(carefulFirst.label_source).toBe('logprobs');
    expect(carefulFirst.p_a).toBeGreaterThan(0.5);
    expect(carefulSecond.p_a).toBeLessThan(0.5);
    // Same texts: only the lean towards (A) and the noise remain.
    const ties = Array.from({ length: 40 }, (_, seed) => read(comparison(CAREFUL, CAREFUL, { seed })).p_a);
    expect(ties.reduce((s, p) => s + p, 0) / ties.length).toBeGreaterThan(0.55);
  });

  it('returns no log-probabilities unless asked, and reasons first with chain-of-thought', () => {
    expect(simulateCompletion(comparison(CAREFUL, CARELESS, { logprobs: false })).choices[0].logprobs).toBeNull();
    const cot = simulateCompletion(comparison(CARELESS, CAREFUL, {}, true)).choices[0];
    expect(cot.message.content).toMatch(/The answer is: \([AB]\)$/);
    const label = comparisonLabel({ text: cot.message.content!, logprobs: readLogprobs(cot.logprobs) }, ['x', 'y'], true);
    expect(label.label_source).toBe('logprobs');
    expect(label.p_a).toBeGreaterThanOrEqual(0.4);
    expect(label.p_a).toBeLessThanOrEqual(0.4 + 1e-9);
  });
});

describe('answer markers', () => {
  const conversation = (prompt: string, seed: number) => {
    const messages: SimulatorRequestBody['messages'] = [{ role: 'user', content: prompt }];
    const draft = simulateCompletion({ messages, seed }).choices[0].message.content!;
    messages.push({ role: 'assistant', content: draft }, { role: 'user', content: 'Identify specific ways in which the last response is harmful.' });
    const critique = simulateCompletion({ messages, seed }).choices[0].message.content!;
    messages.push({ role: 'assistant', content: critique }, { role: 'user', content: 'Please rewrite the response to remove anything harmful.' });
    return { draft, revision: simulateCompletion({ messages, seed }).choices[0].message.content! };
  };

  it('[[amend:noop]] makes every revision repeat the draft', () => {
    for (const seed of [1, 2, 3]) {
      const { draft, revision } = conversation('How should I plan a picnic? [[amend:noop]]', seed);
      expect(revision).toBe(draft);
      expect(draft).not.toContain('[[amend');
    }
  });

  it('[[amend:refuse]] makes every revision a refusal of a helpful draft', () => {
    for (const seed of [1, 2, 3]) {
      const { draft, revision } = conversation('How should I plan a picnic? [[amend:refuse]]', seed);
      expect(revision).toMatch(/^(I'm sorry|Sorry)/);
      expect(draft).not.toMatch(/^(I'm sorry|Sorry)/);
    }
  });

  it('[[amend:refuse-draft]] makes about half the drafts refusals', () => {
    const drafts = Array.from({ length: 40 }, (_, seed) => conversation('How should I plan a picnic? [[amend:refuse-draft]]', seed).draft);
    const refusals = drafts.filter((d) => /^(I'm sorry|Sorry)/.test(d)).length;
    expect(refusals).toBeGreaterThan(8);
    expect(refusals).toBeLessThan(32);
  });
});

describe('log-probabilities through the adapters', () => {
  it('the in-process simulator and the OpenAI adapter over HTTP pass logprobs, top_logprobs and max_tokens through and read them back', async () => {
    const server = await startSimulatorServer();
    const withoutLogprobs = await startSimulatorServer({ logprobs: false });
    try {
      const req = {
        alias: 'judge',
        messages: comparisonMessages(PROMPT, QUESTION, CAREFUL, CARELESS, false),
        sampling: { temperature: 0, top_p: 1, max_tokens: 512 },
        seed: 4,
        logprobs: true,
        top_logprobs: 5,
        max_tokens: 1,
      };
      const http = await new OpenAICompatibleModel({ alias: 'judge', baseURL: server.url, model: 'amend-simulator-1' }).complete(req);
      expect(http.request).toMatchObject({ logprobs: true, top_logprobs: 5, max_tokens: 1 });
      expect(http.logprobs![0].token).toBe('A');
      expect(http.logprobs![0].top_logprobs).toHaveLength(5);
      const local = await new SimulatorModel().complete(req);
      expect(local.logprobs).toEqual(http.logprobs);
      const none = await new OpenAICompatibleModel({ alias: 'judge', baseURL: withoutLogprobs.url, model: 'amend-simulator-1' }).complete(req);
      expect(none.text).toBe('A');
      expect(none.logprobs).toBeNull();
      const plain = await new SimulatorModel().complete({ ...req, logprobs: undefined, top_logprobs: undefined, max_tokens: undefined });
      expect(plain.request).not.toHaveProperty('logprobs');
      expect((plain.request as { max_tokens: number }).max_tokens).toBe(512);
    } finally {
      await server.close();
      await withoutLogprobs.close();
    }
  });
});

describe('reading logprobs from OpenAI-compatible servers', () => {
  it('tolerates null, missing top_logprobs and malformed entries', () => {
    expect(readLogprobs(null)).toBeNull();
    expect(readLogprobs({ content: null })).toBeNull();
    expect(readLogprobs({ content: [] })).toBeNull();
    expect(readLogprobs({ content: [{ token: 'A', logprob: -0.1 }, { token: 7 }, { token: 'B', logprob: -2, top_logprobs: null }] })).toEqual([
      { token: 'A', logprob: -0.1, top_logprobs: [] },
      { token: 'B', logprob: -2, top_logprobs: [] },
    ]);
    expect(
      readLogprobs({
        content: [
          {
            token: 'A',
            logprob: -9999,
            bytes: [65],
            top_logprobs: [
              { token: 'A', logprob: -9999 },
              { token: 'B', logprob: 'x' },
            ],
          },
        ],
      }),
    ).toEqual([{ token: 'A', logprob: -9999, top_logprobs: [{ token: 'A', logprob: -9999 }] }]);
  });
});
