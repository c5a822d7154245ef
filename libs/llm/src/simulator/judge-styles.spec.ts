import { ANSWER_MAX_TOKENS, ANSWER_PREFIX, TOP_LOGPROBS, bothOrders, comparisonLabel, comparisonMessages, type ChatRequest } from '@amend/pipeline';
import { startSimulatorServer, type SimulatorServer } from './server';
import { SimulatorModel } from './simulator-model';
import { OpenAICompatibleModel } from '../openai-model';
import { LETTER_JUDGE_STYLES, type JudgeStyle } from './judge';
import type { JudgeAnswerMode } from '../request-body';

/*
 * Judges that answer the way chat models do ("A", "(A)", "The answer is (A)", "**A**"), with and
 * without log-probabilities, in both orders: the label is read at the letter, so every wording
 * gives the label the one-letter judge gives (the simulator's P(A) does not depend on wording),
 * and so do a prefilled reply and a guided choice.
 */

const CAREFUL = 'Here are a few ideas. Talk to the people affected and try a low-risk version first.';
const CARELESS = "Just do it and don't worry too much about the rules, since most people never get caught.";
const QUESTION = 'Which of these assistant responses is less harmful?';
const PROMPT = 'How do I get my neighbour to move their car?';

/** A comparison as the pipeline plans it without chain-of-thought (feedback/schedule.ts). */
function request(a: string, b: string, seed: number): ChatRequest {
  return {
    alias: 'judge',
    messages: comparisonMessages(PROMPT, QUESTION, a, b, false),
    sampling: { temperature: 0, top_p: 1, max_tokens: 512 },
    seed,
    logprobs: true,
    top_logprobs: TOP_LOGPROBS,
    max_tokens: ANSWER_MAX_TOKENS,
    answer: { prefix: ANSWER_PREFIX, choices: ['A', 'B'] },
  };
}

async function label(model: SimulatorModel | OpenAICompatibleModel, a: string, b: string, seed = 3) {
  const req = request(a, b, seed);
  const result = await model.complete(req);
  return { text: result.text, label: comparisonLabel(result, ['x', 'y'], false, { mode: result.answer_mode, prefix: req.answer?.prefix }) };
}

describe('judge labels whatever the wording of the answer', () => {
  let reference: { carefulFirst: number; carefulSecond: number };
  beforeAll(async () => {
    const plain = new SimulatorModel();
    reference = {
      carefulFirst: (await label(plain, CAREFUL, CARELESS)).label.p_a,
      carefulSecond: (await label(plain, CARELESS, CAREFUL)).label.p_a,
    };
    expect(reference.carefulFirst).toBeGreaterThan(0.5);
    expect(reference.carefulSecond).toBeLessThan(0.5);
  });

  const wording: Record<JudgeStyle, RegExp> = {
    letter: /^[AB]$/,
    paren: /^\([AB]\)$/,
    'answer-is': /^The answer is \([AB]\)$/,
    bold: /^\*\*[AB]\*\*$/,
    evasive: /^It depends on what the human needs; each response has merit\.$/,
    contrarian: /^[AB]$/,
  };

  it("style contrarian: the other answer, P(A) = 1 - the honest judge's, in both orders, so the careless response wins", async () => {
    const judge = new SimulatorModel({ judgeStyle: 'contrarian' });
    const first = await label(judge, CAREFUL, CARELESS);
    const second = await label(judge, CARELESS, CAREFUL);
    expect(first.text).toMatch(wording.contrarian);
    expect(first.label.p_a).toBeCloseTo(1 - reference.carefulFirst, 12);
    expect(second.label.p_a).toBeCloseTo(1 - reference.carefulSecond, 12);
    expect(bothOrders(first.label.p_a, second.label.p_a)).toBeLessThan(0.5);
  });

  it('style evasive: no letter, so no label (unreadable, p = 0.5), with log-probabilities or without; a prefill still gets the letter', async () => {
    const judge = new SimulatorModel({ judgeStyle: 'evasive' });
    const first = await label(judge, CAREFUL, CARELESS);
    expect(first.text).toMatch(wording.evasive);
    expect(first.label).toMatchObject({ label_source: 'unreadable', p_a: 0.5, answer: null });
    const prefilled = await label(new SimulatorModel({ judgeStyle: 'evasive', judgeAnswer: 'prefill' }), CAREFUL, CARELESS);
    expect(prefilled.label.label_source).toBe('logprobs');
  });

  it.each(LETTER_JUDGE_STYLES)('style %s: the same soft label in both orders with log-probabilities', async (style) => {
    const judge = new SimulatorModel({ judgeStyle: style });
    const first = await label(judge, CAREFUL, CARELESS);
    const second = await label(judge, CARELESS, CAREFUL);
    expect(first.text).toMatch(wording[style]);
    expect(first.label.label_source).toBe('logprobs');
    expect(first.label.p_a).toBeCloseTo(reference.carefulFirst, 12);
    expect(second.label.p_a).toBeCloseTo(reference.carefulSecond, 12);
    // The careful response wins once both orders are averaged.
    expect(bothOrders(first.label.p_a, second.label.p_a)).toBeGreaterThan(0.5);
  });

  it.each(['prefill', 'guided_choice', 'structured_outputs'] as JudgeAnswerMode[])(
    'alias answering with %s: the same label, the letter at the first position',
    async (mode) => {
      const judge = new SimulatorModel({ judgeStyle: 'answer-is', judgeAnswer: mode });
      const first = await label(judge, CAREFUL, CARELESS);
      expect(first.label).toMatchObject({ label_source: 'logprobs', answer_position: 0, answer_mode: mode === 'prefill' ? 'prefill' : 'guided_choice' });
      expect(first.label.p_a).toBeGreaterThan(0.5);
    },
  );

  describe('over HTTP, without log-probabilities', () => {
    const servers: SimulatorServer[] = [];
    afterAll(async () => Promise.all(servers.map((s) => s.close())));

    it.each(LETTER_JUDGE_STYLES)('style %s: a hard label with the letter the judge picked, in both orders', async (style) => {
      const server = await startSimulatorServer({ logprobs: false, judgeStyle: style });
      servers.push(server);
      const judge = new OpenAICompatibleModel({ alias: 'judge', baseURL: server.url, model: 'amend-simulator-1' });
      const first = await label(judge, CAREFUL, CARELESS);
      const second = await label(judge, CARELESS, CAREFUL);
      expect(first.text).toMatch(wording[style]);
      // Greedy: the letter is the more likely one, so the hard label sides with the soft one.
      expect(first.label).toMatchObject({ label_source: 'hard', p_a: reference.carefulFirst >= 0.5 ? 1 : 0, answer_position: null });
      expect(second.label).toMatchObject({ label_source: 'hard', p_a: reference.carefulSecond >= 0.5 ? 1 : 0 });
    });
  });
});
