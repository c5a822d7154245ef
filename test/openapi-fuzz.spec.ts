import fc from 'fast-check';
import { Pool } from 'undici';
import { RouteTable } from '../apps/api/src/auth/route-table';
import { json, randomKey, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import {
  KnownValues,
  RequestGenerator,
  contractProblem,
  describe as describeRequest,
  materialize,
  operations,
  type Answer,
  type FuzzRequest,
  type Keys,
  type Operation,
} from './support/fuzz/openapi-fuzzer';

/**
 * Odd input is never a 5xx: requests generated from the service's own OpenAPI document (every
 * operation; valid, boundary and invalid parameters and bodies; every role, no key, a made-up
 * key; real and made-up ids) must each answer below 500, and every 4xx with the error body.
 *
 * FUZZ_SEED replays a run (the seed is printed on failure, FUZZ_PATH too, to go straight to the
 * shrunk counterexample); FUZZ_RUNS sets the number of requests (`npm run fuzz` for a long run).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const PATH = process.env.FUZZ_PATH;

// Quiet by default: a failing run prints the request; FUZZ_LOG_LEVEL=error shows the server's stack too.
// The fuzzer sends made-up and malformed keys on purpose, all from one address: the per-address
// limit on failed authentication (tested in abuse.spec) would otherwise answer everything 429.
const env = testEnv('openapi_fuzz', {
  WORKER_CONCURRENCY: '8',
  LOG_LEVEL: process.env.FUZZ_LOG_LEVEL ?? 'fatal',
  AMEND_AUTH_FAILURES_PER_MINUTE: '1000000',
  // Limits that would otherwise answer most of the fuzzer's requests with 429 or 413 early.
  AMEND_KEY_REQUESTS_PER_MINUTE: '10000000',
  AMEND_KEY_CONCURRENT_RUNS: '1000000',
  AMEND_MAX_PROMPTS: '20',
  AMEND_MAX_BODY_BYTES: String(512 * 1024),
});
const LIMITS = { requests_per_minute: 1_000_000, concurrent_runs: 100_000 };
let stack: Stack;
let pool: Pool;
let keys: Keys;
const known = new KnownValues();

async function call(method: string, path: string, key: string, body?: unknown) {
  const res = await stack.fetch(
    path,
    { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) },
    key,
  );
  const value = await json(res);
  if (res.status >= 300) throw new Error(`fixture ${method} ${path} answered ${res.status}: ${JSON.stringify(value)}`);
  known.harvest(path, value);
  return value;
}

stackForFile(env, {}, (s) => (stack = s));
beforeAll(async () => {
  pool = new Pool(stack.url, { connections: 4 });
  keys = {
    submitter: await stack.mintKey('submitter', 'default', LIMITS),
    author: await stack.mintKey('author', 'default', LIMITS),
    auditor: await stack.mintKey('auditor', 'default', LIMITS),
    admin: await stack.mintKey('admin', 'default', LIMITS),
    'other-team': await stack.mintKey('submitter', 'fuzz-other', LIMITS),
    'made-up': randomKey(),
  };
  // The keys the fuzzer sends with stay out of its reach (DELETE /v1/keys/{id} would end its coverage).
  for (const k of (await call('GET', '/v1/keys', keys.admin)).keys as { id: string }[]) known.protect(k.id);

  // Real ids of every kind, so requests get past "not found": a constitution, runs with samples
  // and pairs, a review, a key that may be revoked.
  await call('POST', '/v1/constitutions', keys.author, {
    name: 'fuzz-c',
    version: '1.0.0',
    title: 'Fuzz',
    principles: [
      {
        id: 'be-brief',
        critique: 'Is the last response longer than it needs to be?',
        revision: 'Rewrite it shorter.',
        comparison: 'Which response is briefer?',
        tags: ['brevity'],
      },
    ],
  });
  const runs = [
    await call('POST', '/v1/runs', keys.submitter, {
      constitution: 'fuzz-c@1.0.0',
      prompts: ['How do I boil an egg?', { id: 'q2', prompt: 'Name a prime.' }],
      seed: 7,
    }),
    await call('POST', '/v1/runs', keys.submitter, { constitution: 'amend-core', mode: 'ai-feedback', prompts: ['Is the sky blue?'], seed: 8 }),
  ];
  for (const run of runs) {
    await waitFor(async () => (await json(await stack.fetch(`/v1/runs/${run.id}`, {}, keys.submitter))).status === 'completed', {
      what: `fixture run ${run.id}`,
    });
    await call('GET', `/v1/runs/${run.id}`, keys.submitter);
    await call('GET', `/v1/runs/${run.id}/samples`, keys.submitter);
    await call('GET', `/v1/runs/${run.id}/audit`, keys.auditor);
  }
  const reviews = await call('GET', `/v1/runs/${runs[0].id}/reviews`, keys.submitter);
  await call('POST', `/v1/pairs/${reviews.items[0].pair.id}/review`, keys.submitter, { decision: 'accept', reason: 'fixture' });
  await call('GET', '/v1/constitutions', keys.author);
  await call('GET', '/v1/runs?limit=1', keys.submitter);
  known.add('constitution', 'fuzz-c@1.0.0');
  known.add('constitution', 'amend-core');
  // Admins outside the operator team mint keys of their own team only (issue 13), so the key the
  // fuzzer may revoke is a submitter of the admin's team.
  await call('POST', '/v1/keys', keys.admin, { role: 'submitter', team: 'default' });
}, 120_000);

afterAll(async () => {
  await pool?.close();
});

async function send(op: Operation, sent: ReturnType<typeof materialize>): Promise<Answer> {
  const res = await pool.request({
    path: sent.url,
    method: sent.method as any,
    headers: sent.headers,
    body: sent.body,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = await res.body.text();
  return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), text };
}

it(
  'answers every generated request below 500, every 4xx with the error body, and stays ready',
  async () => {
    const doc = await json(await stack.fetch('/docs/openapi.json', {}, null));
    const ops = operations(doc);
    const byName = new Map(ops.map((o) => [o.name, o]));
    // The roles each route lets in, from the same route table the guard reads.
    const rules = new Map(
      stack.api
        .get(RouteTable)
        .routes()
        .map((r) => [`${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`, r.rule]),
    );
    const rolesOf = (op: Operation) => {
      const rule = rules.get(op.name);
      return rule && !rule.public ? rule.roles : undefined;
    };
    const generator = new RequestGenerator(doc, ops, (prop) => known.has(prop), rolesOf);
    const seen = new Map<string, Map<number, number>>();
    let sendMs = 0;

    const property = fc.asyncProperty(generator.request(), async (req) => {
      const op = byName.get(req.op)!;
      const sent = materialize(op, req, known, keys);
      let answer: Answer;
      const t0 = Date.now();
      try {
        answer = await send(op, sent);
        sendMs += Date.now() - t0;
      } catch (e) {
        throw new Error(`no answer (${(e as Error).message})\n\n${describeRequest(sent, null, keys)}`, { cause: e });
      }
      if (process.env.FUZZ_DEBUG_OP === op.name) console.log(describeRequest(sent, answer, keys).slice(0, 1500));
      const counts = seen.get(op.name) ?? new Map<number, number>();
      counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1);
      seen.set(op.name, counts);
      if (answer.status < 300 && /json/.test(answer.contentType)) {
        try {
          known.harvest(op.path, JSON.parse(answer.text));
        } catch {
          // JSON Lines and the like: nothing to learn ids from.
        }
      }
      // invalid_value: the error filter's last line of defence caught a value a schema should bound.
      const problem = contractProblem(op, answer, ['invalid_value']);
      if (problem) throw new Error(`${problem}\n\n${describeRequest(sent, answer, keys)}`);
    });

    const started = Date.now();
    // The sweep first (fast-check runs `examples` before generating), then random requests.
    const sweep = ops.flatMap((op) => generator.edgeCases(op)).map((r) => [r] as [FuzzRequest]);
    const out = await fc.check(property, { seed: SEED, numRuns: sweep.length + RUNS, examples: sweep, ...(PATH ? { path: PATH, endOnFailure: true } : {}) });
    const tookS = (Date.now() - started) / 1000;
    if (out.failed) {
      const replay = `replay: FUZZ_SEED=${out.seed}${out.counterexamplePath ? ` FUZZ_PATH=${out.counterexamplePath}` : ''} npx jest test/openapi-fuzz.spec.ts`;
      const error = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
      const generated = fc.stringify(out.counterexample);
      throw new Error(
        `${replay}\n\nFailed after ${out.numRuns} requests (the first ${sweep.length} are the sweep), shrunk ${out.numShrinks} time(s).\n` +
          `Generated: ${generated.length > 1500 ? `${generated.slice(0, 1500)}... (${generated.length} chars)` : generated}\n\nThe request ${error}\n\n${replay}`,
      );
    }
    if (process.env.FUZZ_VERBOSE || RUNS > 5000) {
      const lines = [...seen].sort().map(
        ([name, c]) =>
          `${name.padEnd(52)} ${[...c]
            .sort()
            .map(([s, n]) => `${s}x${n}`)
            .join(' ')}`,
      );
      console.log(
        `fuzz seed ${SEED}: ${out.numRuns} requests (${sweep.length} of the sweep) in ${tookS.toFixed(1)} s (${(sendMs / 1000).toFixed(1)} s waiting for answers)\n${lines.join('\n')}`,
      );
    }

    // Every operation was reached, and by a caller the service let through (not only 401s).
    for (const op of ops) {
      const statuses = [...(seen.get(op.name)?.keys() ?? [])];
      expect({ op: op.name, sent: statuses.length > 0 }).toEqual({ op: op.name, sent: true });
      expect({ op: op.name, authenticated: statuses.some((s) => s !== 401) }).toEqual({ op: op.name, authenticated: true });
    }
    const ready = await stack.fetch('/ready', {}, null);
    expect(ready.status).toBe(200);
  },
  60_000 + RUNS * 100,
);

it('answers the inputs the fuzzer found with 4xx and the error body (each was a 500)', async () => {
  const run = known.pick('run_id', 0);
  const cursor = (s: string) => Buffer.from(s).toString('base64url');
  const cases: [string, string, number][] = [
    [keys.submitter, `/v1/runs/${run}/reviews?cursor=2147483648`, 422],
    [keys.submitter, `/v1/runs/${run}/samples?cursor=${Number.MAX_SAFE_INTEGER}`, 422],
    [keys.auditor, `/v1/runs/${run}/audit?cursor=9223372036854775808`, 422],
    [keys.auditor, '/v1/audit/events?cursor=%00', 422],
    [keys.auditor, `/v1/audit/events?cursor=${cursor('2026-01-01T00:00:00.000Z|x')}`, 422],
    [keys.submitter, `/v1/runs?cursor=${cursor('not a time|00000000-0000-4000-8000-000000000000')}`, 422],
    [keys.submitter, `/v1/runs?cursor=${cursor('2026-01-01T00:00:00.000Z|not-a-uuid')}`, 422],
    [keys.submitter, `/v1/runs?cursor=${cursor('-271821-04-20T00:00:00.000Z|00000000-0000-4000-8000-000000000000')}`, 422],
  ];
  for (const [key, path, status] of cases) {
    const res = await stack.fetch(path, {}, key);
    const body = await json(res);
    expect({ path, status: res.status, code: typeof body.error?.code }).toEqual({ path, status, code: 'string' });
  }
});
