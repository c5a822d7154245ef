import type { Config } from './config';

/**
 * The request limits the API holds bodies to, from the configuration validated at boot
 * (AMEND_MAX_*). The request schemas check shapes only, so the CLI and the console can use them
 * without knowing the server's limits; the API checks these on top with the issue functions
 * below, which take the limits as a parameter.
 */
export interface RequestLimits {
  promptsPerRun: number;
  /** Characters of one prompt, or of one message of a multi-turn prompt. */
  promptChars: number;
  /** Messages of a multi-turn prompt; each message is held to promptChars as well. */
  promptMessages: number;
  /** Characters of a multi-turn prompt, all messages together. */
  conversationChars: number;
  evaluationPrompts: number;
}

type LimitSettings = Pick<
  Config,
  'AMEND_MAX_PROMPTS' | 'AMEND_MAX_PROMPT_CHARS' | 'AMEND_MAX_PROMPT_MESSAGES' | 'AMEND_MAX_CONVERSATION_CHARS' | 'AMEND_MAX_EVALUATION_PROMPTS'
>;

export function requestLimits(config: LimitSettings): RequestLimits {
  return {
    promptsPerRun: config.AMEND_MAX_PROMPTS,
    promptChars: config.AMEND_MAX_PROMPT_CHARS,
    promptMessages: config.AMEND_MAX_PROMPT_MESSAGES,
    // Twice a single prompt's limit by default, so a conversation and the constitution's few-shot prefix still fit a 32k context.
    conversationChars: config.AMEND_MAX_CONVERSATION_CHARS ?? 2 * config.AMEND_MAX_PROMPT_CHARS,
    evaluationPrompts: config.AMEND_MAX_EVALUATION_PROMPTS,
  };
}

/**
 * One limit a body goes past: where (a path into the body, as a zod issue has), what it says, and
 * the figures a client can act on: the limit, the setting that sets it and the actual size.
 */
export interface LimitIssue {
  path: (string | number)[];
  message: string;
  limit: number;
  setting: string;
  actual: number;
}

const n = (v: number) => v.toLocaleString('en-US');

/** `prompt 3 is 40,123 characters; the limit is 32,000 (AMEND_MAX_PROMPT_CHARS)`, with its figures. */
function over(path: (string | number)[], what: string, actual: number, unit: string, limit: number, setting: string): LimitIssue {
  return { path, message: `${what} ${n(actual)} ${unit}; the limit is ${n(limit)} (${setting})`, limit, setting, actual };
}

type PromptLike = string | { prompt?: string; messages?: readonly { role: string; content: string }[] };

/**
 * What one prompt (a string, `{prompt}` or `{messages}`) goes past, with paths relative to the
 * prompt; `index` is its position in the run, which the messages name.
 */
export function promptLimitIssues(item: PromptLike, limits: RequestLimits, index?: number): LimitIssue[] {
  const name = index === undefined ? 'the prompt' : `prompt ${index}`;
  const chars = (path: (string | number)[], what: string, text: string) =>
    text.length > limits.promptChars ? [over(path, `${what} is`, text.length, 'characters', limits.promptChars, 'AMEND_MAX_PROMPT_CHARS')] : [];
  if (typeof item === 'string') return chars([], name, item);
  const issues: LimitIssue[] = item.prompt !== undefined ? chars(['prompt'], name, item.prompt) : [];
  const messages = item.messages;
  if (messages !== undefined) {
    messages.forEach((m, i) => issues.push(...chars(['messages', i, 'content'], `${name}, message ${i},`, m.content)));
    if (messages.length > limits.promptMessages) {
      issues.push(over(['messages'], `${name} has`, messages.length, 'messages', limits.promptMessages, 'AMEND_MAX_PROMPT_MESSAGES'));
    }
    const total = messages.reduce((sum, m) => sum + m.content.length, 0);
    if (total > limits.conversationChars) {
      issues.push(over(['messages'], `${name}'s conversation has`, total, 'characters in all', limits.conversationChars, 'AMEND_MAX_CONVERSATION_CHARS'));
    }
  }
  return issues;
}

function promptsIssues(prompts: readonly PromptLike[], limits: RequestLimits): LimitIssue[] {
  return prompts.flatMap((p, i) => promptLimitIssues(p, limits, i).map((issue) => ({ ...issue, path: ['prompts', i, ...issue.path] })));
}

/** What a run's body (JSON; a JSON Lines upload checks each line with promptLimitIssues) goes past. */
export function runLimitIssues(body: { prompts: readonly PromptLike[] }, limits: RequestLimits): LimitIssue[] {
  const count =
    body.prompts.length > limits.promptsPerRun
      ? [over(['prompts'], 'the run has', body.prompts.length, 'prompts', limits.promptsPerRun, 'AMEND_MAX_PROMPTS')]
      : [];
  return [...count, ...promptsIssues(body.prompts, limits)];
}

/** What an evaluation's body goes past. */
export function evaluationLimitIssues(body: { prompts?: readonly PromptLike[] }, limits: RequestLimits): LimitIssue[] {
  if (body.prompts === undefined) return [];
  const count =
    body.prompts.length > limits.evaluationPrompts
      ? [over(['prompts'], 'the evaluation has', body.prompts.length, 'prompts', limits.evaluationPrompts, 'AMEND_MAX_EVALUATION_PROMPTS')]
      : [];
  return [...count, ...promptsIssues(body.prompts, limits)];
}

/** What a review's edited texts go past: four times a prompt, as a response may be longer than its prompt. */
export function reviewLimitIssues(body: { chosen?: string; rejected?: string }, limits: RequestLimits): LimitIssue[] {
  return (['chosen', 'rejected'] as const)
    .filter((field) => (body[field]?.length ?? 0) > limits.promptChars * 4)
    .map((field) => over([field], `${field} is`, body[field]!.length, 'characters', limits.promptChars * 4, '4 x AMEND_MAX_PROMPT_CHARS'));
}

/** Critique-revise rounds per sample: the paper used 4, and past 8 the revisions stop changing. */
export const ROUNDS = { min: 1, max: 8 } as const;
