import fc from 'fast-check';
import { requestBytes } from './request-json';

/** The body's bytes, read back as text. */
const requestJson = (b: ChatRequestBody) => requestBytes(b).toString('utf8');
import type { ChatRequestBody } from './request-body';

const message = fc.record({
  role: fc.constantFrom('system' as const, 'user' as const, 'assistant' as const),
  // Long and short contents, with quotes, escapes, line breaks and astral characters.
  content: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 256, maxLength: 2_000 })),
});

const body = fc.record(
  {
    model: fc.string(),
    messages: fc.array(message, { maxLength: 30 }),
    temperature: fc.double({ noNaN: true, noDefaultInfinity: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    max_tokens: fc.integer({ min: 1 }),
    seed: fc.integer(),
    logprobs: fc.boolean(),
    guided_choice: fc.array(fc.string(), { maxLength: 3 }),
  },
  { requiredKeys: ['model', 'messages', 'temperature', 'top_p', 'max_tokens'] },
);

describe('requestBytes', () => {
  it('is byte for byte JSON.stringify of the body, the cache warm or cold', () => {
    fc.assert(
      fc.property(body, (b) => {
        const expected = Buffer.from(JSON.stringify(b), 'utf8');
        expect(requestBytes(b as ChatRequestBody).equals(expected)).toBe(true);
        // Again: now the long messages come from the cache.
        expect(requestBytes(b as ChatRequestBody).equals(expected)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the role with the content: the same text as another role is serialised as that role', () => {
    const text = 'x'.repeat(300);
    const asUser: ChatRequestBody = { model: 'm', messages: [{ role: 'user', content: text }], temperature: 0, top_p: 1, max_tokens: 1 };
    const asAssistant: ChatRequestBody = { ...asUser, messages: [{ role: 'assistant', content: text }] };
    expect(JSON.parse(requestJson(asUser)).messages[0].role).toBe('user');
    expect(JSON.parse(requestJson(asAssistant)).messages[0].role).toBe('assistant');
    expect(JSON.parse(requestJson(asUser)).messages[0].role).toBe('user');
  });

  it('leaves out keys whose value is undefined, as JSON.stringify does', () => {
    const b = { model: 'm', messages: [], temperature: 0, top_p: 1, max_tokens: 1, seed: undefined } as ChatRequestBody;
    expect(requestJson(b)).toBe('{"model":"m","messages":[],"temperature":0,"top_p":1,"max_tokens":1}');
  });
});
