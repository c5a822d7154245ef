import { z } from 'zod';
import { KEY_ROLE_NAMES } from './keys';

/** `GET /v1/keys/me`: the caller's own key, so the web console (or a script) knows what to offer. */
export const KeySelfSchema = z.object({
  id: z.string().uuid(),
  role: z.enum(KEY_ROLE_NAMES),
  team: z.string(),
  /** How audit events and reviews name this key. */
  actor: z.string(),
  limits: z.object({ requests_per_minute: z.number().int(), concurrent_runs: z.number().int(), prompts_per_run: z.number().int() }),
});
export type KeySelf = z.infer<typeof KeySelfSchema>;
