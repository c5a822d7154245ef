import { createHash } from 'node:crypto';
import type OpenAI from 'openai';
import { type IncomingMessage, toTurns } from './conversation';
import { readStage } from './stage';
import { critiqueText, draftText, revisionText, type Pick } from './texts';

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
}

export type SimulatedCompletion = OpenAI.Chat.Completions.ChatCompletion;

/**
 * A deterministic stand-in for a chat model: the same request body gives the same response,
 * byte for byte. The LAST user message decides what is produced: a revision request gives a
 * rewrite of the critiqued answer without its risky sentences, a critique request gives a
 * critique that quotes the previous answer's problems, anything else gives a draft answer.
 * Pure: no clock, no randomness, no I/O. The `[[amend:fail400]]` marker is NOT handled here
 * (see markers.ts): the callers decide how to fail.
 */
export function simulateCompletion(body: SimulatorRequestBody): SimulatedCompletion {
  const turns = toTurns(body.messages ?? []);
  const digest = sha256(stableJson(body));
  const pick: Pick = (options, salt) => options[sha256(digest + salt).readUInt32BE(0) % options.length];

  const reading = readStage(turns);
  let text: string;
  if (reading.stage === 'revision') text = revisionText(reading.target ?? '', reading.prompt, pick);
  else if (reading.stage === 'critique') text = critiqueText(reading.target ?? '', reading.request, reading.prompt, pick);
  else text = draftText(reading.prompt, pick);

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
        logprobs: null,
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
