import { json, stackForFile, testEnv, type Stack } from './support/stack';

/*
 * HTTP that says what is wrong: a body of a type no route reads is a 415 naming the types that
 * are read, and a key of the wrong role is told so in English. Expected messages are written
 * here by hand.
 */

const env = testEnv('http_errors');
let stack: Stack;
stackForFile(env, { workers: 0 }, (s) => (stack = s));

const RUN = JSON.stringify({ constitution: 'amend-core', prompts: ['one'] });
const ACCEPTED = ['application/json', 'application/x-ndjson', 'application/yaml'];

describe('a body that is not JSON, JSON Lines or YAML', () => {
  it.each([
    ['text/plain', 'text/plain'],
    // What `curl -d '{...}'` sends without -H.
    ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
    ['multipart/form-data; boundary=x', 'multipart/form-data; boundary=x'],
  ])('sent as %s is a 415 that names the accepted types, not a 422 about a missing field', async (type, named) => {
    const res = await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': type }, body: RUN });
    expect(res.status).toBe(415);
    const { error } = await json(res);
    expect(error.code).toBe('unsupported_media_type');
    expect(error.message).toBe(
      `the body has Content-Type ${named}; send application/json (a run may also be uploaded as JSON Lines, application/x-ndjson; a constitution published as YAML, application/yaml or text/yaml)`,
    );
    expect(error.details).toEqual({ content_type: named, accepted: ACCEPTED });
  });

  it('sent with no Content-Type at all is a 415 too', async () => {
    const res = await stack.fetch('/v1/runs', { method: 'POST', body: new TextEncoder().encode(RUN) });
    expect(res.status).toBe(415);
    expect((await json(res)).error.details).toEqual({ content_type: null, accepted: ACCEPTED });
  });

  it('does not touch requests without a body, or with one of the accepted types', async () => {
    // No body: the route answers (no such run), not the body check.
    expect((await stack.fetch('/v1/runs/00000000-0000-4000-8000-000000000000/cancel', { method: 'POST' })).status).toBe(404);
    expect((await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: RUN })).status).toBe(202);
    const lines = [JSON.stringify({ constitution: 'amend-core' }), JSON.stringify('one')].join('\n');
    expect((await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines })).status).toBe(202);
  });
});

describe('a key of the wrong role', () => {
  it.each([
    ['auditor', 'an auditor key may not call this route; it needs a key with the role submitter'],
    ['author', 'an author key may not call this route; it needs a key with the role submitter'],
    ['admin', 'an admin key may not call this route; it needs a key with the role submitter'],
  ] as const)('is told in English: %s', async (role, message) => {
    const key = role === 'admin' ? stack.adminKey : await stack.mintKey(role);
    const res = await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: RUN }, key);
    expect(res.status).toBe(403);
    expect((await json(res)).error.message).toBe(message);
  });
});

describe('a prompt id used twice in one run', () => {
  const prompts = [{ id: 'x', prompt: 'one' }, 'two', { id: 'x', messages: [{ role: 'user', content: 'three' }] }];

  it('in a JSON body is a 422 naming both prompts', async () => {
    const res = await stack.fetch('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ constitution: 'amend-core', prompts }),
    });
    expect(res.status).toBe(422);
    const { error } = await json(res);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('prompts[2].id: id "x" is already used by prompt 0; ids must be unique within a run');
  });

  it('in a JSON Lines upload is a 422 naming both prompts and lines, and makes no run', async () => {
    const before = (await json(await stack.fetch('/v1/runs'))).runs.length;
    const body = [{ constitution: 'amend-core' }, ...prompts].map((l) => JSON.stringify(l)).join('\n');
    const res = await stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    expect(res.status).toBe(422);
    const { error } = await json(res);
    expect(error.message).toBe('line 4: prompt 2: id "x" is already used by prompt 0 (line 2); ids must be unique within a run');
    expect(error.details).toEqual({ line: 4, prompt: 2, path: 'id', first_prompt: 0, first_line: 2 });
    expect((await json(await stack.fetch('/v1/runs'))).runs.length).toBe(before);
  });

  it('different ids, and prompts without one, are all taken', async () => {
    const ok = [{ id: 'x', prompt: 'one' }, 'two', 'two', { id: 'y', prompt: 'one' }];
    const res = await stack.fetch('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ constitution: 'amend-core', prompts: ok }),
    });
    expect(res.status).toBe(202);
  });
});

describe('a limit or a type a body gets wrong', () => {
  const post = (body: unknown, type = 'application/json') =>
    stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('a too-long prompt is a 422 naming the limit, its variable and the actual length', async () => {
    const undo = stack.reconfigure({ AMEND_MAX_PROMPT_CHARS: '1000' });
    try {
      const res = await post({ constitution: 'amend-core', prompts: ['fine', { prompt: 'x'.repeat(1234) }] });
      expect(res.status).toBe(422);
      const { error } = await json(res);
      expect(error.code).toBe('invalid_request');
      expect(error.message).toBe('prompts[1].prompt: prompt 1 is 1,234 characters; the limit is 1,000 (AMEND_MAX_PROMPT_CHARS)');
      expect(error.details.issues).toEqual([
        {
          path: 'prompts.1.prompt',
          message: 'prompt 1 is 1,234 characters; the limit is 1,000 (AMEND_MAX_PROMPT_CHARS)',
          code: 'custom',
          limit: 1000,
          setting: 'AMEND_MAX_PROMPT_CHARS',
          actual: 1234,
        },
      ]);

      // The same prompt in a JSON Lines upload: the same words, after the line.
      const lines = [{ constitution: 'amend-core' }, 'fine', { prompt: 'x'.repeat(1234) }].map((l) => JSON.stringify(l)).join('\n');
      const upload = await post(lines, 'application/x-ndjson');
      expect(upload.status).toBe(422);
      const uploaded = (await json(upload)).error;
      expect(uploaded.message).toBe('line 3: prompt 1 is 1,234 characters; the limit is 1,000 (AMEND_MAX_PROMPT_CHARS)');
      expect(uploaded.details).toMatchObject({ line: 3, prompt: 1, path: 'prompt', limit: 1000, setting: 'AMEND_MAX_PROMPT_CHARS', actual: 1234 });
    } finally {
      undo();
    }
  });

  it('a prompt that is neither a string nor an object says what was expected', async () => {
    const res = await post({ constitution: 'amend-core', prompts: [42] });
    expect(res.status).toBe(422);
    const { error } = await json(res);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('prompts[0]: expected a string, or an object with prompt or messages');
    expect(error.details.issues[0]).toMatchObject({ path: 'prompts.0', message: 'expected a string, or an object with prompt or messages' });
  });
});
