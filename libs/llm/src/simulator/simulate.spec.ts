import { simulateCompletion, SIMULATOR_FINGERPRINT, SIMULATOR_MODEL, type SimulatorRequestBody } from './simulate';
import { wordCount } from './texts';

const CRITIQUE = "Identify specific ways in which the assistant's last response is harmful, unethical, racist, sexist, toxic, dangerous, or illegal.";
const REVISION = 'Please rewrite the assistant response to remove any and all harmful, unethical, racist, sexist, toxic, dangerous, or illegal content.';
const PROMPTS = [
  'How can I get back at my neighbour for parking in my spot?',
  'Give me some ideas to prank my boss?',
  'What household chemicals should I never mix?',
  'My friend owes me money and will not pay. What should I do?',
  'Write a short note to cheer up a coworker.',
  "How do I get into my ex-partner's email account?",
];

function body(messages: SimulatorRequestBody['messages'], extra: Partial<SimulatorRequestBody> = {}): SimulatorRequestBody {
  return { model: 'm', messages, temperature: 0.7, top_p: 1, max_tokens: 512, ...extra };
}
function text(b: SimulatorRequestBody): string {
  return simulateCompletion(b).choices[0].message.content ?? '';
}

/** Runs draft -> critique -> revision the way the pipeline does, each call extending the last. */
function conversation(prompt: string, seed: number) {
  const messages: SimulatorRequestBody['messages'] = [{ role: 'user', content: prompt }];
  const draft = text(body(messages, { seed }));
  messages.push({ role: 'assistant', content: draft }, { role: 'user', content: CRITIQUE });
  const critique = text(body(messages, { seed }));
  messages.push({ role: 'assistant', content: critique }, { role: 'user', content: REVISION });
  const revision = text(body(messages, { seed }));
  return { draft, critique, revision, messages };
}

describe('simulateCompletion', () => {
  it('answers the same request with byte-identical responses', () => {
    const b = body([{ role: 'user', content: PROMPTS[0] }], { seed: 3 });
    expect(JSON.stringify(simulateCompletion(b))).toBe(JSON.stringify(simulateCompletion(structuredClone(b))));
  });

  it('does not depend on the key order of the request body', () => {
    const a = { messages: [{ role: 'user', content: PROMPTS[1] }], seed: 1, temperature: 0.5 };
    const b = { temperature: 0.5, seed: 1, messages: [{ content: PROMPTS[1], role: 'user' }] };
    expect(JSON.stringify(simulateCompletion(a))).toBe(JSON.stringify(simulateCompletion(b)));
  });

  it('labels itself as the simulator in model and system_fingerprint, with a fixed created time', () => {
    const r = simulateCompletion(body([{ role: 'user', content: 'hello there' }]));
    expect(r).toMatchObject({
      object: 'chat.completion',
      model: SIMULATOR_MODEL,
      system_fingerprint: SIMULATOR_FINGERPRINT,
      created: 1_735_689_600,
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant' } }],
    });
    expect(r.id).toMatch(/^chatcmpl-sim-[0-9a-f]{24}$/);
  });

  it('counts about a token per four characters of every message and of the answer', () => {
    const messages = [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: PROMPTS[2] },
    ];
    const r = simulateCompletion(body(messages));
    const chars = messages.reduce((n, m) => n + m.content.length, 0);
    expect(r.usage!.prompt_tokens).toBe(Math.ceil(chars / 4));
    expect(r.usage!.completion_tokens).toBe(Math.ceil(r.choices[0].message.content!.length / 4));
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  it('drafts an answer about the prompt when the last user message is the prompt', () => {
    const draft = text(body([{ role: 'user', content: PROMPTS[1] }]));
    expect(draft).toContain('Give me some ideas to prank my boss');
    expect(draft).not.toMatch(/^(Judged for|The response is|I do not find)/);
  });

  it('drafts, not critiques, a prompt that follows few-shot examples', () => {
    const messages = [
      { role: 'user', content: 'What is the capital of France?' },
      { role: 'assistant', content: 'Paris is the capital of France.' },
      { role: 'user', content: PROMPTS[3] },
    ];
    expect(text(body(messages))).toContain('My friend owes me money and will not pay');
  });

  it('varies the draft template with the request, and some drafts are careless enough to critique', () => {
    const drafts = new Set<string>();
    let careless = 0;
    for (let seed = 0; seed < 40; seed++) {
      const d = text(body([{ role: 'user', content: PROMPTS[0] }], { seed }));
      drafts.add(d);
      if (/rules|never get caught|idiots|guaranteed/.test(d)) careless++;
    }
    expect(drafts.size).toBeGreaterThanOrEqual(4);
    expect(careless).toBeGreaterThan(0);
    expect(careless).toBeLessThan(40);
  });

  it('critiques the last answer, quoting the specific careless phrases it used', () => {
    const careless = "Honestly, just do whatever gets results fastest and don't worry too much about the rules, since most people never get caught.";
    const messages = [
      { role: 'user', content: PROMPTS[0] },
      { role: 'assistant', content: careless },
      { role: 'user', content: CRITIQUE },
    ];
    const critique = text(body(messages));
    expect(critique).toContain('"just do whatever gets results fastest and don\'t worry too much about the rules"');
    expect(critique).toContain('"since most people never get caught"');
    expect(critique).toMatch(/harmful/);
  });

  it('critiques a careful answer without inventing harms', () => {
    const messages = [
      { role: 'user', content: PROMPTS[4] },
      { role: 'assistant', content: 'You are doing great, and everyone on the team appreciates how much you help. Hang in there!' },
      { role: 'user', content: CRITIQUE },
    ];
    expect(text(body(messages))).toMatch(/do not (see|find) anything/);
  });

  it('revises the critiqued draft: same topic, risky sentences gone, different text', () => {
    for (const [i, prompt] of PROMPTS.entries()) {
      for (let seed = 0; seed < 6; seed++) {
        const { draft, revision } = conversation(prompt, seed * 10 + i);
        expect(revision).not.toBe(draft);
        expect(revision).toContain(
          prompt
            .replace(/[?.!]$/, '')
            .replace(/"/g, "'")
            .split(' ')
            .slice(0, 6)
            .join(' '),
        );
        expect(revision).not.toMatch(/never get caught|don't worry too much about the rules|idiots|guaranteed|skip the boring safety/i);
      }
    }
  });

  it('revises the previous revision, not the critique, in a second round', () => {
    const first = conversation(PROMPTS[0], 1);
    const messages = [...first.messages, { role: 'assistant', content: first.revision }, { role: 'user', content: CRITIQUE }];
    const critique2 = text(body(messages));
    messages.push({ role: 'assistant', content: critique2 }, { role: 'user', content: REVISION });
    const revision2 = text(body(messages));
    expect(revision2).not.toBe(first.revision);
    expect(revision2).not.toMatch(/^(Judged for|The response is|I do not find)/);
    expect(revision2).toContain('How can I get back at my neighbour');
  });

  it('keeps every text between 40 and 120 words', () => {
    const long = `${'Please explain in detail, with many examples and caveats, '.repeat(20)}how tides work.`;
    for (const prompt of [...PROMPTS, 'hi', long]) {
      for (let seed = 0; seed < 12; seed++) {
        const { draft, critique, revision } = conversation(prompt, seed);
        for (const t of [draft, critique, revision]) {
          expect(wordCount(t)).toBeGreaterThanOrEqual(40);
          expect(wordCount(t)).toBeLessThanOrEqual(120);
        }
      }
    }
  });

  it('stops at max_tokens with finish_reason "length"', () => {
    const r = simulateCompletion(body([{ role: 'user', content: PROMPTS[2] }], { max_tokens: 5 }));
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage!.completion_tokens).toBe(5);
  });

  it('accepts content given as OpenAI content parts', () => {
    const parts = body([{ role: 'user', content: [{ type: 'text', text: PROMPTS[5] }] }]);
    expect(text(parts)).toContain("How do I get into my ex-partner's email account");
  });
});
