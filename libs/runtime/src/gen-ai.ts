import { SIMULATOR_MODEL, type ModelRegistry } from '@amend/llm';
import type { ChatResult } from '@amend/pipeline';
import type { GenAiTarget, ModelCallSpan, SpanAttributes } from './tracing';

/*
 * The OpenTelemetry GenAI semantic conventions' names for a model call (an inference span,
 * `gen_ai.operation.name` "chat"), written out rather than imported: the conventions package's
 * incubating entry is large and would load on every boot. gen-ai.spec.ts holds each to the
 * package's constant of the same name.
 */
export const GEN_AI = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestTemperature: 'gen_ai.request.temperature',
  requestTopP: 'gen_ai.request.top_p',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestSeed: 'gen_ai.request.seed',
  responseId: 'gen_ai.response.id',
  responseModel: 'gen_ai.response.model',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  evaluationResult: 'gen_ai.evaluation.result',
  evaluationName: 'gen_ai.evaluation.name',
  evaluationScoreValue: 'gen_ai.evaluation.score.value',
  evaluationScoreLabel: 'gen_ai.evaluation.score.label',
} as const;

/** `gen_ai.provider.name` of the in-process simulator (no registered value fits a stand-in). */
export const SIMULATOR_PROVIDER = 'amend.simulator';

/**
 * Who answers an alias: the in-process simulator, or an OpenAI-compatible server, `openai` by the
 * conventions (the API it speaks; `server.address` and the model tell OpenAI from vLLM or a proxy).
 */
export function genAiTarget(models: Pick<ModelRegistry, 'describe'>): (alias: string) => GenAiTarget {
  const described = models.describe();
  return (alias) => {
    const d = described[alias];
    if (d?.kind === 'simulator') return { model: SIMULATOR_MODEL, provider: SIMULATOR_PROVIDER };
    if (!d?.model || !d.base_url) return { model: alias, provider: 'openai' };
    const url = new URL(d.base_url);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return { model: d.model, provider: 'openai', serverAddress: url.hostname, serverPort: port };
  };
}

/** The span name of a model call: `{gen_ai.operation.name} {gen_ai.request.model}`. */
export function chatSpanName(target: GenAiTarget): string {
  return `chat ${target.model}`;
}

/** What is known before the call: operation, provider, server, and the request's model and parameters. */
export function requestAttributes(target: GenAiTarget, call: ModelCallSpan): SpanAttributes {
  const { request } = call;
  return {
    [GEN_AI.operationName]: 'chat',
    [GEN_AI.providerName]: target.provider,
    [GEN_AI.requestModel]: target.model,
    [GEN_AI.requestTemperature]: request.sampling.temperature,
    [GEN_AI.requestTopP]: request.sampling.top_p,
    // A comparison's own max_tokens (usually 1) overrides the run's sampling, as in the request body.
    [GEN_AI.requestMaxTokens]: request.max_tokens ?? request.sampling.max_tokens,
    [GEN_AI.requestSeed]: request.seed,
    'server.address': target.serverAddress,
    'server.port': target.serverPort,
    'amend.model_alias': call.alias,
    'amend.stage': call.stage,
    'amend.seq': call.seq,
  };
}

/** What the answer says: its id, the model that answered, why it stopped, tokens used. */
export function responseAttributes(result: ChatResult): SpanAttributes {
  const body = result.response;
  const id = body !== null && typeof body === 'object' && typeof (body as { id?: unknown }).id === 'string' ? (body as { id: string }).id : undefined;
  return {
    [GEN_AI.responseId]: id,
    [GEN_AI.responseModel]: result.model,
    [GEN_AI.responseFinishReasons]: result.finish_reason === null ? undefined : [result.finish_reason],
    [GEN_AI.usageInputTokens]: result.usage.prompt_tokens,
    [GEN_AI.usageOutputTokens]: result.usage.completion_tokens,
    'amend.attempts': result.attempts,
    'amend.simulated': result.simulated,
  };
}

/** `gen_ai.input.messages`: the messages sent, in the conventions' JSON shape (role and text parts). */
export function inputMessages(call: ModelCallSpan): string {
  return JSON.stringify(call.request.messages.map((m) => ({ role: m.role, parts: [{ type: 'text', content: m.content }] })));
}

/** `gen_ai.output.messages`: the answer, one assistant message with its finish reason. */
export function outputMessages(result: ChatResult): string {
  return JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: result.text }], finish_reason: result.finish_reason ?? 'stop' }]);
}
