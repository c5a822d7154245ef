import type { TokenLogprobs } from '../ports';
import { answeredLetter, bothOrders, comparisonLabel, findAnswer, mean, optionLetter, prefersBy, softLabel } from './label';

const lp = (p: number) => Math.log(p);
const options: [string, string] = ['candidate-1', 'candidate-2'];

/** One answer position with the given alternatives, the first of them being the sampled token. */
function position(alternatives: [string, number][]): TokenLogprobs {
  const top = alternatives.map(([token, p]) => ({ token, logprob: lp(p) }));
  return { token: top[0].token, logprob: top[0].logprob, top_logprobs: top };
}

describe('the soft label of one answer', () => {
  it('is P(A) / (P(A) + P(B)) over the answer position, ignoring tokens that are not an option', () => {
    expect(
      softLabel([
        { token: 'A', logprob: lp(0.6) },
        { token: 'B', logprob: lp(0.2) },
        { token: 'The', logprob: lp(0.2) },
      ]),
    ).toBeCloseTo(0.75, 12);
  });

  it('adds up the spellings of a letter (A, " A", "(A") and counts a repeated token once', () => {
    const p = softLabel([
      { token: 'A', logprob: lp(0.3) },
      { token: ' A', logprob: lp(0.1) },
      { token: '(A', logprob: lp(0.1) },
      { token: 'B', logprob: lp(0.25) },
      { token: 'A', logprob: lp(0.3) },
    ]);
    expect(p).toBeCloseTo(0.5 / 0.75, 12);
    expect(['A', ' A', '(A', '(A)', 'A)', 'B.', ' B'].map(optionLetter)).toEqual(['A', 'A', 'A', 'A', 'A', 'B', 'B']);
    expect(['a', 'An', 'AB', '(', ''].map(optionLetter)).toEqual([null, null, null, null, null]);
  });

  it('is certain when only one letter is among the alternatives, and undefined when neither is', () => {
    expect(
      softLabel([
        { token: 'B', logprob: lp(0.9) },
        { token: 'I', logprob: lp(0.05) },
      ]),
    ).toBe(0);
    expect(softLabel([{ token: 'I', logprob: lp(0.9) }])).toBeNull();
  });

  it('reads log-probabilities first and marks the label logprobs', () => {
    const label = comparisonLabel(
      {
        text: 'B',
        logprobs: [
          position([
            ['B', 0.5],
            ['A', 0.3],
            ['(', 0.1],
          ]),
        ],
      },
      options,
      false,
    );
    expect(label).toEqual({
      options,
      p_a: expect.closeTo(0.375, 12),
      label_source: 'logprobs',
      answer: 'B',
      top_logprobs: [
        { token: 'B', logprob: lp(0.5) },
        { token: 'A', logprob: lp(0.3) },
        { token: '(', logprob: lp(0.1) },
      ],
      answer_mode: 'text',
      answer_position: 0,
    });
  });
});

describe('the hard fallback', () => {
  it('gives 1 or 0 from the answered letter when the backend returns no log-probabilities, marked hard', () => {
    expect(comparisonLabel({ text: 'A', logprobs: null }, options, false)).toMatchObject({ p_a: 1, label_source: 'hard', answer: 'A', top_logprobs: null });
    expect(comparisonLabel({ text: ' (B)' }, options, false)).toMatchObject({ p_a: 0, label_source: 'hard', answer: 'B' });
  });

  it('gives 0.5, marked unreadable, when the answer names neither option', () => {
    expect(comparisonLabel({ text: 'Both are fine', logprobs: null }, options, false)).toMatchObject({ p_a: 0.5, label_source: 'unreadable', answer: null });
  });

  it('falls back to the letter when the returned alternatives hold neither option', () => {
    expect(
      comparisonLabel(
        {
          text: 'A',
          logprobs: [
            position([
              ['The', 0.7],
              ['I', 0.2],
            ]),
          ],
        },
        options,
        false,
      ),
    ).toMatchObject({ p_a: 1, label_source: 'hard' });
  });
});

describe('chain-of-thought labels', () => {
  const reasoning = (letter: 'A' | 'B', alternatives: [string, number][]) => ({
    text: `Response (A) is vague, (B) is direct. The answer is: (${letter})`,
    logprobs: [
      position([['Response', 0.9]]),
      position([
        [' (A', 0.8],
        [' A', 0.1],
      ]),
      position([['The answer is: (', 0.99]]),
      position(alternatives),
      position([[')', 0.99]]),
    ],
  });

  it('reads the answer at the last letter position, not the options quoted in the reasoning', () => {
    const label = comparisonLabel(
      reasoning('B', [
        ['B', 0.55],
        ['A', 0.45],
      ]),
      options,
      true,
    );
    expect(label.p_a).toBeCloseTo(0.45, 12);
    expect(label.answer).toBe('B');
  });

  it('clamps the probability to [0.4, 0.6], as the CAI paper does', () => {
    expect(
      comparisonLabel(
        reasoning('B', [
          ['B', 0.99],
          ['A', 0.01],
        ]),
        options,
        true,
      ).p_a,
    ).toBe(0.4);
    expect(
      comparisonLabel(
        reasoning('A', [
          ['A', 0.97],
          ['B', 0.03],
        ]),
        options,
        true,
      ).p_a,
    ).toBe(0.6);
    expect(comparisonLabel({ text: 'so the answer is: (A).', logprobs: null }, options, true)).toMatchObject({ p_a: 0.6, label_source: 'hard' });
    // Only a final "The answer is" counts with chain-of-thought: a letter mentioned on the way is no answer.
    expect(comparisonLabel({ text: 'I prefer (B) on reflection', logprobs: null }, options, true)).toMatchObject({
      p_a: 0.5,
      answer: null,
      label_source: 'unreadable',
    });
  });

  it('takes the concluding letter of the text, not the first option it mentions', () => {
    expect(answeredLetter('(A) is rude while (B) is kind. The answer is: (B)', true)).toBe('B');
    expect(answeredLetter('A', false)).toBe('A');
    expect(answeredLetter('The answer is: (B)', false)).toBe('B');
  });
});

describe('averaging orders and principles', () => {
  it('cancels a constant lean towards (A) by asking both orders', () => {
    // The judge thinks X is better with 0.7, but adds 0.1 to whatever it sees first.
    const xFirst = 0.7 + 0.1;
    const yFirst = 0.3 + 0.1;
    expect(bothOrders(xFirst, yFirst)).toBeCloseTo(0.7, 12);
  });

  it('averages the ensemble of principles with equal weight', () => {
    expect(mean([bothOrders(0.9, 0.2), bothOrders(0.6, 0.5)])).toBeCloseTo((0.85 + 0.55) / 2, 12);
  });

  it('counts a preference only when its margin 2p - 1 reaches min_margin, and never a tie', () => {
    expect(prefersBy(0.6, 0.2)).toBe(true);
    expect(prefersBy(0.59, 0.2)).toBe(false);
    expect(prefersBy(0.51, 0)).toBe(true);
    expect(prefersBy(0.5, 0)).toBe(false);
    expect(prefersBy(0.4, 0)).toBe(false);
  });
});

describe('reading the label at the answer letter', () => {
  // A judge that prefers (A) with 0.8 at the letter; before the letter its alternatives hold both
  // letters at even odds, as a chat model's do, so a reader of the first position gets a tie.
  const atLetter: [string, number][] = [
    ['A', 0.72],
    ['B', 0.18],
    [' A', 0.08],
    ['I', 0.01],
  ];
  const lead = (token: string) =>
    position([
      [token, 0.9],
      ['A', 0.03],
      ['B', 0.03],
    ]);
  const close = (token: string) => position([[token, 0.99]]);
  const styles: [string, TokenLogprobs[]][] = [
    ['A', [position(atLetter)]],
    ['(A)', [lead('('), position(atLetter), close(')')]],
    ['The answer is (A)', [lead('The'), lead(' answer'), lead(' is'), lead(' ('), position(atLetter), close(')')]],
    ['**A**', [lead('**'), position(atLetter), close('**')]],
  ];
  // P(A) over A and " A" against B: (0.72 + 0.08) / (0.72 + 0.08 + 0.18), by hand.
  const expected = 0.8 / 0.98;

  it.each(styles)('reads "%s" at the letter, normalising only the spellings of A and B there', (text, logprobs) => {
    expect(logprobs.map((p) => p.token).join('')).toBe(text);
    const label = comparisonLabel({ text, logprobs }, options, false);
    expect(label).toMatchObject({ label_source: 'logprobs', answer: 'A', answer_position: logprobs.length === 1 ? 0 : logprobs.length - 2 });
    expect(label.p_a).toBeCloseTo(expected, 12);
  });

  it.each(styles)('falls back to the hard letter for "%s" without log-probabilities', (text) => {
    expect(comparisonLabel({ text, logprobs: null }, options, false)).toMatchObject({ p_a: 1, label_source: 'hard', answer: 'A', answer_position: null });
    const b = text.replace('A', 'B');
    expect(comparisonLabel({ text: b }, options, false)).toMatchObject({ p_a: 0, label_source: 'hard', answer: 'B' });
  });

  it('reads both orders the same way, so averaging them gives the judge its preference back', () => {
    // X is preferred with 0.8 whichever side; shown second, the letter is B.
    const xSecond: [string, number][] = [
      ['B', 0.72],
      ['A', 0.18],
      [' B', 0.08],
    ];
    const first = comparisonLabel({ text: 'The answer is (A)', logprobs: styles[2][1] }, options, false).p_a;
    const secondLogprobs = [lead('The'), lead(' answer'), lead(' is'), lead(' ('), position(xSecond), close(')')];
    const second = comparisonLabel({ text: 'The answer is (B)', logprobs: secondLogprobs }, options, false).p_a;
    expect(bothOrders(first, second)).toBeCloseTo(expected, 12);
  });

  it('continues after a prefilled "The answer is: (" and takes a guided choice as it is', () => {
    const prefilled = comparisonLabel(
      {
        text: 'B)',
        logprobs: [
          position([
            ['B', 0.6],
            ['A', 0.4],
          ]),
          close(')'),
        ],
      },
      options,
      false,
      { mode: 'prefill', prefix: 'The answer is: (' },
    );
    expect(prefilled).toMatchObject({ answer: 'B', label_source: 'logprobs', answer_mode: 'prefill', answer_position: 0 });
    expect(prefilled.p_a).toBeCloseTo(0.4, 12);
    expect(comparisonLabel({ text: 'A', logprobs: null }, options, false, { mode: 'guided_choice' })).toMatchObject({
      answer: 'A',
      p_a: 1,
      answer_mode: 'guided_choice',
    });
  });

  it('finds the letter among tokens that do not spell the reply (byte-level tokens) by its spelling', () => {
    const label = comparisonLabel({ text: 'The answer is (A)', logprobs: [lead('ĠThe'), lead('Ġ('), position(atLetter)] }, options, false);
    expect(label).toMatchObject({ answer_position: 2, label_source: 'logprobs' });
  });

  it('takes a chain of thought only from its final "The answer is: (X)", and not when it was cut off before it', () => {
    expect(findAnswer('I lean to (A). The answer is: (B)', true)).toEqual({ letter: 'B', offset: 31 });
    expect(findAnswer('Some would say the answer is (A), but (B) avoids', true, 'length')).toBeNull();
    expect(comparisonLabel({ text: 'Some would say the answer is (A), but', finish_reason: 'length' }, options, true)).toMatchObject({
      label_source: 'unreadable',
      p_a: 0.5,
    });
    expect(findAnswer('Step by step... The answer is: (A', true, 'length')).toEqual({ letter: 'A', offset: 32 });
  });

  it('does not take an article or a word for a letter', () => {
    expect(findAnswer('Both responses are fine.', false)).toBeNull();
    expect(findAnswer('An answer', false)).toBeNull();
    expect(findAnswer('Response B is kinder.', false)).toEqual({ letter: 'B', offset: 9 });
    expect(findAnswer('I think the answer is **(B)**.', false)).toEqual({ letter: 'B', offset: 25 });
  });
});
