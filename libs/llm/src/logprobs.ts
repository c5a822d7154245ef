import type { TokenLogprobs } from '@amend/pipeline';

/**
 * Reads `choices[0].logprobs` of an OpenAI-shaped completion into the port's shape. Tolerant of
 * what OpenAI-compatible servers actually send: `null`, a missing `content`, `top_logprobs`
 * missing or null (vLLM without the option), extra fields (`bytes`). Entries that are not a
 * token with a finite log-probability are dropped; nothing usable gives null.
 */
export function readLogprobs(choiceLogprobs: unknown): TokenLogprobs[] | null {
  if (!choiceLogprobs || typeof choiceLogprobs !== 'object') return null;
  const content = (choiceLogprobs as { content?: unknown }).content;
  if (!Array.isArray(content)) return null;
  const positions: TokenLogprobs[] = [];
  for (const entry of content) {
    const token = readToken(entry);
    if (!token) continue;
    const tops = (entry as { top_logprobs?: unknown }).top_logprobs;
    positions.push({
      ...token,
      top_logprobs: Array.isArray(tops) ? tops.map(readToken).filter((t): t is { token: string; logprob: number } => t !== null) : [],
    });
  }
  return positions.length > 0 ? positions : null;
}

function readToken(x: unknown): { token: string; logprob: number } | null {
  if (!x || typeof x !== 'object') return null;
  const { token, logprob } = x as { token?: unknown; logprob?: unknown };
  if (typeof token !== 'string' || typeof logprob !== 'number' || Number.isNaN(logprob)) return null;
  // -Infinity is a real answer (probability 0); +Infinity is not.
  if (logprob > 0 && !Number.isFinite(logprob)) return null;
  return { token, logprob };
}
