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
 * `[[amend:refuse]]` in the prompt: every revision of it is a refusal while its drafts stay
 * helpful, so each pair shows a helpful answer revised into a refusal (refusal drift).
 */
export const REFUSE_MARKER = '[[amend:refuse]]';

/**
 * `[[amend:refuse-draft]]` in the prompt: about half of its drafts (and ai-feedback candidates)
 * are refusals, chosen by the request's own hash, so the simulated judge has refusals to compare.
 */
export const REFUSE_DRAFT_MARKER = '[[amend:refuse-draft]]';

/** The markers that shape answers (not failures), removed from the prompt before it is quoted. */
export const ANSWER_MARKERS = [NOOP_MARKER, REFUSE_MARKER, REFUSE_DRAFT_MARKER] as const;

export function withoutMarkers(text: string): string {
  let out = text;
  for (const m of ANSWER_MARKERS) out = out.split(m).join('');
  return out.replace(/\s{2,}/g, ' ').trim();
}

export function hasFail400Marker(messages: readonly IncomingMessage[] | undefined): boolean {
  return (messages ?? []).some((m) => m.role === 'user' && messageText(m.content).includes(FAIL_400_MARKER));
}
