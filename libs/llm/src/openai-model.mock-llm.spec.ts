import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createMockLlm } from '@dwmkerr/mock-llm/dist/server';
import { getDefaultConfig } from '@dwmkerr/mock-llm/dist/config';
import type { ChatRequest } from '@amend/pipeline';
import { OpenAICompatibleModel } from './openai-model';
import type { RetryEvent } from './retry';

/*
 * The adapter against an OpenAI-compatible mock that is not ours (@dwmkerr/mock-llm), so that
 * the adapter is not only ever tested against the simulator written alongside it.
 */

type Rule = ReturnType<typeof getDefaultConfig>['rules'][number];
const CHAT = '/v1/chat/completions';
const error = (status: number, type: string, code: string, message: string): Rule => ({
  path: CHAT,
  method: 'POST',
  response: { status, content: JSON.stringify({ error: { message, type, param: null, code } }) },
});

async function start(rules: Rule[] = []): Promise<{ url: string; close: () => Promise<void> }> {
  const config = getDefaultConfig();
  config.rules.push(...rules);
  const server: Server = createMockLlm(config, '127.0.0.1', 0).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const req = (content: string): ChatRequest => ({
  alias: 'mock',
  messages: [{ role: 'user', content }],
  sampling: { temperature: 0, top_p: 1, max_tokens: 64 },
});

describe('OpenAICompatibleModel against @dwmkerr/mock-llm', () => {
  let log: jest.SpyInstance;
  beforeAll(() => {
    // mock-llm logs every request and its configuration.
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterAll(() => log.mockRestore());

  it('reads a plain OpenAI answer: the echoed text, the reported model, zero usage, not simulated', async () => {
    const mock = await start();
    try {
      const model = new OpenAICompatibleModel({ alias: 'mock', baseURL: mock.url, model: 'gpt-4o-mini' });
      const result = await model.complete(req('Hello from Amend'));
      expect(result).toMatchObject({
        text: 'Hello from Amend',
        model: 'gpt-4o-mini',
        simulated: false,
        finish_reason: 'stop',
        usage: { prompt_tokens: 0, completion_tokens: 0 },
        attempts: 1,
      });
    } finally {
      await mock.close();
    }
  });

  it('retries a 503 and takes the next answer', async () => {
    const mock = await start([{ ...error(503, 'server_error', 'overloaded', 'The server is overloaded.'), sequence: 0 }]);
    try {
      const retries: RetryEvent[] = [];
      const model = new OpenAICompatibleModel({
        alias: 'mock',
        baseURL: mock.url,
        model: 'm',
        retry: { baseDelayMs: 5, maxDelayMs: 10 },
        onRetry: (e) => retries.push(e),
      });
      const result = await model.complete(req('second time lucky'));
      expect(result).toMatchObject({ text: 'second time lucky', attempts: 2 });
      expect(retries.map((r) => [r.error.kind, r.error.status])).toEqual([['transient', 503]]);
    } finally {
      await mock.close();
    }
  });

  it('fails permanently on its 401 and on a context-length 400', async () => {
    const mock = await start([
      { ...error(401, 'invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.'), match: "contains(body.messages[-1].content, 'error-401')" },
      {
        ...error(400, 'invalid_request_error', 'context_length_exceeded', "This model's maximum context length is 128000 tokens."),
        match: "contains(body.messages[-1].content, 'too-long')",
      },
    ]);
    try {
      const model = new OpenAICompatibleModel({ alias: 'mock', baseURL: mock.url, model: 'm', retry: { baseDelayMs: 5, maxDelayMs: 10 } });
      await expect(model.complete(req('error-401'))).rejects.toMatchObject({ kind: 'permanent', code: 'unauthorized', attempts: 1 });
      await expect(model.complete(req('too-long'))).rejects.toMatchObject({ kind: 'permanent', code: 'context_length_exceeded', attempts: 1 });
    } finally {
      await mock.close();
    }
  });
});
