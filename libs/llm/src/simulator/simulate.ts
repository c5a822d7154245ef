import { createHash } from 'node:crypto';
import type OpenAI from 'openai';
import { type IncomingMessage, toTurns } from './conversation';
import { readStage } from './stage';
import { critiqueText, draftText, revisionText, type Pick } from './texts';
import { judgeAnswer, ratingsAnswer, readComparison, type AnswerConstraint, type JudgeAnswer, type JudgeStyle } from './judge';
import { suggestionAnswer } from './suggest';
import { NOOP_MARKER, REFUSE_DRAFT_MARKER, REFUSE_MARKER, withoutMarkers } from './markers';

export const SIMULATOR_MODEL = 'amend-simulator-1';
/** Responses carry this fingerprint so that a client can tell (and label) simulated output. */
export const SIMULATOR_FINGERPRINT = 'amend-simulator';
/** 2025-01-01T00:00:00Z: a fixed `created`, so equal requests give byte-identical responses. */
const CREATED = 1_735_689_600;

/** The part of an OpenAI chat-completions request body that the simulator reads. */
export interface SimulatorRequestBody {
  model?: string;
  messages: IncomingMessage[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  seed?: number;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  /** vLLM's prefill: continue the final assistant message. */
  continue_final_message?: boolean;
  /** vLLM's guided decoding, old and new parameter names. */
  guided_choice?: string[];
  structured_outputs?: { choice?: string[] };
  /** Structured output by JSON Schema: OpenAI's response_format, vLLM's guided_json, Ollama's format. */
  response_format?: { type?: string; json_schema?: unknown } | null;
  guided_json?: unknown;
  format?: unknown;
}

export interface SimulateOptions {
  /** How the judge words a one-letter answer (judge.ts JUDGE_STYLES); default "A". */
  judgeStyle?: JudgeStyle;
}

/** The refusals the simulator gives under `[[amend:refuse]]`. */
const REFUSALS = [
  "I'm sorry, but I can't help with that request. If there is something else you need, I am happy to help.",
  'Sorry, I cannot assist with this. Please consider asking a qualified professional instead.',
] as const;

export type SimulatedCompletion = OpenAI.Chat.Completions.ChatCompletion;

/**
 * A deterministic stand-in for a chat model: the same request body gives the same response,
 * byte for byte. The LAST user message decides what is produced: a revision request gives a
 * rewrite of the critiqued answer without its risky sentences, a critique request gives a
 * critique that quotes the previous answer's problems, anything else gives a draft answer.
 * Pure: no clock, no randomness, no I/O. The `[[amend:fail400]]` marker is NOT handled here
 * (see markers.ts): the callers decide how to fail.
 */
export function simulateCompletion(body: SimulatorRequestBody, options: SimulateOptions = {}): SimulatedCompletion {
  const turns = toTurns(body.messages ?? []);
  const digest = sha256(stableJson(body));
  const pick: Pick = (options, salt) => options[sha256(digest + salt).readUInt32BE(0) % options.length];

  const uniform = (salt: string) => sha256(digest + salt).readUInt32BE(0) / 2 ** 32;

  const reading = readStage(turns);
  const lastUser = [...turns].reverse().find((t) => t.role === 'user')?.text ?? '';
  const comparison = readComparison(lastUser);
  const refuse = reading.prompt.includes(REFUSE_MARKER);
  const refuseDraft = reading.prompt.includes(REFUSE_DRAFT_MARKER);
  let text: string;
  let logprobs: JudgeAnswer['logprobs'] = null;
  const suggestion = suggestionAnswer(lastUser, pick);
  if (suggestion !== null) {
    // Principle suggestions' propose and test requests (suggest.ts).
    text = suggestion;
  } else if (comparison?.ratings) {
    // The ratings judge: two 1-5 ratings as JSON, noise keyed by the comparison's text (judge.ts).
    const textDigest = sha256(lastUser);
    const textUniform = (salt: string) => sha256(textDigest.toString('hex') + salt).readUInt32BE(0) / 2 ** 32;
    text = ratingsAnswer(comparison, textUniform, { style: options.judgeStyle, structured: followsSchema(body) });
  } else if (comparison) {
    // The feedback model's multiple-choice question (RL-CAI): a letter, with log-probabilities if asked.
    const answer = judgeAnswer(comparison, pick, uniform, {
      temperature: body.temperature ?? 1,
      logprobs: body.logprobs === true,
      topLogprobs: body.top_logprobs ?? 0,
      style: options.judgeStyle,
      constraint: answerConstraint(body, turns),
    });
    text = answer.text;
    logprobs = answer.logprobs;
  } else if (reading.stage === 'revision') {
    if (reading.prompt.includes(NOOP_MARKER)) text = reading.target ?? '';
    else if (refuse) text = pick(REFUSALS, 'refusal');
    else text = revisionText(reading.target ?? '', withoutMarkers(reading.prompt), pick);
  } else if (reading.stage === 'critique') {
    text = critiqueText(reading.target ?? '', reading.request, withoutMarkers(reading.prompt), pick);
  } else if (refuseDraft && uniform('refuse-draft') < 0.5) {
    text = pick(REFUSALS, 'refusal');
  } else {
    text = draftText(withoutMarkers(reading.prompt), pick);
  }

  let finishReason: 'stop' | 'length' = 'stop';
  const limit = body.max_completion_tokens ?? body.max_tokens;
  if (typeof limit === 'number' && limit > 0 && tokens(text) > limit) {
    text = text.slice(0, limit * 4);
    finishReason = 'length';
  }

  const promptTokens = tokens(turns.map((t) => t.text).join(''));
  const completionTokens = tokens(text);
  return {
    id: `chatcmpl-sim-${digest.toString('hex').slice(0, 24)}`,
    object: 'chat.completion',
    created: CREATED,
    model: SIMULATOR_MODEL,
    system_fingerprint: SIMULATOR_FINGERPRINT,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text, refusal: null },
        logprobs,
        finish_reason: finishReason,
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

/** The request asks for output that follows a JSON Schema, in any of the fields backends read it from. */
function followsSchema(body: SimulatorRequestBody): boolean {
  return body.response_format?.type === 'json_schema' || (body.guided_json !== undefined && body.guided_json !== null) || typeof body.format === 'object';
}

/** A request that prefills the reply (a final assistant turn to continue) or constrains it to choices. */
function answerConstraint(body: SimulatorRequestBody, turns: readonly { role: string }[]): AnswerConstraint {
  if (body.guided_choice?.length || body.structured_outputs?.choice?.length) return 'choice';
  if (body.continue_final_message && turns[turns.length - 1]?.role === 'assistant') return 'prefill';
  return null;
}

/** The usual rule of thumb for English with BPE tokenizers: about four characters a token. */
function tokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** JSON with sorted keys, so key order in the request does not change the answer. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
