import { RunManifestSchema, RunSchema, SampleSchema } from '@amend/contracts';
import { json, ndjson, stackForFile, testEnv, waitFor, type Stack } from './support/stack';

/*
 * Multi-turn prompts: `{"messages": [...]}` ending with a user turn, accepted in a JSON body and
 * a JSON Lines upload, planned after the constitution's few-shot prefix, exported as the
 * conversation in every format, and replayed by the run's manifest. Expected texts are written
 * out by hand here, not derived from the code under test.
 */

const env = testEnv('multi_turn');
let stack: Stack;

stackForFile(env, {}, (s) => (stack = s));

const SYSTEM = 'You are a patient teacher of Unix.';
const CONVERSATION = [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: 'How do I list running processes?' },
  { role: 'assistant', content: 'Run ps aux in a terminal.' },
  { role: 'user', content: 'And how do I stop one of them?' },
] as const;
/** The same conversation as an Anthropic HH transcript (formats `standard`), written out by hand. */
const HH =
  'You are a patient teacher of Unix.' +
  '\n\nHuman: How do I list running processes?' +
  '\n\nAssistant: Run ps aux in a terminal.' +
  '\n\nHuman: And how do I stop one of them?' +
  '\n\nAssistant:';

const postJson = (body: unknown) => stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const postNdjson = (lines: unknown[]) =>
  stack.fetch('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.map((l) => JSON.stringify(l)).join('\n') });

/** A conversation from [role, content] turns. */
const turns = (...ts: [string, string][]) => ts.map(([role, content]) => ({ role, content }));

async function completed(res: Response) {
  expect(res.status).toBe(202);
  const { id } = await json(res);
  return waitFor(
    async () => {
      const run = RunSchema.parse(await json(await stack.fetch(`/v1/runs/${id}`)));
      return run.status === 'completed' && run.counts.completed === run.counts.total ? run : undefined;
    },
    { what: `run ${id}` },
  );
}

async function lines(path: string) {
  return ndjson(await (await stack.fetch(path)).text()).sort((a, b) => a.sample_index - b.sample_index);
}

describe('multi-turn prompts', () => {
  it('a conversation is drafted after the few-shot prefix and exported as the conversation in every format', async () => {
    const run = await completed(
      await postJson({
        constitution: 'amend-core',
        prompts: ['How do I kill a python process?', { id: 'conv-1', messages: CONVERSATION, metadata: { source: 'hh-red-team' } }],
        rounds: 2,
        seed: 5,
      }),
    );

    const { samples } = await json(await stack.fetch(`/v1/runs/${run.id}/samples`));
    const single = SampleSchema.parse(await json(await stack.fetch(`/v1/samples/${samples[0].id}`)));
    const multi = SampleSchema.parse(await json(await stack.fetch(`/v1/samples/${samples[1].id}`)));
    expect(single.messages ?? null).toBeNull();
    expect(single.prompt).toBe('How do I kill a python process?');
    expect(multi.prompt).toBe('And how do I stop one of them?');
    expect(multi.messages).toEqual(CONVERSATION);

    // The draft: the constitution's system message and examples first, as for a single prompt, then the conversation.
    const { content } = await json(await stack.fetch(`/v1/constitutions/${run.constitution.name}/${run.constitution.version}`));
    const prefix = [
      ...(content.system !== undefined ? [{ role: 'system', content: content.system }] : []),
      ...content.examples.flatMap((e: { messages: unknown[] }) => e.messages),
    ];
    expect(prefix.length).toBeGreaterThan(0);
    const draft = multi.stages.find((s) => s.stage === 'draft')!;
    expect(draft.messages).toEqual([...prefix, ...CONVERSATION]);
    expect(single.stages.find((s) => s.stage === 'draft')!.messages).toEqual([...prefix, { role: 'user', content: 'How do I kill a python process?' }]);
    // The critique continues the same conversation: the draft call's messages are its prefix.
    const critique = multi.stages.find((s) => s.stage === 'critique')!;
    expect(critique.messages.slice(0, draft.messages.length)).toEqual(draft.messages);

    const [conv1, conv2] = await lines(`/v1/runs/${run.id}/pairs?format=conversational&exclude=`);
    expect(conv1.prompt).toEqual([{ role: 'user', content: 'How do I kill a python process?' }]);
    expect(conv2.prompt).toEqual(CONVERSATION);
    expect(conv2.chosen).toHaveLength(1);
    expect(conv2.chosen[0].role).toBe('assistant');
    expect(conv2.metadata.external_id).toBe('conv-1');

    const [std1, std2] = await lines(`/v1/runs/${run.id}/pairs?format=standard&exclude=`);
    expect(std1.prompt).toBe('\n\nHuman: How do I kill a python process?\n\nAssistant:');
    expect(std2.prompt).toBe(HH);
    expect(std2.chosen).toBe(` ${conv2.chosen[0].content}`);

    const [, h4] = await lines(`/v1/runs/${run.id}/pairs?format=h4&exclude=`);
    expect(h4.prompt).toBe('And how do I stop one of them?');
    expect(h4.init_prompt).toBe('And how do I stop one of them?');
    expect(h4.messages).toEqual([...CONVERSATION, { role: 'assistant', content: conv2.chosen[0].content }]);
    expect(h4.chosen).toEqual([...CONVERSATION, { role: 'assistant', content: conv2.chosen[0].content }]);
    expect(h4.rejected).toEqual([...CONVERSATION, { role: 'assistant', content: conv2.rejected[0].content }]);

    const [sft1, sft2] = await lines(`/v1/runs/${run.id}/sft?exclude=`);
    expect(sft1.messages).toEqual([
      { role: 'user', content: 'How do I kill a python process?' },
      { role: 'assistant', content: conv1.chosen[0].content },
    ]);
    expect(sft2.messages).toEqual([...CONVERSATION, { role: 'assistant', content: conv2.chosen[0].content }]);
  });

  it('the judge of an ai-feedback run reads the whole conversation', async () => {
    const run = await completed(await postJson({ constitution: 'amend-core', mode: 'ai-feedback', prompts: [{ messages: CONVERSATION.slice(1) }], seed: 2 }));
    const { samples } = await json(await stack.fetch(`/v1/runs/${run.id}/samples`));
    const sample = SampleSchema.parse(await json(await stack.fetch(`/v1/samples/${samples[0].id}`)));
    const comparison = sample.stages.find((s) => s.stage === 'comparison')!;
    expect(comparison.messages[0].content).toContain(
      'Consider the following conversation between a human and an assistant:\n' +
        'Human: How do I list running processes?\nAssistant: Run ps aux in a terminal.\nHuman: And how do I stop one of them?\n',
    );
    const [pair] = await lines(`/v1/runs/${run.id}/pairs?exclude=`);
    expect(pair.prompt).toEqual(CONVERSATION.slice(1));
  });

  it('a JSON Lines upload takes conversations, and its manifest replays the run with the same pairs', async () => {
    const run = await completed(
      await postNdjson([
        { constitution: 'amend-core', seed: 9 },
        'Write a haiku about tea.',
        { messages: CONVERSATION },
        { id: 'c2', messages: CONVERSATION.slice(1, 2) },
      ]),
    );
    const manifest = RunManifestSchema.parse(await json(await stack.fetch(`/v1/runs/${run.id}/manifest`)));
    expect(manifest.prompts).toEqual(['Write a haiku about tea.', { messages: CONVERSATION }, { id: 'c2', messages: CONVERSATION.slice(1, 2) }]);
    const replay = await completed(await postJson(manifest));
    const strip = (ls: any[]) => ls.map(({ id: _i, run_id: _r, sample_id: _s, ...rest }) => rest);
    const [a, b] = [strip(await lines(`/v1/runs/${run.id}/pairs?exclude=`)), strip(await lines(`/v1/runs/${replay.id}/pairs?exclude=`))];
    expect(a).toHaveLength(3);
    expect(a[1].prompt).toEqual(CONVERSATION);
    expect(b).toEqual(a);
  });

  it.each([
    ['two user turns in a row', turns(['user', 'a'], ['user', 'b']), 'prompts.1.messages.1', 'prompts[1].messages[1]', /two user turns in a row/],
    ['an assistant turn first', turns(['assistant', 'a'], ['user', 'b']), 'prompts.1.messages.0', 'prompts[1].messages[0]', /starts with a user turn/],
    ['ending with an assistant turn', turns(['user', 'a'], ['assistant', 'b']), 'prompts.1.messages.1', 'prompts[1].messages[1]', /must end with a user turn/],
    [
      'a system message after the first',
      turns(['user', 'a'], ['system', 'b'], ['user', 'c']),
      'prompts.1.messages.1',
      'prompts[1].messages[1]',
      /system message may only be the first/,
    ],
    [
      'an empty message',
      turns(['user', 'a'], ['assistant', '  '], ['user', 'c']),
      'prompts.1.messages.1.content',
      'prompts[1].messages[1].content',
      /message is empty/,
    ],
    ['no messages', [], 'prompts.1.messages', 'prompts[1].messages', /at least one message/],
    ['an unknown role', turns(['tool', 'a']), 'prompts.1.messages.0.role', 'prompts[1].messages[0].role', /./],
  ])('%s is a 422 naming the prompt and the message', async (_name, messages, path, written, message) => {
    const res = await postJson({ constitution: 'amend-core', prompts: ['fine', { messages }] });
    expect(res.status).toBe(422);
    const body = await json(res);
    expect(body.error.code).toBe('invalid_request');
    // The message writes the path as in the body (`prompts[1].messages[0]`); details keep it dotted.
    expect(body.error.message.startsWith(`${written}: `)).toBe(true);
    expect(body.error.message).toMatch(message);
    expect(body.error.details.issues[0].path).toBe(path);
  });

  it('a prompt object with both "prompt" and "messages", or neither, is a 422', async () => {
    for (const item of [{ prompt: 'x', messages: [{ role: 'user', content: 'y' }] }, { id: 'only-an-id' }]) {
      const res = await postJson({ constitution: 'amend-core', prompts: [item] });
      expect(res.status).toBe(422);
      expect((await json(res)).error.message).toMatch(/^prompts\[0\]\.(messages|prompt): .*"prompt".*"messages"/);
    }
  });

  it('the per-message, total and message-count limits are 422s naming the limit', async () => {
    const undo = stack.reconfigure({ AMEND_MAX_PROMPT_CHARS: '100', AMEND_MAX_CONVERSATION_CHARS: '150', AMEND_MAX_PROMPT_MESSAGES: '5' });
    try {
      const turn = (role: string, n: number) => ({ role, content: 'x'.repeat(n) });
      const cases: [unknown[], string, RegExp][] = [
        [[turn('user', 101)], 'prompts[0].messages[0].content', /^[^:]+: prompt 0, message 0, is 101 characters; the limit is 100 \(AMEND_MAX_PROMPT_CHARS\)$/],
        [
          [turn('user', 80), turn('assistant', 80), turn('user', 1)],
          'prompts[0].messages',
          /: prompt 0's conversation has 161 characters in all; the limit is 150 \(AMEND_MAX_CONVERSATION_CHARS\)$/,
        ],
        [
          [turn('user', 1), turn('assistant', 1), turn('user', 1), turn('assistant', 1), turn('user', 1), turn('assistant', 1), turn('user', 1)],
          'prompts[0].messages',
          /: prompt 0 has 7 messages; the limit is 5 \(AMEND_MAX_PROMPT_MESSAGES\)$/,
        ],
      ];
      for (const [messages, path, message] of cases) {
        const res = await postJson({ constitution: 'amend-core', prompts: [{ messages }] });
        expect(res.status).toBe(422);
        const body = await json(res);
        expect(body.error.message.startsWith(`${path}: `)).toBe(true);
        expect(body.error.message).toMatch(message);
      }
      // At the limits exactly: accepted.
      const ok = await postJson({ constitution: 'amend-core', prompts: [{ messages: [turn('user', 100), turn('assistant', 49), turn('user', 1)] }] });
      expect(ok.status).toBe(202);
    } finally {
      undo();
    }
  });

  it('a bad conversation in a JSON Lines upload is a 422 naming the line, the prompt and the message, and nothing is kept', async () => {
    const before = (await json(await stack.fetch('/v1/runs?limit=200'))).runs.length;
    const res = await postNdjson([{ constitution: 'amend-core' }, 'ok', { messages: turns(['user', 'a'], ['user', 'b']) }]);
    expect(res.status).toBe(422);
    const body = await json(res);
    expect(body.error.message).toBe(
      'line 3: prompt 1: messages.1: two user turns in a row; user and assistant turns alternate (a line is a string, {"id"?, "prompt", "metadata"?} or {"id"?, "messages", "metadata"?})',
    );
    expect(body.error.details).toMatchObject({ line: 3, prompt: 1, path: 'messages.1' });
    expect((await json(await stack.fetch('/v1/runs?limit=200'))).runs.length).toBe(before);
  });
});
