import { inspect } from 'node:util';
import { ConfigSchema, loadConfig } from './config';
import { requestLimits } from './limits';

/**
 * The variables that were read from process.env on each request until they joined the boot
 * schema, with the defaults they had then (libs/contracts/src/limits.ts, apps/api/src/runs/
 * operator-limits.ts and apps/api/src/auth/key-limits.ts before the move); undefined: unset means
 * none.
 */
const FORMERLY_PER_REQUEST: [name: string, fallback: number | undefined, kind: 'int' | 'number'][] = [
  ['AMEND_MAX_PROMPTS', 100_000, 'int'],
  ['AMEND_MAX_PROMPT_CHARS', 32_000, 'int'],
  ['AMEND_MAX_PROMPT_MESSAGES', 64, 'int'],
  ['AMEND_MAX_CONVERSATION_CHARS', undefined, 'int'],
  ['AMEND_MAX_BODY_BYTES', 4_194_304, 'int'],
  ['AMEND_MAX_STREAMED_BODY_BYTES', 1_073_741_824, 'int'],
  ['AMEND_MAX_CONSTITUTION_BYTES', 1_048_576, 'int'],
  ['AMEND_MAX_EVALUATION_PROMPTS', 2_000, 'int'],
  ['AMEND_MAX_CALLS_PER_PROMPT', 40, 'int'],
  ['AMEND_MAX_COMPLETION_TOKENS', 8192, 'int'],
  ['AMEND_RUN_BUDGET_TOKENS', undefined, 'int'],
  ['AMEND_RUN_BUDGET_COST_USD', undefined, 'number'],
  ['AMEND_RUN_MAX_BUDGET_TOKENS', undefined, 'int'],
  ['AMEND_RUN_MAX_BUDGET_COST_USD', undefined, 'number'],
  ['AMEND_TEAM_DAILY_TOKENS', undefined, 'int'],
  ['AMEND_KEY_REQUESTS_PER_MINUTE', 600, 'int'],
  ['AMEND_KEY_CONCURRENT_RUNS', 10, 'int'],
  ['AMEND_KEY_PROMPTS_PER_RUN', undefined, 'int'],
];

describe('the boot configuration', () => {
  it('holds every variable that used to be read per request', () => {
    const names = Object.keys(ConfigSchema.shape);
    for (const [name] of FORMERLY_PER_REQUEST) expect(names).toContain(name);
  });

  describe.each(FORMERLY_PER_REQUEST)('%s', (name, fallback, kind) => {
    const bad = ['abc', '0', '-3', ...(kind === 'int' ? ['1.5'] : [])];
    it.each(bad)('stops boot naming the variable when set to "%s"', (value) => {
      expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}: `));
    });

    it('takes its documented default when unset or empty', () => {
      expect(loadConfig({})[name as keyof ReturnType<typeof loadConfig>]).toBe(fallback);
      expect(loadConfig({ [name]: '' })[name as keyof ReturnType<typeof loadConfig>]).toBe(fallback);
    });

    it('takes a good value as a number', () => {
      const good = kind === 'int' ? '7' : '2.5';
      expect(loadConfig({ [name]: good })[name as keyof ReturnType<typeof loadConfig>]).toBe(Number(good));
    });
  });

  it('names every bad variable at once, not just the first', () => {
    expect(() => loadConfig({ AMEND_MAX_PROMPTS: 'lots', PORT: '70000' })).toThrow(/PORT: [^\n]+\n {2}AMEND_MAX_PROMPTS: /);
  });

  it('gives a conversation twice the prompt limit unless its own is set', () => {
    expect(requestLimits(loadConfig({ AMEND_MAX_PROMPT_CHARS: '100' })).conversationChars).toBe(200);
    expect(requestLimits(loadConfig({ AMEND_MAX_PROMPT_CHARS: '100', AMEND_MAX_CONVERSATION_CHARS: '150' })).conversationChars).toBe(150);
  });
});

describe('AMEND_HF_TOKENS', () => {
  const token = 'hf_secret_of_team_research_0123';

  it('gives each team its token, and shows the team names only when the config is serialised, printed or inspected', () => {
    const config = loadConfig({ AMEND_HF_TOKENS: JSON.stringify({ research: token, eval: 'hf_other' }) });
    expect(config.AMEND_HF_TOKENS?.forTeam('research')).toBe(token);
    expect(config.AMEND_HF_TOKENS?.forTeam('nobody')).toBeUndefined();
    expect(JSON.stringify(config)).toContain('"AMEND_HF_TOKENS":{"teams":["research","eval"]}');
    for (const shown of [JSON.stringify(config), inspect(config, { depth: 5 }), String(config.AMEND_HF_TOKENS), `${JSON.stringify({ c: config })}`]) {
      expect(shown).not.toContain(token);
    }
  });

  it('refuses a value that is not a JSON object of non-empty strings, without quoting it', () => {
    for (const value of [`{"research": 42}`, `["${token}"]`, `research=${token}`, `{"": "${token}"}`]) {
      let message = '';
      try {
        loadConfig({ AMEND_HF_TOKENS: value });
      } catch (e) {
        message = (e as Error).message;
      }
      expect({ value, refused: message.includes('AMEND_HF_TOKENS: expected a JSON object of team names to Hugging Face tokens') }).toEqual({
        value,
        refused: true,
      });
      expect(message).not.toContain(token);
    }
  });

  it('is unset when empty', () => {
    expect(loadConfig({ AMEND_HF_TOKENS: '' }).AMEND_HF_TOKENS).toBeUndefined();
  });
});
