import fc from 'fast-check';
import { z } from 'zod';
import { CreateKeySchema, ListRunsQuerySchema, SamplingSchema } from '@amend/contracts';
import { Known, RawJson, SchemaValues } from './support/fuzz/schema-values';
import { KnownValues, contractProblem, materialize, operations, pathParamProp, toJson, type Keys } from './support/fuzz/openapi-fuzzer';

/** The fuzzer's own parts, checked against the zod schemas and hand-written tables. */
const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
const sample = <T>(arb: fc.Arbitrary<T>, numRuns = 300) => fc.sample(arb, { numRuns, seed: 42 });

describe('values generated from a JSON Schema', () => {
  it('valid values of schemas without refinements are accepted by the zod schemas they were written from', () => {
    for (const schema of [CreateKeySchema, SamplingSchema, ListRunsQuerySchema]) {
      const json = jsonSchema(schema);
      // Placeholders for names the server knows resolve to the pattern's own example when none is known.
      const resolved = sample(new SchemaValues(json).value(json, 'valid')).map((v) => JSON.parse(toJson(v, new KnownValues())));
      const rejected = resolved.filter((v) => !schema.safeParse(v).success);
      expect(rejected).toEqual([]);
    }
  });

  it('invalid values of a strict object with required fields are all refused', () => {
    const json = jsonSchema(CreateKeySchema);
    const accepted = sample(new SchemaValues(json).invalid(json)).filter((v) => CreateKeySchema.safeParse(v).success);
    expect(accepted).toEqual([]);
  });

  it('boundary values of a bounded integer hit its bounds, one past them, and the int4, int8 and double edges', () => {
    const values = new Set(
      sample(new SchemaValues({}).boundary({ type: 'integer', minimum: 1, maximum: 200 }), 3000).map((v) => (v instanceof RawJson ? v.text : v)),
    );
    for (const v of [0, 1, 200, 201, 0.5, 2 ** 31 - 1, 2 ** 31, 2 ** 63, Number.MAX_SAFE_INTEGER, 1e308, '1e400', '9223372036854775808'])
      expect(values).toContain(v);
  });

  it('boundary strings include the empty string, one past maxLength, NUL and a lone surrogate', () => {
    const values = new Set(sample(new SchemaValues({}, { hugeChars: 1000 }).boundary({ type: 'string', minLength: 1, maxLength: 10 }), 3000));
    for (const v of ['', 'x'.repeat(10), 'x'.repeat(11), '\u0000', '\ud800', '😀']) expect(values).toContain(v);
  });

  it('names known to the server are placeholders, resolved when sent', () => {
    const values = sample(new SchemaValues({}, { known: (p) => p === 'constitution' }).valid({ type: 'string' }, 'valid', 'constitution'));
    expect(values.some((v) => v instanceof Known && v.prop === 'constitution')).toBe(true);
    const known = new KnownValues();
    known.add('constitution', 'amend-core');
    expect(toJson({ constitution: new Known('constitution', 5), n: new RawJson('1e400') }, known)).toBe('{"constitution":"amend-core","n":1e400}');
  });
});

describe('ids learnt from answers', () => {
  it('files an id under its container, a top-level id under the route’s collection, and never hands out a protected one', () => {
    const known = new KnownValues();
    const [run, sample1, pair, mine] = [
      '11111111-1111-4111-8111-111111111111',
      '22222222-2222-4222-8222-222222222222',
      '33333333-3333-4333-8333-333333333333',
      '44444444-4444-4444-8444-444444444444',
    ];
    known.protect(mine);
    known.harvest('/v1/runs/{id}', { id: run, samples: [{ id: sample1 }], pair: { id: pair }, keys: [{ id: mine }] });
    expect(known.pick('run_id', 0)).toBe(run);
    expect(known.pick('sample_id', 0)).toBe(sample1);
    expect(known.pick('pair_id', 0)).toBe(pair);
    expect(known.pick('key_id', 0)).not.toBe(mine);
    expect([run, sample1, pair]).toContain(known.pick('any_id', 7));
  });

  it('names a path parameter by the collection before it', () => {
    expect(pathParamProp('/v1/runs/{id}/reviews', 'id')).toBe('run_id');
    expect(pathParamProp('/v1/keys/{id}', 'id')).toBe('key_id');
    expect(pathParamProp('/v1/constitutions/{name}/{version}', 'version')).toBe('version');
  });
});

describe('the contract an answer is checked against', () => {
  const op = { name: 'GET /ready', method: 'GET', path: '/ready', params: [], declared5xx: [503] };
  const error = JSON.stringify({ error: { code: 'not_found', message: 'no such run' } });
  it.each([
    [200, 'text/plain', 'ok', null],
    [404, 'application/json', error, null],
    [503, 'application/json', JSON.stringify({ error: { code: 'unavailable', message: 'redis is down' } }), null],
    [500, 'application/json', error, 'answered 500'],
    [502, 'application/json', error, 'answered 502'],
    [404, 'text/html', '<h1>Not found</h1>', 'not the JSON error body'],
    [400, 'application/json', '{"message":"bad"}', 'without {error: {code, message}}'],
    [422, 'application/json', '{"error":{"code":"","message":"x"}}', 'without {error: {code, message}}'],
    [413, 'application/json', 'not json', 'not JSON'],
  ])('%i %s %s -> %s', (status, contentType, text, problem) => {
    const got = contractProblem({ ...op, declared5xx: status === 503 ? [503] : [] }, { status, contentType, text });
    if (problem === null) expect(got).toBeNull();
    else expect(got).toContain(problem);
  });

  it('counts a 4xx whose code says validation missed it (the filter caught it in Postgres) as a problem', () => {
    const invalidValue = JSON.stringify({ error: { code: 'invalid_value', message: 'a number is out of the range the database stores' } });
    expect(contractProblem(op, { status: 422, contentType: 'application/json', text: invalidValue }, ['invalid_value'])).toContain('invalid_value');
    expect(contractProblem(op, { status: 422, contentType: 'application/json', text: invalidValue })).toBeNull();
  });

  it('sends a request as generated: path ids encoded, queries repeated for arrays, the caller’s key', () => {
    const [op2] = operations({
      paths: {
        '/v1/runs/{id}/samples': {
          get: {
            parameters: [
              { name: 'id', in: 'path', schema: { type: 'string' } },
              { name: 'status', in: 'query', schema: { type: 'string' } },
            ],
          },
        },
      },
    });
    const keys = { submitter: 'amd_s', author: 'amd_a', auditor: 'amd_au', admin: 'amd_ad', 'other-team': 'amd_o', 'made-up': 'amd_m' } satisfies Keys;
    const sent = materialize(
      op2,
      { op: op2.name, caller: 'auditor', path: { id: 'a/b\ud800' }, query: [['status', ['x', 1]]], headers: [] },
      new KnownValues(),
      keys,
    );
    expect(sent).toEqual({
      method: 'GET',
      url: '/v1/runs/a%2Fb%ED%A0%80/samples?status=x&status=1',
      headers: { authorization: 'Bearer amd_au' },
      body: undefined,
    });
  });
});
