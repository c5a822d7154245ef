import { conversationProblems, promptParts } from './runs';
import { judgeLabelStop } from './feedback';

const u = (content = 'u') => ({ role: 'user', content });
const a = (content = 'a') => ({ role: 'assistant', content });
const s = (content = 's') => ({ role: 'system', content });

describe('conversationProblems: what a multi-turn prompt may look like', () => {
  it.each([
    ['one user turn', [u()]],
    ['a system message and a user turn', [s(), u()]],
    ['user, assistant, user', [u(), a(), u()]],
    ['system, then five alternating turns', [s(), u(), a(), u(), a(), u()]],
  ])('%s is a prompt', (_name, messages) => {
    expect(conversationProblems(messages)).toEqual([]);
  });

  it.each([
    ['nothing', [], [[null, 'a conversation needs at least one message, ending with a user turn']]],
    ['a system message alone', [s()], [[0, 'the conversation must end with a user turn (the one the draft answers), not with a system message']]],
    [
      'an assistant turn first',
      [a(), u()],
      [
        [0, 'the conversation starts with a user turn (after an optional system message)'],
        [1, 'two user turns in a row; user and assistant turns alternate'],
      ],
    ],
    [
      'two assistant turns in a row',
      [u(), a(), a(), u()],
      [
        [2, 'two assistant turns in a row; user and assistant turns alternate'],
        [3, 'two user turns in a row; user and assistant turns alternate'],
      ],
    ],
    ['a second system message', [s(), u(), s(), u()], [[2, 'a system message may only be the first message']]],
    ['an assistant turn last', [u(), a()], [[1, 'the conversation must end with a user turn (the one the draft answers), not with an assistant message']]],
  ])('%s is refused, each problem at its message', (_name, messages, expected) => {
    expect(conversationProblems(messages).map((p) => [p.index, p.message])).toEqual(expected);
  });

  it('a prompt item taken apart: the last user turn is the prompt, the conversation is kept whole', () => {
    expect(promptParts('hi')).toEqual({ external_id: null, prompt: 'hi', messages: null, metadata: null });
    expect(promptParts({ id: 'x', prompt: 'hi', metadata: { k: 1 } })).toEqual({ external_id: 'x', prompt: 'hi', messages: null, metadata: { k: 1 } });
    expect(
      promptParts({
        messages: [
          { role: 'user', content: 'q1' },
          { role: 'assistant', content: 'a1' },
          { role: 'user', content: 'q2' },
        ],
      }),
    ).toEqual({
      external_id: null,
      prompt: 'q2',
      messages: [
        { role: 'user', content: 'q1' },
        { role: 'assistant', content: 'a1' },
        { role: 'user', content: 'q2' },
      ],
      metadata: null,
    });
  });
});

describe('judgeLabelStop: when a run stops for its labels', () => {
  const guard = { max_hard_label_share: 0.25, hard_label_min_comparisons: 8 };
  it.each([
    ['no guard', undefined, { comparisons: 100, hard: 100, unreadable: 0 }, null],
    ['fewer comparisons than the minimum', guard, { comparisons: 7, hard: 7, unreadable: 0 }, null],
    ['exactly at the share', guard, { comparisons: 8, hard: 1, unreadable: 1 }, null],
    ['past the share, hard and unreadable together', guard, { comparisons: 8, hard: 2, unreadable: 1 }, 0.375],
    [
      'a share of 0 stops at the first hard label past the minimum',
      { max_hard_label_share: 0, hard_label_min_comparisons: 1 },
      { comparisons: 1, hard: 1, unreadable: 0 },
      1,
    ],
    ['the default minimum is 20', { max_hard_label_share: 0.1 }, { comparisons: 19, hard: 19, unreadable: 0 }, null],
  ])('%s', (_name, options, counts, share) => {
    const stop = judgeLabelStop(options, counts);
    if (share === null) expect(stop).toBeNull();
    else
      expect(stop).toMatchObject({
        code: 'judge_labels',
        comparisons: counts.comparisons,
        hard_labels: counts.hard,
        unreadable_labels: counts.unreadable,
        hard_label_share: share,
      });
  });

  it('says what it counted and what to check', () => {
    expect(judgeLabelStop(guard, { comparisons: 8, hard: 2, unreadable: 1 })?.message).toBe(
      "stopped: 3 of the judge's 8 labels were hard or unreadable (2 hard, 1 unreadable: 37.5%), more than max_hard_label_share 25%; " +
        'check that the feedback model returns log-probabilities and answers with a letter (AMEND_MODELS judge_answer)',
    );
  });
});
