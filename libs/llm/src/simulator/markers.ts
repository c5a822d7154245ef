import type { IncomingMessage } from './conversation';
import { messageText } from './conversation';

/**
 * Put this anywhere in a user message to make the simulator refuse the request with
 * HTTP 400 `invalid_request_error` (the HTTP server) or a permanent ModelError (the in-process
 * SimulatorModel): the way to exercise "a sample fails permanently, the run goes on".
 */
export const FAIL_400_MARKER = '[[amend:fail400]]';

/**
 * `[[amend:noop]]` in the prompt: every revision of it returns the answer unchanged, a no-op
 * revision (the quality report's `noop`).
 */
export const NOOP_MARKER = '[[amend:noop]]';

/**
 * `[[amend:refuse]]` in the prompt: every revision of it is a refusal, and about half of its
 * drafts (and ai-feedback candidates) are, so a helpful draft revised into a refusal shows up as
 * refusal drift, and the simulated judge gets refusals to compare.
 */
export const REFUSE_MARKER = '[[amend:refuse]]';

/** The markers that shape answers (not failures), removed from the prompt before it is quoted. */
export const ANSWER_MARKERS = [NOOP_MARKER, REFUSE_MARKER] as const;

export function withoutMarkers(text: string): string {
  let out = text;
  for (const m of ANSWER_MARKERS) out = out.split(m).join('');
  return out.replace(/\s{2,}/g, ' ').trim();
}

export function hasFail400Marker(messages: readonly IncomingMessage[] | undefined): boolean {
  return (messages ?? []).some((m) => m.role === 'user' && messageText(m.content).includes(FAIL_400_MARKER));
}
