/** Shared by test/suggestions.spec.ts and test/console-suggestions.spec.ts. */
/**
 * The seeded set. Per pair, what each trait's rule says (agree: prefers the chosen; disagree: the
 * rejected; n/a: does not tell them apart), worked out from the texts by hand:
 *
 * | pair | words chosen/rejected | sources  | detailed | concise  | encouraging | proposed by the model |
 * |------|-----------------------|----------|----------|----------|-------------|-----------------------|
 * | p1   | 10 / 7 (not 1.5x)     | agree    | n/a      | n/a      | n/a         | sources               |
 * | p2   | 9 / 23                | agree    | disagree | agree    | n/a         | sources, concise      |
 * | p3   | 10 / 4                | agree    | agree    | disagree | n/a         | sources, detailed     |
 * | p4   | 9 / 1                 | agree    | agree    | disagree | n/a         | sources, detailed     |
 * | p5   | 9 / 9                 | disagree | n/a      | n/a      | n/a         | accurate (fallback)   |
 * | p6   | 12 / 6                | n/a      | agree    | disagree | agree       | encouraging, detailed |
 *
 * sources: agree 4, disagree 1 -> agreement 4/5 = 0.8, relevance 5/6, score (4-1)/6 = 0.5.
 * detailed: 3, 1 -> 0.75, 4/6, 2/6. encouraging: 1, 0 -> 1, 1/6, 1/6. accurate: never applies -> 0, 0, 0.
 * concise: 1, 3 -> 0.25, 4/6, -2/6. Ranked by score: sources, detailed, encouraging, accurate, concise.
 */
export const SEEDED = [
  {
    id: 'p1',
    prompt: 'How much sleep do adults need?',
    chosen: 'According to the WHO, adults need seven hours of sleep.',
    rejected: 'Adults need about seven hours of sleep.',
  },
  {
    id: 'p2',
    prompt: 'How far away is the Moon?',
    chosen: 'Source: NASA. The Moon is about 384,400 km away.',
    rejected: 'The Moon is far away, roughly a few hundred thousand kilometres from us, give or take quite a lot depending on the orbit.',
  },
  { id: 'p3', prompt: 'When does it rain most in England?', chosen: 'According to the Met Office, it rains most in autumn.', rejected: 'It rains in autumn.' },
  { id: 'p4', prompt: 'What is the capital of France?', chosen: 'According to Britannica, Paris is the capital of France.', rejected: 'Paris.' },
  {
    id: 'p5',
    prompt: 'At what temperature does water boil?',
    chosen: 'Water boils at 100 degrees Celsius at sea level.',
    rejected: 'According to my cousin, water boils at 90 degrees.',
  },
  {
    id: 'p6',
    prompt: 'How do I start learning the piano?',
    chosen: 'You can do it: start with ten minutes of practice a day.',
    rejected: 'Start with ten minutes a day.',
  },
];
