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

/** One limit a body goes past, where (a path into the body, as a zod issue has) and which setting. */
export interface LimitIssue {
  path: (string | number)[];
  message: string;
}

type PromptLike = string | { prompt?: string; messages?: readonly { role: string; content: string }[] };

/** What one prompt (a string, `{prompt}` or `{messages}`) goes past, with paths relative to the prompt. */
export function promptLimitIssues(item: PromptLike, limits: RequestLimits): LimitIssue[] {
  const tooLong = 'prompt is longer than the limit (AMEND_MAX_PROMPT_CHARS)';
  if (typeof item === 'string') return item.length > limits.promptChars ? [{ path: [], message: tooLong }] : [];
  const issues: LimitIssue[] = [];
  if (item.prompt !== undefined && item.prompt.length > limits.promptChars) issues.push({ path: ['prompt'], message: tooLong });
  const messages = item.messages;
  if (messages !== undefined) {
    messages.forEach((m, i) => {
      if (m.content.length > limits.promptChars)
        issues.push({ path: ['messages', i, 'content'], message: 'message is longer than the limit (AMEND_MAX_PROMPT_CHARS)' });
    });
    if (messages.length > limits.promptMessages) {
      issues.push({
        path: ['messages'],
        message: `a conversation has at most ${limits.promptMessages} messages (AMEND_MAX_PROMPT_MESSAGES), this one ${messages.length}`,
      });
    }
    const total = messages.reduce((n, m) => n + m.content.length, 0);
    if (total > limits.conversationChars) {
      issues.push({
        path: ['messages'],
        message: `the conversation has ${total} characters, more than the limit of ${limits.conversationChars} (AMEND_MAX_CONVERSATION_CHARS)`,
      });
    }
  }
  return issues;
}

function promptsIssues(prompts: readonly PromptLike[], limits: RequestLimits): LimitIssue[] {
  return prompts.flatMap((p, i) => promptLimitIssues(p, limits).map((issue) => ({ ...issue, path: ['prompts', i, ...issue.path] })));
}

/** What a run's body (JSON; a JSON Lines upload checks each line with promptLimitIssues) goes past. */
export function runLimitIssues(body: { prompts: readonly PromptLike[] }, limits: RequestLimits): LimitIssue[] {
  const count: LimitIssue[] =
    body.prompts.length > limits.promptsPerRun
      ? [{ path: ['prompts'], message: `too many prompts for one run (AMEND_MAX_PROMPTS, ${limits.promptsPerRun})` }]
      : [];
  return [...count, ...promptsIssues(body.prompts, limits)];
}

/** What an evaluation's body goes past. */
export function evaluationLimitIssues(body: { prompts?: readonly PromptLike[] }, limits: RequestLimits): LimitIssue[] {
  if (body.prompts === undefined) return [];
  const count: LimitIssue[] =
    body.prompts.length > limits.evaluationPrompts
      ? [{ path: ['prompts'], message: `too many prompts for one evaluation (AMEND_MAX_EVALUATION_PROMPTS, ${limits.evaluationPrompts})` }]
      : [];
  return [...count, ...promptsIssues(body.prompts, limits)];
}

/** What a review's edited texts go past: four times a prompt, as a response may be longer than its prompt. */
export function reviewLimitIssues(body: { chosen?: string; rejected?: string }, limits: RequestLimits): LimitIssue[] {
  return (['chosen', 'rejected'] as const)
    .filter((field) => (body[field]?.length ?? 0) > limits.promptChars * 4)
    .map((field) => ({ path: [field], message: 'the text is longer than the limit (4 x AMEND_MAX_PROMPT_CHARS)' }));
}

/** Critique-revise rounds per sample: the paper used 4, and past 8 the revisions stop changing. */
export const ROUNDS = { min: 1, max: 8 } as const;
