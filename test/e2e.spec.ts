import {
  ConversationalPairLineSchema,
  ERROR_CODES,
  ErrorBodySchema,
  H4PairLineSchema,
  RunSchema,
  SampleSchema,
  SftLineSchema,
  StandardPairLineSchema,
  type ErrorCode,
} from '@amend/contracts';
import { json, ndjson, stackForFile, testEnv, waitForRun, type Stack } from './support/stack';

// Limits small enough to hit in a test; the defaults are in docs/configuration.md.
const env = testEnv('e2e', { AMEND_MAX_PROMPTS: '60', AMEND_MAX_PROMPT_CHARS: '2000', AMEND_MAX_BODY_BYTES: String(256 * 1024) });
let stack: Stack;

const prompts = Array.from({ length: 50 }, (_, i) => ({ id: `p-${i}`, prompt: `Question ${i}: how do I keep my houseplants alive while travelling?` }));

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return stack.fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
const get = (path: string) => stack.fetch(path);

stackForFile(env, {}, (s) => (stack = s));

describe('a run of 50 prompts on the simulator', () => {
  let runId: string;

  beforeAll(async () => {
    const res = await post('/v1/runs', { constitution: 'anthropic-cai', prompts, rounds: 2, seed: 7 });
    expect(res.status).toBe(202);
    runId = RunSchema.parse(await json(res)).id;
  });

  it('completes with counts and usage that add up', async () => {
    const run = await waitForRun(stack, runId);
    expect(run.status).toBe('completed');
    expect(run.counts).toEqual({ total: 50, pending: 0, running: 0, completed: 50, failed: 0, cancelled: 0 });
    expect(run.usage.calls).toBe(50 * 5); // draft + 2 x (critique, revision)
    expect(run.usage.prompt_tokens).toBeGreaterThan(0);
    expect(run.simulated).toBe(true);
    expect(run.constitution.name).toBe('anthropic-cai');
    expect(run.constitution.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('streams pairs in the three formats, each line valid against its schema', async () => {
    const schemas = { conversational: ConversationalPairLineSchema, standard: StandardPairLineSchema, h4: H4PairLineSchema };
    for (const [format, schema] of Object.entries(schemas)) {
      const res = await get(`/v1/runs/${runId}/pairs?format=${format}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/x-ndjson');
      const lines = ndjson(await res.text());
      expect(lines).toHaveLength(50);
      for (const line of lines) schema.parse(line);
      expect(new Set(lines.map((l) => l.id)).size).toBe(50);
      expect(lines.every((l) => l.metadata.simulated === true && l.metadata.principle_ids.length === 2)).toBe(true);
    }
    const conv = ndjson(await (await get(`/v1/runs/${runId}/pairs`)).text());
    expect(conv[0].chosen[0].content).not.toEqual(conv[0].rejected[0].content);
    const usageSum = conv.reduce((a, l) => a + l.metadata.usage.calls, 0);
    expect(usageSum).toBe(250);
  });

  it('streams SFT records of prompt and final revision', async () => {
    const lines = ndjson(await (await get(`/v1/runs/${runId}/sft`)).text());
    expect(lines).toHaveLength(50);
    for (const l of lines) SftLineSchema.parse(l);
  });

  it('lists samples by status and shows every stage of one sample', async () => {
    const list = await json(await get(`/v1/runs/${runId}/samples?status=completed&limit=10`));
    expect(list.samples).toHaveLength(10);
    expect(list.next_cursor).not.toBeNull();
    const sample = SampleSchema.parse(await json(await get(`/v1/samples/${list.samples[0].id}`)));
    expect(sample.stages.map((s) => s.stage)).toEqual(['draft', 'critique', 'revision', 'critique', 'revision']);
    expect(sample.stages[1].principle_id).toBeTruthy();
    // Each call continues the same conversation: messages grow by the last answer and a request.
    expect(sample.stages[1].messages.length).toBe(sample.stages[0].messages.length + 2);
    expect(sample.stages[1].messages[sample.stages[0].messages.length].content).toBe(sample.stages[0].text);
    const none = await json(await get(`/v1/runs/${runId}/samples?status=failed`));
    expect(none.samples).toHaveLength(0);
  });

  it('lists the run among runs', async () => {
    const body = await json(await get('/v1/runs?limit=5'));
    expect(body.runs.map((r: any) => r.id)).toContain(runId);
  });
});

describe('creating runs', () => {
  it('returns the same run for the same Idempotency-Key and body, and refuses the key with another body', async () => {
    const body = { constitution: 'anthropic-cai', prompts: ['Tell me a joke about cats.'] };
    const a = await json(await post('/v1/runs', body, { 'idempotency-key': 'k-1' }));
    const again = await post('/v1/runs', body, { 'idempotency-key': 'k-1' });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await json(again)).id).toBe(a.id);
    const other = await post('/v1/runs', { ...body, prompts: ['Something else'] }, { 'idempotency-key': 'k-1' });
    expect(other.status).toBe(409);
    expect(ErrorBodySchema.parse(await json(other)).error.code).toBe('idempotency_key_reused');
  });

  it('cancels pending samples and keeps the run readable', async () => {
    const many = Array.from({ length: 60 }, (_, i) => `Prompt number ${i}`);
    const run = await json(await post('/v1/runs', { constitution: 'anthropic-cai', prompts: many, rounds: 8 }));
    const res = await post(`/v1/runs/${run.id}/cancel`, {});
    expect(res.status).toBe(200);
    const after = RunSchema.parse(await json(res));
    expect(after.status).toBe('cancelled');
    expect(after.counts.cancelled).toBeGreaterThan(0);
    expect(after.counts.pending).toBe(0);
    const pairs = await get(`/v1/runs/${run.id}/pairs`);
    expect(pairs.status).toBe(200);
  });
});

describe('bad input gets a clear 4xx with the error body, never a 500', () => {
  async function expectError(res: Response, status: number, code?: string) {
    expect(res.status).toBe(status);
    const body = ErrorBodySchema.parse(await json(res));
    if (code) expect(body.error.code).toBe(code);
    return body.error;
  }

  it('an unknown constitution is a 404 that lists the available ones', async () => {
    const err = await expectError(await post('/v1/runs', { constitution: 'nope', prompts: ['hi'] }), 404, 'constitution_not_found');
    expect(err.message).toContain('anthropic-cai');
    expect((err.details as any).available).toContain('anthropic-cai@1.0.0');
  });

  it('empty, too many and too long prompts are 422 naming the index', async () => {
    await expectError(await post('/v1/runs', { constitution: 'anthropic-cai', prompts: [] }), 422, 'invalid_request');
    const empty = await expectError(await post('/v1/runs', { constitution: 'anthropic-cai', prompts: ['ok', '   '] }), 422);
    expect(empty.message).toContain('prompts[1]');
    const long = await expectError(await post('/v1/runs', { constitution: 'anthropic-cai', prompts: ['ok', 'ok', { prompt: 'x'.repeat(2001) }] }), 422);
    expect(long.message).toContain('prompts[2]');
    const many = await expectError(await post('/v1/runs', { constitution: 'anthropic-cai', prompts: Array(61).fill('hi') }), 422);
    expect(many.message).toBe('prompts: the run has 61 prompts; the limit is 60 (AMEND_MAX_PROMPTS)');
  });

  it('unknown fields, unknown models and malformed JSON are refused', async () => {
    const unknown = await expectError(await post('/v1/runs', { constitution: 'anthropic-cai', prompts: ['hi'], team: 'other' }), 422);
    expect(unknown.message).toContain('team');
    await expectError(await post('/v1/runs', { constitution: 'anthropic-cai', prompts: ['hi'], model: 'gpt-x' }), 422, 'unknown_model');
    await expectError(await post('/v1/runs', '{"constitution": "anthropic-cai", '), 400, 'invalid_json');
    await expectError(await post('/v1/runs', { constitution: 'anthropic-cai', prompts: ['hi'], rounds: 9 }), 422);
  });

  it('a body over the limit is a 413', async () => {
    await expectError(await post('/v1/runs', { constitution: 'anthropic-cai', prompts: ['x'.repeat(300 * 1024)] }), 413, 'body_too_large');
  });

  it('unknown ids are 404s', async () => {
    await expectError(await get('/v1/runs/00000000-0000-4000-8000-000000000000'), 404, 'run_not_found');
    // A path id that is not a UUID names nothing of that noun either: the same code as an unknown id.
    await expectError(await get('/v1/runs/not-a-uuid'), 404, 'run_not_found');
    await expectError(await get('/v1/samples/00000000-0000-4000-8000-000000000000'), 404, 'sample_not_found');
    await expectError(await get('/v1/samples/not-a-uuid'), 404, 'sample_not_found');
    await expectError(await get('/v1/nothing-here'), 404, 'not_found');
    await expectError(await get('/v1/runs/00000000-0000-4000-8000-000000000000/pairs?format=csv'), 422);
  });
});

describe('operations', () => {
  it('answers /health and /ready, and serves the OpenAPI document', async () => {
    expect((await get('/health')).status).toBe(200);
    const ready = await json(await get('/ready'));
    expect(ready.status).toBe('ok');
    const doc = await json(await get('/docs/openapi.json'));
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/runs', '/v1/runs/{id}', '/v1/runs/{id}/pairs', '/v1/samples/{id}']));
  });

  it('lists in the OpenAPI document the error codes each route answers, each under its status', async () => {
    const doc = await json(await get('/docs/openapi.json'));
    const codes = (path: string, method: string, status: number): string[] =>
      doc.paths[path]?.[method]?.responses?.[status]?.content?.['application/json']?.schema?.properties?.error?.properties?.code?.enum ?? [];
    // Expected by hand from what the routes do (auth guard, id pipe, services).
    expect(codes('/v1/runs/{id}', 'get', 404)).toEqual(['run_not_found']);
    expect(codes('/v1/runs/{id}', 'get', 401)).toEqual(['unauthenticated', 'invalid_key']);
    expect(codes('/v1/runs', 'post', 404)).toEqual(['constitution_not_found']);
    expect(codes('/v1/runs', 'post', 422)).toEqual(expect.arrayContaining(['invalid_request', 'over_limit', 'too_many_prompts', 'unknown_model']));
    expect(codes('/v1/runs', 'post', 413)).toEqual(['body_too_large']);
    expect(codes('/v1/samples/{id}', 'get', 404)).toEqual(['sample_not_found']);
    expect(codes('/health', 'get', 401)).toEqual([]);
    // Every code listed is in the catalogue under the status it is listed at.
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        for (const [status, response] of Object.entries<any>(op.responses ?? {})) {
          for (const code of response.content?.['application/json']?.schema?.properties?.error?.properties?.code?.enum ?? []) {
            expect({ path, method, code, status: Number(status) }).toEqual({ path, method, code, status: ERROR_CODES[code as ErrorCode].status });
          }
        }
      }
    }
  });
});
