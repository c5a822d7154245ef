import { execFileSync } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '@amend/contracts';
import type { ChatRequest, ChatResult } from '@amend/pipeline';
import { GEN_AI } from './gen-ai';
import { TRACING_OFF, parseKeyValues, parseTraceparent, tracesUrl } from './tracing';
import { createTracing } from './create-tracing';

const ROOT = join(__dirname, '..', '..', '..');
// The package's incubating entry, by a path the compiler's module resolution (node10) cannot follow.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const semconv = require('@opentelemetry/semantic-conventions/incubating') as Record<string, string>;

/** A receiver that answers each POST with the next status of `statuses` (then 200), keeping what it got. */
async function receiver(statuses: number[] = []): Promise<{ url: string; got: { headers: IncomingHttpHeaders; body: Buffer }[]; close: () => Promise<void> }> {
  const got: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      const status = statuses.shift() ?? 200;
      res.writeHead(status, status === 503 ? { 'retry-after': '0' } : {}).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const request: ChatRequest = {
  alias: 'default',
  messages: [
    { role: 'system', content: 'Be kind.' },
    { role: 'user', content: 'Hello there' },
  ],
  sampling: { temperature: 0.5, top_p: 1, max_tokens: 64 },
  seed: 9,
};
const result: ChatResult = {
  text: 'General Kenobi',
  model: 'm-1',
  usage: { prompt_tokens: 11, completion_tokens: 3 },
  latency_ms: 1,
  simulated: false,
  finish_reason: 'stop',
  request: {},
  response: { id: 'chatcmpl-1' },
  attempts: 1,
};
const target = () => ({ model: 'm-1', provider: 'openai', serverAddress: 'models.example', serverPort: 443 });

describe('the GenAI attribute names', () => {
  it('are the OpenTelemetry semantic conventions package’s own names', () => {
    expect(GEN_AI).toEqual({
      operationName: semconv.ATTR_GEN_AI_OPERATION_NAME,
      providerName: semconv.ATTR_GEN_AI_PROVIDER_NAME,
      requestModel: semconv.ATTR_GEN_AI_REQUEST_MODEL,
      requestTemperature: semconv.ATTR_GEN_AI_REQUEST_TEMPERATURE,
      requestTopP: semconv.ATTR_GEN_AI_REQUEST_TOP_P,
      requestMaxTokens: semconv.ATTR_GEN_AI_REQUEST_MAX_TOKENS,
      requestSeed: semconv.ATTR_GEN_AI_REQUEST_SEED,
      responseId: semconv.ATTR_GEN_AI_RESPONSE_ID,
      responseModel: semconv.ATTR_GEN_AI_RESPONSE_MODEL,
      responseFinishReasons: semconv.ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
      usageInputTokens: semconv.ATTR_GEN_AI_USAGE_INPUT_TOKENS,
      usageOutputTokens: semconv.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
      inputMessages: semconv.ATTR_GEN_AI_INPUT_MESSAGES,
      outputMessages: semconv.ATTR_GEN_AI_OUTPUT_MESSAGES,
      evaluationResult: semconv.EVENT_GEN_AI_EVALUATION_RESULT,
      evaluationName: semconv.ATTR_GEN_AI_EVALUATION_NAME,
      evaluationScoreValue: semconv.ATTR_GEN_AI_EVALUATION_SCORE_VALUE,
      evaluationScoreLabel: semconv.ATTR_GEN_AI_EVALUATION_SCORE_LABEL,
    });
  });
});

describe('tracing off', () => {
  it('is the default, and OTEL_SDK_DISABLED wins over an endpoint', () => {
    expect(tracesUrl(loadConfig({}))).toBeUndefined();
    expect(tracesUrl(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }))).toBeUndefined();
    expect(tracesUrl(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }))).toBe('http://c:4318/v1/traces');
    expect(tracesUrl(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x' }))).toBe('http://t/x');
    expect(createTracing(loadConfig({}), 'svc', target)).toBe(TRACING_OFF);
  });

  it('never loads the SDK; turning it on does (a process of its own, whose module cache tells)', () => {
    const script = `
      const { loadConfig } = require('./libs/contracts/src');
      const { createTracing } = require('./libs/runtime/src/create-tracing');
      const sdk = () => Object.keys(require.cache).filter((k) => /@opentelemetry\\/(sdk-trace|exporter|otlp-)/.test(k)).length;
      const t = { model: 'm', provider: 'openai' };
      const off = createTracing(loadConfig({}), 'svc', () => t);
      const whenOff = sdk();
      createTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }), 'svc', () => t).shutdown();
      console.log(JSON.stringify({ enabled: off.enabled, whenOff, whenOn: sdk() }));`;
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const figures = JSON.parse(out.trim().split('\n').pop()!);
    expect(figures.enabled).toBe(false);
    expect(figures.whenOff).toBe(0);
    expect(figures.whenOn).toBeGreaterThan(0);
  });

  it('runs callbacks as they are and records nothing', async () => {
    expect(await TRACING_OFF.span('x', {}, async () => 7)).toBe(7);
    expect(await TRACING_OFF.modelCall({ alias: 'a', stage: 'draft', seq: 0, request }, async () => result)).toBe(result);
    expect(TRACING_OFF.traceparent()).toBeUndefined();
  });
});

describe('the OTLP/HTTP export', () => {
  it('sends protobuf by default, with the configured headers, and the span carries the GenAI attributes', async () => {
    const rx = await receiver();
    const tracing = createTracing(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_EXPORTER_OTLP_HEADERS: 'x-project-name=amend,authorization=Bearer%20k' }),
      'svc',
      target,
    );
    await tracing.modelCall({ alias: 'default', stage: 'draft', seq: 0, request }, async () => result);
    await tracing.shutdown();
    await rx.close();
    expect(rx.got).toHaveLength(1);
    expect(rx.got[0].headers).toMatchObject({ 'content-type': 'application/x-protobuf', 'x-project-name': 'amend', authorization: 'Bearer k' });
    // Protobuf keeps strings as UTF-8 bytes: the span's name and attribute keys and values are in the body as written.
    const body = rx.got[0].body.toString('latin1');
    for (const s of ['chat m-1', 'gen_ai.request.model', 'gen_ai.provider.name', 'openai', 'chatcmpl-1', 'gen_ai.usage.output_tokens', 'svc'])
      expect(body).toContain(s);
    expect(body).not.toContain('gen_ai.input.messages');
  });

  it('puts the messages on the span only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT says so, in the conventions’ shape', async () => {
    const rx = await receiver();
    const config = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'SPAN_ONLY',
    });
    const tracing = createTracing(config, 'svc', target);
    await tracing.modelCall({ alias: 'default', stage: 'draft', seq: 0, request }, async () => result);
    await tracing.shutdown();
    await rx.close();
    const span = JSON.parse(rx.got[0].body.toString('utf8')).resourceSpans[0].scopeSpans[0].spans[0];
    const attr = (k: string) => span.attributes.find((a: { key: string }) => a.key === k)?.value.stringValue;
    expect(JSON.parse(attr('gen_ai.input.messages'))).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'Be kind.' }] },
      { role: 'user', parts: [{ type: 'text', content: 'Hello there' }] },
    ]);
    expect(JSON.parse(attr('gen_ai.output.messages'))).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: 'General Kenobi' }], finish_reason: 'stop' },
    ]);
  });

  it('retries a 503 (the specification’s retryable statuses) and delivers the spans once', async () => {
    const rx = await receiver([503]);
    const tracing = createTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: rx.url }), 'svc', target);
    await tracing.span('one', {}, async () => undefined);
    await tracing.shutdown();
    await rx.close();
    expect(rx.got).toHaveLength(2);
    expect(rx.got[0].body.equals(rx.got[1].body)).toBe(true);
  });
});

describe('header and traceparent formats', () => {
  it('reads key=value lists percent-decoded, and W3C traceparents (version 00, not all-zero)', () => {
    expect(parseKeyValues('Authorization=Basic%20YWJj, x-langfuse-ingestion-version=4')).toEqual({
      Authorization: 'Basic YWJj',
      'x-langfuse-ingestion-version': '4',
    });
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      flags: 1,
    });
    expect(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeUndefined();
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBeUndefined();
    expect(parseTraceparent('garbage')).toBeUndefined();
  });
});
