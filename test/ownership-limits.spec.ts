import { ErrorBodySchema, RunSchema } from '@amend/contracts';
import { json, stackForFile, testEnv, type Stack } from './support/stack';

/** Constitution names belong to teams; the operator caps what one run may cost. */
const env = testEnv('ownership', {
  AMEND_MODELS: JSON.stringify({ default: { simulator: true, latency_ms: 2000 }, capped: { simulator: true, max_tokens: 256 } }),
});
let stack: Stack;
const keys: Record<string, string> = {};

const yaml = (name: string, version: string) =>
  `name: ${name}\nversion: ${version}\ntitle: T\nprinciples:\n  - id: p\n    critique: Identify one problem.\n    revision: Fix it.\n`;
const publish = (key: string, name: string, version: string) =>
  stack.fetch('/v1/constitutions', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml(name, version) }, key);
const deprecate = (key: string, name: string, version: string) =>
  stack.fetch(`/v1/constitutions/${name}/${version}/deprecate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, key);
const postRun = (body: unknown, key = stack.submitterKey) =>
  stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, key);

stackForFile(env, { workers: 0 }, (s) => (stack = s));
beforeAll(async () => {
  keys.alpha = await stack.mintKey('author', 'alpha');
  keys.beta = await stack.mintKey('author', 'beta');
  keys.operator = await stack.mintKey('author', 'admin');
});

describe('constitution ownership', () => {
  it('gives a name to the team that publishes it first; only its authors publish or deprecate versions of it', async () => {
    expect((await publish(keys.alpha, 'alpha-rules', '1.0.0')).status).toBe(201);
    const taken = await publish(keys.beta, 'alpha-rules', '1.0.1');
    expect(taken.status).toBe(403);
    expect(ErrorBodySchema.parse(await json(taken)).error.message).toContain('belongs to team "alpha"');
    expect((await deprecate(keys.beta, 'alpha-rules', '1.0.0')).status).toBe(403);
    expect((await publish(keys.alpha, 'alpha-rules', '1.0.1')).status).toBe(201);
    expect((await deprecate(keys.alpha, 'alpha-rules', '1.0.0')).status).toBe(200);
  });

  it('keeps bundled names for the operator: another team can neither publish amend-core@9.9.9 nor deprecate its versions, and runs get the real one', async () => {
    expect((await publish(keys.beta, 'amend-core', '9.9.9')).status).toBe(403);
    expect((await deprecate(keys.beta, 'amend-core', '1.0.0')).status).toBe(403);
    const run = RunSchema.parse(await json(await postRun({ constitution: 'amend-core', prompts: ['hi'] })));
    expect(run.constitution.name).toBe('amend-core');
    expect(run.constitution.version).not.toBe('9.9.9');
    expect(run.constitution.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The operator's own authors may.
    expect((await publish(keys.operator, 'amend-core', '9.9.9')).status).toBe(201);
    expect(RunSchema.parse(await json(await postRun({ constitution: 'amend-core', prompts: ['hi'] }))).constitution.version).toBe('9.9.9');
  });
});

describe('operator limits', () => {
  const limitOf = async (res: Response) => {
    expect(res.status).toBe(422);
    const body = ErrorBodySchema.parse(await json(res));
    expect(body.error.code).toBe('over_limit');
    return (body.error.details as { limit: string }).limit;
  };
  let undo = () => {};
  afterEach(() => undo());

  it('refuses more calls per prompt or more max_tokens than allowed with 422 naming the limit', async () => {
    // 4 candidates, ensemble 4: 4 + 4·3·4 = 52 calls per prompt, over the default 40.
    expect(await limitOf(await postRun({ constitution: 'amend-core@1.0.0', prompts: ['x'], mode: 'ai-feedback', candidates: 4, ensemble: 4 }))).toBe(
      'calls_per_prompt',
    );
    undo = stack.reconfigure({ AMEND_MAX_CALLS_PER_PROMPT: '3' });
    expect(await limitOf(await postRun({ constitution: 'amend-core', prompts: ['x'], rounds: 2 }))).toBe('calls_per_prompt');
    expect(await limitOf(await postRun({ constitution: 'amend-core', prompts: ['x'], sampling: { max_tokens: 32768 } }))).toBe('max_tokens');
    expect(await limitOf(await postRun({ constitution: 'amend-core', prompts: ['x'], model: 'capped', sampling: { max_tokens: 512 } }))).toBe('max_tokens');
    expect((await postRun({ constitution: 'amend-core', prompts: ['x'], model: 'capped', sampling: { max_tokens: 256 } })).status).toBe(202);
  });

  it('gives a run without a budget the default, refuses one above the maximum, and holds a team to its daily tokens', async () => {
    undo = stack.reconfigure({ AMEND_RUN_BUDGET_TOKENS: '700', AMEND_RUN_MAX_BUDGET_TOKENS: '1000' });
    const run = RunSchema.parse(await json(await postRun({ constitution: 'amend-core', prompts: ['x'] })));
    expect(run.budget).toEqual({ tokens: 700 });
    expect(await limitOf(await postRun({ constitution: 'amend-core', prompts: ['x'], budget: { tokens: 5000 } }))).toBe('budget_tokens');

    const team = await stack.mintKey('submitter', 'quota');
    undo();
    undo = stack.reconfigure({ AMEND_RUN_BUDGET_TOKENS: '700', AMEND_RUN_MAX_BUDGET_TOKENS: '1000', AMEND_TEAM_DAILY_TOKENS: '1500' });
    expect((await postRun({ constitution: 'amend-core', prompts: ['x'] }, team)).status).toBe(202); // reserves 700
    expect((await postRun({ constitution: 'amend-core', prompts: ['x'] }, team)).status).toBe(202); // 1400
    const over = await postRun({ constitution: 'amend-core', prompts: ['x'], budget: { tokens: 200 } }, team);
    expect(await limitOf(over)).toBe('team_daily_tokens');
    // A budget within what is left (100 tokens) is accepted.
    const rest = RunSchema.parse(await json(await postRun({ constitution: 'amend-core', prompts: ['x'], budget: { tokens: 100 } }, team)));
    expect(rest.budget).toEqual({ tokens: 100 });
  });
});
