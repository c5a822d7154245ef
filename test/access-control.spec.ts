import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { CreatedKeySchema, ErrorBodySchema, KeyDirectorySchema, KeyListSchema, RunListSchema, RunSchema } from '@amend/contracts';
import { ABILITIES, abilitiesOf, loadConfig } from '@amend/contracts';
import { createApiApp } from '../apps/api/src/app';
import { RouteTable, type RouteEntry } from '../apps/api/src/auth/route-table';
import { ROLES, type Role } from '../apps/api/src/auth/access.decorators';
import { authHeaders, json, pgForFile, randomKey, stackForFile, testEnv, waitFor, type Stack } from './support/stack';
import { amendCli } from './support/capture';

const env = testEnv('access', {
  // The matrix sends a few hundred requests per key; the rate limit has its own test below.
  AMEND_KEY_REQUESTS_PER_MINUTE: '100000',
  // The matrix sends every route without a key, and bad keys: failed authentications per address have their own test (abuse.spec.ts).
  AMEND_AUTH_FAILURES_PER_MINUTE: '100000',
  AMEND_MODELS: JSON.stringify({ default: { simulator: true }, slow: { simulator: true, latency_ms: 5000 } }),
});
let stack: Stack;
let pg: Client;

/** Keys of team alpha (the caller's own team) for every role, and a submitter of team beta. */
const keys = {} as Record<Role, string>;
let betaSubmitter: string;
type Ids = Record<'run' | 'sample' | 'pair' | 'key' | 'evaluation' | 'suggestion' | 'erasable_run' | 'erasable_sample' | 'queue_run', string>;
const own = {} as Ids;
const other = {} as Ids;
/** Published by the matrix's author, so deprecating it in the matrix harms nothing else. */
const CONSTITUTION = { name: 'matrix-check', version: '1.0.0' };

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
/** The draft each team has of its own constitution name. */
const DRAFT = 'matrix-draft';
/** A constitution name that team beta owns (its author published it first). */
const BETA_CONSTITUTION = { name: 'matrix-beta', version: '1.0.0' };

async function finishedRun(key: string, extra: Record<string, unknown> = {}): Promise<{ run: string; sample: string; pair: string }> {
  const res = await stack.fetch(
    '/v1/runs',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ constitution: 'amend-core', prompts: ['How do I keep basil alive?', 'Tell me a short joke.'], ...extra }),
    },
    key,
  );
  expect(res.status).toBe(202);
  const { id } = RunSchema.parse(await json(res));
  await waitFor(async () => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`, {}, key))).status === 'completed', { what: `run ${id}` });
  const samples = await json(await stack.fetch(`/v1/runs/${id}/samples`, {}, key));
  const pair = (await pg.query(`select id from "${env.DATABASE_SCHEMA}".pairs where run_id = $1 limit 1`, [id])).rows[0].id;
  return { run: id, sample: samples.samples[0].id, pair };
}

/** An evaluation of the author's team (its report is not needed, only its id). */
async function evaluation(authorKey: string): Promise<string> {
  const res = await stack.fetch(
    '/v1/evaluations',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ baseline: 'amend-core@1.0.0', candidate: 'amend-core', prompts: ['Tell me a short joke.'] }),
    },
    authorKey,
  );
  expect(res.status).toBe(202);
  return (await json(res)).id;
}

const SUGGESTION_BODY = { pairs: [{ prompt: 'Name a hardy houseplant.', chosen: 'A snake plant, according to the RHS.', rejected: 'A fern.' }] };

/** A finished suggestion set of the author's team, on a constitution that team owns (so its author may draft it). */
async function suggestionSet(authorKey: string, name: string): Promise<string> {
  const res = await stack.fetch(
    `/v1/constitutions/${name}/suggestions`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SUGGESTION_BODY) },
    authorKey,
  );
  expect(res.status).toBe(202);
  const { id } = await json(res);
  await waitFor(async () => ['completed', 'failed'].includes((await json(await stack.fetch(`/v1/suggestions/${id}`, {}, authorKey))).status), {
    what: `suggestion set ${id}`,
  });
  return id;
}

async function keyId(key: string): Promise<string> {
  return (await json(await stack.fetch('/v1/keys/me', {}, key))).id;
}

const yaml = (name: string, version: string) =>
  `name: ${name}\nversion: ${version}\ntitle: Matrix\nprinciples:\n  - id: p\n    critique: Identify one problem.\n    revision: Fix it.\n`;

stackForFile(env, {}, (s) => (stack = s));
pgForFile(env, (c) => (pg = c));
beforeAll(async () => {
  for (const role of ROLES) keys[role] = await stack.mintKey(role, 'alpha');
  betaSubmitter = await stack.mintKey('submitter', 'beta');
  const betaAuthor = await stack.mintKey('author', 'beta');
  const publish = (key: string, name: string, version: string) =>
    stack.fetch('/v1/constitutions', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml(name, version) }, key);
  expect((await publish(keys.author, CONSTITUTION.name, CONSTITUTION.version)).status).toBe(201);
  expect((await publish(betaAuthor, BETA_CONSTITUTION.name, BETA_CONSTITUTION.version)).status).toBe(201);
  // A draft of each team's name, named alike, for the draft routes' own and other cells.
  const saveDraft = (key: string, name: string) =>
    stack.fetch(
      `/v1/constitutions/${name}/drafts/${DRAFT}`,
      { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: yaml(name, '1.0.0') },
      key,
    );
  expect((await saveDraft(keys.author, CONSTITUTION.name)).status).toBe(201);
  expect((await saveDraft(betaAuthor, BETA_CONSTITUTION.name)).status).toBe(201);
  const a = await finishedRun(keys.submitter);
  const b = await finishedRun(betaSubmitter);
  // Runs of their own for the erasure routes, so erasing leaves the runs the other rows read whole.
  const [ea, eb] = [await finishedRun(keys.submitter), await finishedRun(betaSubmitter)];
  // Runs whose queue has a slot for every role that takes one (docs/ml-teams.md#review-by-several-reviewers).
  const [qa, qb] = [await finishedRun(keys.submitter, { review: { per_pair: 5 } }), await finishedRun(betaSubmitter, { review: { per_pair: 5 } })];
  Object.assign(own, a, {
    key: await keyId(await stack.mintKey('submitter', 'alpha')),
    evaluation: await evaluation(keys.author),
    suggestion: await suggestionSet(keys.author, CONSTITUTION.name),
    erasable_run: ea.run,
    erasable_sample: ea.sample,
    queue_run: qa.run,
  });
  Object.assign(other, b, {
    key: await keyId(await stack.mintKey('submitter', 'beta')),
    evaluation: await evaluation(betaAuthor),
    suggestion: await suggestionSet(betaAuthor, BETA_CONSTITUTION.name),
    erasable_run: eb.run,
    erasable_sample: eb.sample,
    queue_run: qb.run,
  });
});

type Scope = 'own' | 'other';
/** What the route does to the caller's own team's things and to another team's, once the role may call it. */
type Crossing =
  | 'none' // nothing of a team in the request: both scopes answer alike
  | 'team_data' // a run, sample, pair or evaluation: another team's is 404, except to the roles in `readsEveryTeam`
  | 'constitution_owner' // a write to a constitution name: another team's name is 403
  | 'key_admin'; // a key of another team: 404 to revoke, 403 to create, for an admin scoped to its team

interface Expected {
  roles: Role[];
  ok: number;
  crossing: Crossing;
  /** team_data: the roles that read every team's (auditors, unless said). */
  readsEveryTeam?: Role[];
  /** A concrete request for the scope: path, and a valid body for writes. */
  request: (scope: Scope) => { path: string; body?: { type: string; text: string } };
}

let versionCounter = 0;
const jsonBody = (value: unknown) => ({ type: 'application/json', text: JSON.stringify(value) });
const ids = (scope: Scope) => (scope === 'own' ? own : other);
const cname = (scope: Scope) => (scope === 'own' ? CONSTITUTION : BETA_CONSTITUTION);
/** Reviewers read their team's runs, pairs and samples, to review them (docs/architecture.md#roles-and-access). */
const READERS: Role[] = ['submitter', 'auditor', 'reviewer'];
const REVIEWERS: Role[] = ['submitter', 'reviewer'];
const CONSTITUTION_READERS: Role[] = ['submitter', 'author', 'auditor'];
/** docs/policy-authors.md#ab-evaluations: authors and admins start evaluations; auditors and admins read every team's. */
const EVALUATION_READERS: Role[] = ['author', 'auditor', 'admin'];
const EVALUATION_BODY = { baseline: 'amend-core@1.0.0', candidate: 'amend-core', prompts: ['Name a hardy houseplant.'] };

/**
 * Who may call what, written out by hand from the role table of docs/architecture.md#roles-and-access,
 * not read from the decorators under test: a route Nest serves that is missing here fails the
 * test, and so does a row for a route that no longer exists.
 */
const EXPECTED: Record<string, Expected> = {
  'GET /health': { roles: [], ok: 200, crossing: 'none', request: () => ({ path: '/health' }) },
  'GET /ready': { roles: [], ok: 200, crossing: 'none', request: () => ({ path: '/ready' }) },
  'POST /v1/runs': {
    roles: ['submitter'],
    ok: 202,
    crossing: 'none',
    request: () => ({ path: '/v1/runs', body: jsonBody({ constitution: 'amend-core', prompts: ['Name a hardy houseplant.'] }) }),
  },
  'GET /v1/runs': { roles: READERS, ok: 200, crossing: 'none', request: () => ({ path: '/v1/runs?limit=5' }) },
  'GET /v1/runs/:id': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}` }) },
  'GET /v1/runs/:id/manifest': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}/manifest` }) },
  // No AMEND_HF_TOKENS in this stack: a submitter of the run's team gets past the access check to the route's own answer.
  'POST /v1/runs/:id/exports/hub': {
    roles: ['submitter'],
    ok: 422,
    crossing: 'team_data',
    request: (s) => ({ path: `/v1/runs/${ids(s).run}/exports/hub`, body: jsonBody({ repo: 'acme/prefs' }) }),
  },
  'POST /v1/runs/:id/cancel': {
    roles: ['submitter'],
    ok: 200,
    crossing: 'team_data',
    request: (s) => ({ path: `/v1/runs/${ids(s).run}/cancel`, body: jsonBody({}) }),
  },
  'GET /v1/runs/:id/samples': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}/samples` }) },
  'GET /v1/samples/:id': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/samples/${ids(s).sample}` }) },
  'GET /v1/runs/:id/pairs': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}/pairs` }) },
  'GET /v1/runs/:id/sft': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}/sft` }) },
  'GET /v1/runs/:id/report': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}/report` }) },
  'GET /v1/runs/:id/reviews': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}/reviews` }) },
  'GET /v1/pairs': { roles: READERS, ok: 200, crossing: 'none', request: () => ({ path: '/v1/pairs?q=houseplant&limit=5' }) },
  'GET /v1/pairs/:id/review': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/pairs/${ids(s).pair}/review` }) },
  'POST /v1/pairs/:id/review': {
    roles: REVIEWERS,
    ok: 201,
    crossing: 'team_data',
    request: (s) => ({ path: `/v1/pairs/${ids(s).pair}/review`, body: jsonBody({ decision: 'accept', reason: 'the matrix reviews it' }) }),
  },
  'GET /v1/runs/:id/review-queue/next': {
    roles: REVIEWERS,
    ok: 200,
    crossing: 'team_data',
    readsEveryTeam: [],
    request: (s) => ({ path: `/v1/runs/${ids(s).queue_run}/review-queue/next` }),
  },
  'GET /v1/runs/:id/review-queue': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).queue_run}/review-queue` }) },
  'GET /v1/runs/:id/agreement': { roles: READERS, ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).queue_run}/agreement` }) },
  'PUT /v1/runs/:id/review-policy': {
    roles: ['submitter'],
    ok: 200,
    crossing: 'team_data',
    request: (s) => ({ path: `/v1/runs/${ids(s).queue_run}/review-policy`, body: jsonBody({ per_pair: 5 }) }),
  },
  'GET /v1/runs/:id/audit': { roles: ['auditor'], ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}/audit` }) },
  'GET /v1/runs/:id/audit/verify': { roles: ['auditor'], ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}/audit/verify` }) },
  'GET /v1/runs/:id/audit/export': { roles: ['auditor'], ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/runs/${ids(s).run}/audit/export` }) },
  'GET /v1/samples/:id/audit': { roles: ['auditor'], ok: 200, crossing: 'team_data', request: (s) => ({ path: `/v1/samples/${ids(s).sample}/audit` }) },
  'GET /v1/audit/events': { roles: ['auditor'], ok: 200, crossing: 'none', request: () => ({ path: '/v1/audit/events?limit=5' }) },
  'GET /v1/audit/verify': { roles: ['auditor'], ok: 200, crossing: 'none', request: () => ({ path: '/v1/audit/verify' }) },
  'GET /v1/constitutions': { roles: CONSTITUTION_READERS, ok: 200, crossing: 'none', request: () => ({ path: '/v1/constitutions' }) },
  'POST /v1/constitutions': {
    roles: ['author'],
    ok: 201,
    crossing: 'constitution_owner',
    request: (s) => ({ path: '/v1/constitutions', body: { type: 'application/yaml', text: yaml(cname(s).name, `1.1.${++versionCounter}`) } }),
  },
  'POST /v1/constitutions/import': {
    roles: ['author'],
    ok: 201,
    crossing: 'constitution_owner',
    request: (s) => ({
      path: `/v1/constitutions/import?format=h4&name=${cname(s).name}&version=2.0.${++versionCounter}`,
      body: jsonBody({ constitutions: [{ critic: 'Identify one problem.', revision: 'Fix it.' }] }),
    }),
  },
  'GET /v1/constitutions/:name': { roles: CONSTITUTION_READERS, ok: 200, crossing: 'none', request: (s) => ({ path: `/v1/constitutions/${cname(s).name}` }) },
  'GET /v1/constitutions/:name/diff': {
    roles: CONSTITUTION_READERS,
    ok: 200,
    crossing: 'none',
    request: (s) => ({ path: `/v1/constitutions/${cname(s).name}/diff?from=${cname(s).version}&to=${cname(s).version}` }),
  },
  'GET /v1/constitutions/:name/:version': {
    roles: CONSTITUTION_READERS,
    ok: 200,
    crossing: 'none',
    request: (s) => ({ path: `/v1/constitutions/${cname(s).name}/${cname(s).version}` }),
  },
  'POST /v1/constitutions/:name/:version/deprecate': {
    roles: ['author'],
    ok: 200,
    crossing: 'constitution_owner',
    request: (s) => ({ path: `/v1/constitutions/${cname(s).name}/${cname(s).version}/deprecate`, body: jsonBody({ reason: 'the matrix deprecates it' }) }),
  },
  'POST /v1/constitutions/:name/:version/preview': {
    roles: ['author'],
    ok: 200,
    // Previewing reads a constitution, whoever owns it.
    crossing: 'none',
    request: (s) => ({ path: `/v1/constitutions/${cname(s).name}/${cname(s).version}/preview`, body: jsonBody({ prompts: ['Name a hardy houseplant.'] }) }),
  },
  // docs/policy-authors.md#drafts: a team's authors and admins save and read its drafts; other teams' are 404, other teams' names 403.
  'GET /v1/constitutions/:name/drafts': {
    roles: ['author', 'admin'],
    ok: 200,
    // Each team lists its own drafts of a name: another team's name lists none.
    crossing: 'none',
    request: (s) => ({ path: `/v1/constitutions/${cname(s).name}/drafts` }),
  },
  'GET /v1/constitutions/:name/drafts/:draft': {
    roles: ['author', 'admin'],
    ok: 200,
    crossing: 'team_data',
    readsEveryTeam: [],
    request: (s) => ({ path: `/v1/constitutions/${cname(s).name}/drafts/${DRAFT}` }),
  },
  'PUT /v1/constitutions/:name/drafts/:draft': {
    roles: ['author', 'admin'],
    ok: 201,
    crossing: 'constitution_owner',
    request: (s) => ({
      path: `/v1/constitutions/${cname(s).name}/drafts/new-${++versionCounter}`,
      body: { type: 'application/yaml', text: yaml(cname(s).name, '1.0.0') },
    }),
  },
  'POST /v1/constitutions/:name/drafts/:draft/preview': {
    roles: ['author'],
    ok: 200,
    crossing: 'team_data',
    readsEveryTeam: [],
    request: (s) => ({ path: `/v1/constitutions/${cname(s).name}/drafts/${DRAFT}/preview`, body: jsonBody({ prompts: ['Name a hardy houseplant.'] }) }),
  },
  'POST /v1/constitutions/:name/drafts/:draft/publish': {
    roles: ['author'],
    ok: 201,
    crossing: 'team_data',
    readsEveryTeam: [],
    request: (s) => ({ path: `/v1/constitutions/${cname(s).name}/drafts/${DRAFT}/publish`, body: jsonBody({ version: `1.3.${++versionCounter}` }) }),
  },
  'POST /v1/evaluations': {
    roles: ['author', 'admin'],
    ok: 202,
    crossing: 'none',
    request: () => ({ path: '/v1/evaluations', body: jsonBody(EVALUATION_BODY) }),
  },
  'POST /v1/evaluations/estimate': {
    roles: ['author', 'admin'],
    ok: 200,
    crossing: 'none',
    request: () => ({ path: '/v1/evaluations/estimate', body: jsonBody(EVALUATION_BODY) }),
  },
  'GET /v1/evaluations': { roles: EVALUATION_READERS, ok: 200, crossing: 'none', request: () => ({ path: '/v1/evaluations' }) },
  'GET /v1/evaluations/sets': { roles: EVALUATION_READERS, ok: 200, crossing: 'none', request: () => ({ path: '/v1/evaluations/sets' }) },
  'GET /v1/evaluations/:id': {
    roles: EVALUATION_READERS,
    ok: 200,
    crossing: 'team_data',
    readsEveryTeam: ['auditor', 'admin'],
    request: (s) => ({ path: `/v1/evaluations/${ids(s).evaluation}` }),
  },
  // docs/policy-authors.md#principle-suggestions: authors learn suggestions (from any constitution they may read) and read their team's; auditors every team's.
  'POST /v1/constitutions/:name/suggestions': {
    roles: ['author'],
    ok: 202,
    crossing: 'none',
    request: () => ({ path: '/v1/constitutions/amend-core/suggestions', body: jsonBody(SUGGESTION_BODY) }),
  },
  'POST /v1/constitutions/:name/suggestions/estimate': {
    roles: ['author'],
    ok: 200,
    crossing: 'none',
    request: () => ({ path: '/v1/constitutions/amend-core/suggestions/estimate', body: jsonBody(SUGGESTION_BODY) }),
  },
  'GET /v1/suggestions': { roles: ['author', 'auditor'], ok: 200, crossing: 'none', request: () => ({ path: '/v1/suggestions' }) },
  'GET /v1/suggestions/:id': {
    roles: ['author', 'auditor'],
    ok: 200,
    crossing: 'team_data',
    request: (s) => ({ path: `/v1/suggestions/${ids(s).suggestion}` }),
  },
  'POST /v1/suggestions/:id/add-to-draft': {
    roles: ['author'],
    ok: 201,
    crossing: 'team_data',
    readsEveryTeam: [],
    request: (s) => ({ path: `/v1/suggestions/${ids(s).suggestion}/add-to-draft`, body: jsonBody({ rank: 1, draft: 'matrix-suggested' }) }),
  },
  'GET /v1/suggestions/:id/audit/verify': {
    roles: ['auditor'],
    ok: 200,
    crossing: 'team_data',
    request: (s) => ({ path: `/v1/suggestions/${ids(s).suggestion}/audit/verify` }),
  },
  'POST /v1/keys': {
    roles: ['admin'],
    ok: 201,
    crossing: 'key_admin',
    request: (s) => ({ path: '/v1/keys', body: jsonBody({ role: 'submitter', team: s === 'own' ? 'alpha' : 'beta', name: 'matrix' }) }),
  },
  'GET /v1/keys': { roles: ['admin', 'auditor'], ok: 200, crossing: 'none', request: () => ({ path: '/v1/keys' }) },
  'DELETE /v1/keys/:id': { roles: ['admin'], ok: 200, crossing: 'key_admin', request: (s) => ({ path: `/v1/keys/${ids(s).key}` }) },
  // docs/audit.md "Erasure": admins only; an admin outside the operator team erases in its own team (another team's ids are 404s).
  'POST /v1/samples/:id/erase': {
    roles: ['admin'],
    ok: 200,
    crossing: 'team_data',
    readsEveryTeam: [],
    request: (s) => ({ path: `/v1/samples/${ids(s).erasable_sample}/erase`, body: jsonBody({ reason: 'the matrix erases it' }) }),
  },
  'POST /v1/runs/:id/erase': {
    roles: ['admin'],
    ok: 200,
    crossing: 'team_data',
    readsEveryTeam: [],
    request: (s) => ({ path: `/v1/runs/${ids(s).erasable_run}/erase`, body: jsonBody({ reason: 'the matrix erases it' }) }),
  },
  'GET /v1/keys/me': { roles: ['submitter', 'author', 'auditor', 'admin', 'reviewer'], ok: 200, crossing: 'none', request: () => ({ path: '/v1/keys/me' }) },
};

/** What the hand table says a role gets from a route for its own team's things or another team's. */
function expectedStatus(e: Expected, role: Role, scope: Scope): number {
  if (!e.roles.includes(role)) return 403;
  if (scope === 'own') return e.ok;
  switch (e.crossing) {
    case 'none':
      return e.ok;
    case 'team_data':
      return (e.readsEveryTeam ?? ['auditor']).includes(role) ? e.ok : 404;
    case 'constitution_owner':
      return 403;
    case 'key_admin':
      return e.ok === 201 ? 403 : 404;
  }
}

describe('the route table', () => {
  it('gives every route Nest serves an access rule, and the hand-written table has a row for each (and none for a route that is gone)', async () => {
    const routes = stack.api.get(RouteTable).routes();
    const unruled = routes.filter((r) => !r.rule).map((r) => `${r.method} ${r.path} (${r.controller}.${r.handler})`);
    expect(unruled).toEqual([]);
    const served = routes.map((r) => `${r.method} ${r.path}`).sort();
    expect(served.filter((r) => !(r in EXPECTED))).toEqual([]);
    expect(Object.keys(EXPECTED).filter((r) => !served.includes(r))).toEqual([]);
  });

  it("names on each route an ability whose roles are the hand table's, so the console offers each role exactly the routes it may call", async () => {
    const problems: string[] = [];
    const needed = new Set<string>();
    for (const route of stack.api.get(RouteTable).routes()) {
      const e = EXPECTED[`${route.method} ${route.path}`];
      if (!e || !route.rule || route.rule.public) continue;
      needed.add(route.rule.ability);
      for (const role of ROLES) {
        const offered = abilitiesOf(role)[route.rule.ability];
        if (offered !== e.roles.includes(role))
          problems.push(`${route.method} ${route.path} (${route.rule.ability}): the console ${offered ? 'offers' : 'hides'} it to ${role}`);
      }
    }
    expect(problems).toEqual([]);
    // An ability no route needs would be something the console offers that nothing serves.
    expect(Object.keys(ABILITIES).filter((a) => !needed.has(a))).toEqual([]);
  });

  it('has a row for every operation the OpenAPI document lists', async () => {
    const doc = await json(await fetch(`${stack.url}/docs/openapi.json`));
    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    expect(listed.length).toBeGreaterThan(30);
    expect(listed.filter((op) => !(op in EXPECTED))).toEqual([]);
  });
});

describe('the role matrix: every route x every role x own and other team, expected from the hand table', () => {
  it('answers each cell as the table says, with valid bodies, so cross-team writes are really tried', async () => {
    const routes = stack.api.get(RouteTable).routes();
    const problems: string[] = [];
    let cells = 0;
    const send = (route: RouteEntry, req: ReturnType<Expected['request']>, key: string | null) =>
      stack.fetch(
        req.path,
        route.method === 'GET' ? {} : { method: route.method, ...(req.body ? { headers: { 'content-type': req.body.type }, body: req.body.text } : {}) },
        key,
      );
    for (const route of routes) {
      const name = `${route.method} ${route.path}`;
      const e = EXPECTED[name];
      if (!e) continue; // reported by the test above
      const check = async (who: string, scope: Scope, key: string | null, wanted: number) => {
        cells++;
        const res = await send(route, e.request(scope), key);
        if (res.status !== wanted) problems.push(`${name} as ${who} (${scope}): ${res.status}, expected ${wanted}: ${(await res.text()).slice(0, 200)}`);
        else await res.arrayBuffer();
      };
      if (e.roles.length === 0) {
        await check('nobody', 'own', null, e.ok);
        continue;
      }
      await check('nobody', 'own', null, 401);
      for (const role of ROLES) for (const scope of ['own', 'other'] as const) await check(role, scope, keys[role], expectedStatus(e, role, scope));
    }
    console.log(`role matrix: ${routes.length} routes, ${ROLES.length} roles x 2 teams + no key: ${cells} cells checked against the hand table`);
    expect(problems).toEqual([]);
  });

  it("answers another team's run, sample, pair and evaluation exactly as an unknown id", async () => {
    const cases: [string, string][] = [
      [`/v1/runs/${other.run}`, keys.submitter],
      [`/v1/samples/${other.sample}`, keys.submitter],
      [`/v1/pairs/${other.pair}/review`, keys.submitter],
      [`/v1/evaluations/${other.evaluation}`, keys.author],
    ];
    for (const [path, key] of cases) {
      const foreign = await stack.fetch(path, {}, key);
      const unknown = await stack.fetch(path.replace(/[0-9a-f-]{36}/, UNKNOWN_ID), {}, key);
      expect([foreign.status, unknown.status]).toEqual([404, 404]);
      expect(ErrorBodySchema.parse(await json(foreign)).error.code).toBe(ErrorBodySchema.parse(await json(unknown)).error.code);
    }
  });

  it("lists only the caller's team's runs to a submitter and every team's to an auditor", async () => {
    const mine = RunListSchema.parse(await json(await stack.fetch('/v1/runs?limit=200', {}, keys.submitter))).runs.map((r) => r.id);
    expect(mine).toContain(own.run);
    expect(mine).not.toContain(other.run);
    const all = RunListSchema.parse(await json(await stack.fetch('/v1/runs?limit=200', {}, keys.auditor))).runs.map((r) => r.id);
    expect(all).toEqual(expect.arrayContaining([own.run, other.run]));
  });

  it("answers another team's ids exactly as unknown ids, so ids do not leak", async () => {
    const foreign = await stack.fetch(`/v1/runs/${other.run}`, {}, keys.submitter);
    const unknown = await stack.fetch('/v1/runs/00000000-0000-4000-8000-000000000000', {}, keys.submitter);
    expect([foreign.status, unknown.status]).toEqual([404, 404]);
    expect(ErrorBodySchema.parse(await json(foreign)).error.code).toBe(ErrorBodySchema.parse(await json(unknown)).error.code);
    expect((await stack.fetch(`/v1/runs/${other.run}/cancel`, { method: 'POST' }, keys.submitter)).status).toBe(404);
  });
});

describe('API keys', () => {
  it('shows a new key once, stores only its sha256, and never lists or logs it in an event', async () => {
    const res = await stack.fetch(
      '/v1/keys',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'auditor', team: 'audit', name: 'ada' }) },
      stack.adminKey,
    );
    expect(res.status).toBe(201);
    const created = CreatedKeySchema.parse(await json(res));
    expect(created.key).toMatch(/^amd_[A-Za-z0-9_-]{43}$/);
    const listed = KeyListSchema.parse(await json(await stack.fetch('/v1/keys?team=audit', {}, stack.adminKey)));
    expect(listed.keys.map((k) => k.id)).toContain(created.id);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    const row = (await pg.query(`select hash from "${env.DATABASE_SCHEMA}".api_keys where id = $1`, [created.id])).rows[0];
    expect(row.hash).toBe(createHash('sha256').update(created.key).digest('hex'));
    const everything = await pg.query(
      `select (select coalesce(string_agg(t::text, ' '), '') from "${env.DATABASE_SCHEMA}".audit_events t) || (select string_agg(k::text, ' ') from "${env.DATABASE_SCHEMA}".api_keys k) as text`,
    );
    for (const key of [created.key, stack.adminKey, ...Object.values(keys)]) expect(everything.rows[0].text).not.toContain(key);
    const event = (
      await pg.query(`select actor, payload from "${env.DATABASE_SCHEMA}".audit_events where type = 'key.created' and payload->>'key_id' = $1`, [created.id])
    ).rows[0];
    expect(event.payload).toMatchObject({ role: 'auditor', team: 'audit', prefix: created.prefix });
    expect(event.actor).toBe(`key:${await keyId(stack.adminKey)}`);
  });

  it('scopes an admin outside the operator team to its team: no keys of other teams, no auditors, and a list of its own team only', async () => {
    // [caller, role, team, status]: written from the role table of docs/architecture.md#roles-and-access.
    const cases: [string, string, string, number][] = [
      ['alpha admin', 'auditor', 'beta', 403],
      ['alpha admin', 'auditor', 'alpha', 403],
      ['alpha admin', 'submitter', 'beta', 403],
      ['alpha admin', 'admin', 'admin', 403],
      ['alpha admin', 'admin', 'alpha', 201],
      ['alpha admin', 'author', 'alpha', 201],
      ['alpha admin', 'reviewer', 'alpha', 201],
      ['alpha admin', 'reviewer', 'beta', 403],
      ['operator admin', 'auditor', 'beta', 201],
      ['operator admin', 'admin', 'beta', 201],
    ];
    const got = [];
    for (const [caller, role, team] of cases) {
      const key = caller === 'alpha admin' ? keys.admin : stack.adminKey;
      const res = await stack.fetch(
        '/v1/keys',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role, team, name: 'scope' }) },
        key,
      );
      got.push([caller, role, team, res.status]);
    }
    expect(got).toEqual(cases);
    const listed = KeyListSchema.parse(await json(await stack.fetch('/v1/keys', {}, keys.admin))).keys;
    expect(listed.length).toBeGreaterThan(0);
    expect(new Set(listed.map((k) => k.team))).toEqual(new Set(['alpha']));
    expect(KeyListSchema.parse(await json(await stack.fetch('/v1/keys?team=beta', {}, keys.admin))).keys).toEqual([]);
    expect(KeyListSchema.parse(await json(await stack.fetch('/v1/keys?team=beta', {}, stack.adminKey))).keys.length).toBeGreaterThan(0);
  });

  it('gives auditors the key directory (names, roles, teams, never a secret): their own team, or every team to the operator team', async () => {
    const named = async (role: 'submitter' | 'auditor', team: string, name: string) => {
      const res = await stack.fetch(
        '/v1/keys',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role, team, name }) },
        stack.adminKey,
      );
      expect(res.status).toBe(201);
      return CreatedKeySchema.parse(await json(res));
    };
    const alphaBot = await named('submitter', 'alpha', 'alpha ci bot');
    const betaBot = await named('submitter', 'beta', 'beta ci bot');
    const operatorAuditor = await named('auditor', 'admin', 'operator auditor');
    const list = async (key: string, query = '') => {
      const res = await stack.fetch(`/v1/keys${query}`, {}, key);
      expect(res.status).toBe(200);
      const text = await res.text();
      return { text, keys: KeyDirectorySchema.parse(JSON.parse(text)).keys };
    };
    const alphaView = await list(keys.auditor);
    expect(alphaView.keys.find((k) => k.id === alphaBot.id)).toEqual({
      id: alphaBot.id,
      name: 'alpha ci bot',
      role: 'submitter',
      team: 'alpha',
      created_at: alphaBot.created_at,
      revoked_at: null,
    });
    expect(new Set(alphaView.keys.map((k) => k.team))).toEqual(new Set(['alpha']));
    expect(alphaView.keys.map((k) => k.id)).not.toContain(betaBot.id);
    // Asking for another team's keys gives none, as for a team-scoped admin.
    expect((await list(keys.auditor, '?team=beta')).keys).toEqual([]);
    const operatorView = await list(operatorAuditor.key);
    expect(operatorView.keys.map((k) => k.id)).toEqual(expect.arrayContaining([alphaBot.id, betaBot.id, operatorAuditor.id]));
    expect((await list(operatorAuditor.key, '?team=beta')).keys.map((k) => k.team)).toEqual(expect.arrayContaining(['beta']));
    const hashes = (
      await pg.query(`select hash from "${env.DATABASE_SCHEMA}".api_keys where id = any($1)`, [[alphaBot.id, betaBot.id, operatorAuditor.id]])
    ).rows.map((r) => r.hash as string);
    expect(hashes).toHaveLength(3);
    for (const view of [alphaView, operatorView]) {
      for (const secret of [alphaBot.key, betaBot.key, operatorAuditor.key, keys.auditor, ...hashes, alphaBot.prefix]) expect(view.text).not.toContain(secret);
      expect(view.text).not.toContain('"prefix"');
      expect(view.text).not.toContain('"hash"');
    }
  });

  it('refuses a missing, malformed, unknown or revoked key with 401', async () => {
    const missing = await stack.fetch('/v1/runs', {}, null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    expect(ErrorBodySchema.parse(await json(missing)).error.code).toBe('unauthenticated');
    expect((await fetch(`${stack.url}/v1/runs`, { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    expect((await stack.fetch('/v1/runs', {}, randomKey())).status).toBe(401);
    const doomed = await stack.mintKey('submitter', 'alpha');
    expect((await stack.fetch('/v1/runs', {}, doomed)).status).toBe(200);
    const revoked = await stack.fetch(`/v1/keys/${await keyId(doomed)}`, { method: 'DELETE' }, stack.adminKey);
    expect(revoked.status).toBe(200);
    expect((await json(revoked)).revoked_at).not.toBeNull();
    const after = await stack.fetch('/v1/runs', {}, doomed);
    expect(after.status).toBe(401);
    expect(ErrorBodySchema.parse(await json(after)).error.message).toContain('revoked');
  });

  it('refuses a key body with fields a client may not set, and a boot with a malformed AMEND_ADMIN_KEY', async () => {
    const res = await stack.fetch(
      '/v1/keys',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'admin', team: 'x', hash: 'abc' }) },
      stack.adminKey,
    );
    expect(res.status).toBe(422);
    const app = await createApiApp(loadConfig({ ...env, AMEND_ADMIN_KEY: 'hunter2' }));
    try {
      await expect(app.init()).rejects.toThrow(/AMEND_ADMIN_KEY must be/);
    } finally {
      await app.close().catch(() => undefined);
    }
  });
});

describe('amend keys', () => {
  const amend = (key: string, ...argv: string[]) => amendCli(stack, key, argv);

  it('creates a key printed once, lists it without the key, and revokes it', async () => {
    const created = await amend(stack.adminKey, 'keys', 'create', '--role', 'submitter', '--team', 'gamma', '--name', 'ci', '--rpm', '30');
    expect(created.code).toBe(0);
    const key = created.out.trim();
    expect(key).toMatch(/^amd_/);
    expect(created.err).toContain('only time the key is shown');
    expect((await stack.fetch('/v1/runs', {}, key)).status).toBe(200);

    const listed = await amend(stack.adminKey, 'keys', 'list', '--team', 'gamma');
    expect(listed.out).toContain('submitter');
    expect(listed.out).toContain('requests_per_minute=30');
    expect(listed.out).not.toContain(key);
    const id = listed.out.split(/\s+/)[0];

    const revoked = await amend(stack.adminKey, 'keys', 'revoke', id);
    expect(revoked.code).toBe(0);
    expect((await stack.fetch('/v1/runs', {}, key)).status).toBe(401);
    const refused = await amend(keys.submitter, 'keys', 'list');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('forbidden');
  });

  it('lists the key directory to an auditor: names, roles and teams of its own team, no prefixes', async () => {
    const made = await stack.fetch(
      '/v1/keys',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'author', team: 'alpha', name: 'policy desk' }) },
      stack.adminKey,
    );
    const created = CreatedKeySchema.parse(await json(made));
    const listed = await amend(keys.auditor, 'keys', 'list');
    expect(listed.code).toBe(0);
    const line = listed.out.split('\n').find((l) => l.startsWith(created.id));
    expect(line).toMatch(/author\s+alpha\s+policy desk$/);
    expect(listed.out).not.toContain(created.prefix);
  });
});

describe('per-key limits', () => {
  it('answers 429 with Retry-After past the requests per minute, counted across API instances in Redis', async () => {
    const key = await stack.mintKey('submitter', 'alpha', { requests_per_minute: 4 });
    const second = await createApiApp(stack.config);
    await second.listen(0, '127.0.0.1');
    const url2 = (await second.getUrl()).replace('[::1]', '127.0.0.1');
    try {
      const statuses: number[] = [];
      let limited: Response | undefined;
      // 10 requests: even split by a window boundary, one window holds more than 4.
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${i % 2 ? url2 : stack.url}/v1/runs?limit=1`, { headers: authHeaders(key) });
        statuses.push(res.status);
        if (res.status === 429) limited ??= res;
      }
      // A window boundary may fall between requests: at most one window's worth gets through per window.
      expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(8);
      expect(statuses).toContain(429);
      const retryAfter = Number(limited!.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(ErrorBodySchema.parse(await json(limited!)).error.code).toBe('rate_limited');
    } finally {
      await second.close();
    }
  });

  it('answers 429 to a key at its concurrent runs and 422 to a run over its prompts per run', async () => {
    const key = await stack.mintKey('submitter', 'alpha', { concurrent_runs: 1, prompts_per_run: 3 });
    const post = (body: unknown) =>
      stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, key);
    const tooMany = await post({ constitution: 'amend-core', prompts: ['a', 'b', 'c', 'd'] });
    expect(tooMany.status).toBe(422);
    expect(ErrorBodySchema.parse(await json(tooMany)).error.code).toBe('too_many_prompts');
    const first = await post({ constitution: 'amend-core', prompts: ['a slow one'], model: 'slow' });
    expect(first.status).toBe(202);
    const second = await post({ constitution: 'amend-core', prompts: ['b'] });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(ErrorBodySchema.parse(await json(second)).error.code).toBe('too_many_active_runs');
    await stack.fetch(`/v1/runs/${(await json(first)).id}/cancel`, { method: 'POST' }, key);
    expect((await post({ constitution: 'amend-core', prompts: ['c'], model: 'slow' })).status).toBe(202);
  });

  it('never lets a client set its team, status or usage, nor name a URL as its model', async () => {
    const post = (body: unknown) =>
      stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, keys.submitter);
    for (const extra of [{ team: 'beta' }, { status: 'completed' }, { usage: { calls: 0 } }, { created_by: 'someone' }]) {
      const res = await post({ constitution: 'amend-core', prompts: ['hi'], ...extra });
      expect(res.status).toBe(422);
      expect(ErrorBodySchema.parse(await json(res)).error.message).toContain(Object.keys(extra)[0]);
    }
    expect((await post({ constitution: 'amend-core', prompts: ['hi'], model: 'http://169.254.169.254/v1' })).status).toBe(422);
  });
});

describe('pages outside the v1 API', () => {
  it('keeps /health, /ready and /docs public, /metrics for admins and auditors, and the queue dashboard for operator admins', async () => {
    for (const path of ['/health', '/ready', '/docs/openapi.json']) expect((await fetch(stack.url + path)).status).toBe(200);
    expect((await fetch(`${stack.url}/metrics`)).status).toBe(401);
    expect((await stack.fetch('/metrics', {}, keys.auditor)).status).toBe(200);
    expect((await fetch(`${stack.url}/admin/queues`)).status).toBe(401);
    expect((await stack.fetch('/admin/queues', {}, keys.submitter)).status).toBe(403);
    expect((await stack.fetch('/admin/queues', {}, keys.admin)).status).toBe(403);
    expect((await stack.fetch('/admin/queues', {}, stack.adminKey)).status).toBe(200);
  });
});
