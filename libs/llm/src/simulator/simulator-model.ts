import type { ChatModel, ChatRequest, ChatResult } from '@amend/pipeline';
import { ModelError } from '../errors';
import { appliedAnswerMode, chatRequestBody, type JudgeAnswerMode, type StructuredOutputMode } from '../request-body';
import type { JudgeStyle } from './judge';
import { readLogprobs } from '../logprobs';
import { sleep } from '../retry';
import { FAIL_400_MARKER, hasFail400Marker } from './markers';
import { SIMULATOR_MODEL, simulateCompletion } from './simulate';

export interface SimulatorModelOptions {
  /** Artificial delay per call, for demos that should look like a real model at work. */
  latencyMs?: number;
  /** How the simulated judge words a one-letter answer (judge.ts); default "A". */
  judgeStyle?: JudgeStyle;
  /** Act as a backend that prefills or constrains multiple-choice answers (request-body.ts). */
  judgeAnswer?: JudgeAnswerMode;
  /** Act as a backend that follows a JSON Schema, taken in this field (request-body.ts). */
  structuredOutput?: StructuredOutputMode;
}

/**
 * The built-in simulator, in process: no HTTP, no retries, always labelled `simulated`.
 * Used when AMEND_MODELS configures `{simulator: true}` (the default).
 */
export class SimulatorModel implements ChatModel {
  constructor(private readonly options: SimulatorModelOptions = {}) {}

  async complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    signal?.throwIfAborted();
    const started = performance.now();
    const request = chatRequestBody(SIMULATOR_MODEL, req, this.options.judgeAnswer, this.options.structuredOutput);
    if (this.options.latencyMs) await sleep(this.options.latencyMs, signal);
    if (hasFail400Marker(request.messages)) {
      // Same outcome as the HTTP simulator's 400, so pipeline tests can exercise a permanent failure in process.
      throw Object.assign(
        ModelError.permanent('bad_request', `${req.alias}: HTTP 400 invalid_request_error: the prompt contains ${FAIL_400_MARKER}`, {
          status: 400,
        }),
        { attempts: 1 },
      );
    }
    const response = simulateCompletion(request, { judgeStyle: this.options.judgeStyle });
    const answerMode = appliedAnswerMode(req, this.options.judgeAnswer, this.options.structuredOutput);
    const choice = response.choices[0];
    return {
      text: choice.message.content ?? '',
      model: response.model,
      usage: {
        prompt_tokens: response.usage?.prompt_tokens ?? 0,
        completion_tokens: response.usage?.completion_tokens ?? 0,
      },
      latency_ms: Math.round((performance.now() - started) * 1000) / 1000,
      simulated: true,
      finish_reason: choice.finish_reason,
      request,
      response,
      attempts: 1,
      logprobs: readLogprobs(choice.logprobs),
      ...(answerMode && { answer_mode: answerMode }),
    };
  }
}
