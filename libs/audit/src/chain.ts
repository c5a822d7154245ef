import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical';

/** `prev_hash` of the first event of every chain: 64 zeros. */
export const GENESIS = '0'.repeat(64);

/** The chain of events that are not about a run: constitutions published or deprecated, keys created or revoked. */
export const GLOBAL_CHAIN = 'global';

/** The chain of one principle-suggestion job: its events name it by `payload.suggestion_id`, and no run or sample. */
export const suggestionChain = (id: string) => `suggestion:${id}`;

/**
 * Chains are per sample (one writer at a time) plus one per run for run-level events, one per
 * suggestion job, and the global one (docs/architecture.md#chains-and-seals).
 */
export function chainOf(e: { run_id: string | null; sample_id: string | null; payload?: unknown }): string {
  if (e.sample_id) return `sample:${e.sample_id}`;
  if (e.run_id) return `run:${e.run_id}`;
  const suggestion = (e.payload as { suggestion_id?: unknown } | null | undefined)?.suggestion_id;
  if (typeof suggestion === 'string' && suggestion.length > 0) return suggestionChain(suggestion);
  return GLOBAL_CHAIN;
}

/** What is hashed: every field of the event except its database row id, `prev_hash` and `hash`. */
export interface EventContent {
  event_id: string;
  chain: string;
  /** Position in its chain, from 0. */
  seq: number;
  run_id: string | null;
  sample_id: string | null;
  type: string;
  actor: string;
  /** ISO 8601 with milliseconds, UTC (`Date.prototype.toISOString`). */
  at: string;
  payload: unknown;
}

/** An event as stored and exported: its content, its link to the previous event and its hash. */
export interface ChainedEvent extends EventContent {
  /** Database row id (a string: it is a bigint); absent for events not read from the database. */
  id?: string;
  prev_hash: string | null;
  hash: string | null;
  /**
   * A model call's messages as stored (blobs expanded), beside the content: the payload names them
   * by hash (`request.messages_sha256`) and the verifier re-hashes these against those names.
   */
  messages?: unknown;
  /** A model call's response body as stored, beside the content: the payload names it by `response_sha256`. */
  response?: unknown;
}

export function contentOf(e: EventContent): EventContent {
  return {
    event_id: e.event_id,
    chain: e.chain,
    seq: e.seq,
    run_id: e.run_id ?? null,
    sample_id: e.sample_id ?? null,
    type: e.type,
    actor: e.actor,
    at: e.at,
    payload: e.payload,
  };
}

/**
 * `hash = sha256(prev_hash || canonical JSON of the event)`: the 64 hex characters of the previous
 * hash followed by the RFC 8785 text, both as UTF-8, so an auditor can recompute one with
 * `printf '%s%s' "$prev_hash" "$canonical_json" | sha256sum`.
 */
export function eventHash(prevHash: string, e: EventContent): string {
  return createHash('sha256')
    .update(prevHash, 'utf8')
    .update(canonicalJson(contentOf(e)), 'utf8')
    .digest('hex');
}

/** Links `events` (all of one chain, in order) after the head `prev`; returns them with seq, prev_hash and hash. */
export function linkEvents<E extends Omit<EventContent, 'seq'>>(
  prev: { seq: number; hash: string } | null,
  events: E[],
): (E & { seq: number; prev_hash: string; hash: string })[] {
  let seq = prev ? prev.seq + 1 : 0;
  let prevHash = prev ? prev.hash : GENESIS;
  return events.map((e) => {
    const linked = { ...e, seq: seq++, prev_hash: prevHash };
    const hash = eventHash(prevHash, linked);
    prevHash = hash;
    return { ...linked, hash };
  });
}
