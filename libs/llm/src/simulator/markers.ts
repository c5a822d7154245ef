import type { IncomingMessage } from './conversation';
import { messageText } from './conversation';

/**
 * Put this anywhere in a user message to make the simulator refuse the request with
 * HTTP 400 `invalid_request_error` (the HTTP server) or a permanent ModelError (the in-process
 * SimulatorModel): the way to exercise "a sample fails permanently, the run goes on".
 */
export const FAIL_400_MARKER = '[[amend:fail400]]';

export function hasFail400Marker(messages: readonly IncomingMessage[] | undefined): boolean {
  return (messages ?? []).some((m) => m.role === 'user' && messageText(m.content).includes(FAIL_400_MARKER));
}
