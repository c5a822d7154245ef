import { GENESIS, chainOf, eventHash, type ChainedEvent } from './chain';
import { checkMessageRefs, responseBlob } from './content';
import { SEAL_EVENT, sealRoot, type ChainHead, type SealPayload } from './seal';

/**
 * Why an event does not match:
 * - `content_changed`: its stored hash is not the hash of its content (a field was edited), or it
 *   disagrees with the seal;
 * - `missing`: events the chain or the seal account for are gone (deleted);
 * - `reordered`: the event is intact but stored before an event it follows;
 * - `inserted`: the event is not part of the chain (its neighbours link past it), or comes after the seal.
 */
export type FailureReason = 'content_changed' | 'missing' | 'reordered' | 'inserted';

export interface VerifyFailure {
  reason: FailureReason;
  /** The chain concerned (`run:<id>`, `sample:<id>`, `global`); null for a problem of the bundle file itself. */
  chain: string | null;
  /** The event named: the changed, reordered or inserted one; for `missing`, the one found where the gap is (null at a chain's end). */
  event_id: string | null;
  /** Its database row id, or its line number in a bundle. */
  id: string | null;
  type: string | null;
  /** Position in the chain: of the event named, or for `missing` the first position that is gone. */
  seq: number | null;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  chains: number;
  /** A `run.sealed` event was found in the run's chain. */
  sealed: boolean;
  seals: number;
  /** The Merkle root the last seal recorded. */
  root: string | null;
  /** The Merkle root recomputed from the chains as they are now (the same as `root` when intact). */
  computed_root: string | null;
  first_failure: VerifyFailure | null;
  /** The first failure of each broken chain or seal, in the order the events were read (at most 100). */
  failures: VerifyFailure[];
  failures_total: number;
  /**
   * Samples whose content was erased (an `erasure` event in their chain): who, when and why. Their
   * model calls' message blobs may be gone; that is not a failure, and their chains still verify.
   */
  erased?: ErasedSample[];
}

/** An `erasure` event as the verifier read it. */
export interface ErasedSample {
  chain: string;
  sample_id: string | null;
  event_id: string;
  /** Who erased (the event's actor), when (its time) and why (its payload's reason). */
  by: string;
  at: string;
  reason: string | null;
}

/** The event type that erases a sample's content (docs/audit.md "Erasure"). */
export const ERASURE_EVENT = 'erasure';

export interface VerifyOptions {
  /** The run whose events these are: its chain holds the seals. */
  runId?: string;
  /** The run has finished, so a seal must be there (the API knows; a bundle says so in its header). */
  expectSealed?: boolean;
  /**
   * Recompute the chains only, without re-hashing the message and response blobs the events name
   * (the events are then read without them): for a caller that re-hashes every blob once itself,
   * as the server's row verification does, instead of once per event that names it.
   */
  chainsOnly?: boolean;
}

const MAX_FAILURES = 100;

interface Entry {
  pos: number;
  id: string | null;
  event_id: string;
  type: string;
  seq: number;
  prev_hash: string | null;
  hash: string | null;
  /** The stored hash is the hash of the stored content. */
  intact: boolean;
  why?: string;
  /** The event is intact but the message blobs it names are not what they were: a failure unless the sample was erased. */
  blobWhy?: string;
}

interface Found extends VerifyFailure {
  order: number;
}

/**
 * Recomputes chains and seals from events fed one at a time in stored order (by row id, or line
 * by line). It keeps a few fields per event, not the payloads, so a run of a million events
 * verifies in bounded memory per event; seal payloads are kept to check them at the end.
 */
export class AuditVerifier {
  private readonly chains = new Map<string, Entry[]>();
  private readonly seals: { entry: Entry; payload: Partial<SealPayload> }[] = [];
  private readonly runChain: string | null;
  private readonly extra: Found[] = [];
  private readonly erased = new Map<string, ErasedSample>();
  private count = 0;

  constructor(private readonly opts: VerifyOptions = {}) {
    this.runChain = opts.runId ? `run:${opts.runId}` : null;
  }

  add(e: ChainedEvent): void {
    const pos = this.count++;
    const chain = typeof e.chain === 'string' ? e.chain : 'unknown';
    const entry: Entry = {
      pos,
      id: e.id == null ? null : String(e.id),
      event_id: String(e.event_id),
      type: String(e.type),
      seq: Number.isInteger(e.seq) ? e.seq : -1,
      prev_hash: e.prev_hash ?? null,
      hash: e.hash ?? null,
      intact: false,
    };
    if (entry.hash === null || entry.prev_hash === null) entry.why = 'it has no hash';
    else if (chain !== chainOf(e)) entry.why = `its chain "${chain}" does not match its run and sample ids`;
    else if (this.opts.runId && e.run_id !== this.opts.runId) entry.why = `it belongs to run ${e.run_id}, not ${this.opts.runId}`;
    else {
      try {
        entry.intact = eventHash(entry.prev_hash, e) === entry.hash;
        if (!entry.intact) entry.why = 'its hash is not the hash of its content';
        else if (this.opts.chainsOnly) this.noteErasure(chain, entry, e);
        else {
          // The hash covers the names of the messages; the stored messages must be what they name.
          const refs = messagesSha256Of(e.payload);
          const why = (refs === undefined ? null : checkMessageRefs(refs, e.messages)) ?? checkResponse(e);
          // Judged in finish(): an erasure later in the chain takes the blobs away on purpose.
          if (why) entry.blobWhy = why;
          this.noteErasure(chain, entry, e);
        }
      } catch (err) {
        entry.why = `its content cannot be canonicalised (${(err as Error).message})`;
      }
    }
    let list = this.chains.get(chain);
    if (!list) this.chains.set(chain, (list = []));
    list.push(entry);
    if (chain === this.runChain && e.type === SEAL_EVENT) this.seals.push({ entry, payload: (e.payload ?? {}) as Partial<SealPayload> });
  }

  private noteErasure(chain: string, entry: Entry, e: ChainedEvent): void {
    if (e.type !== ERASURE_EVENT || this.erased.has(chain)) return;
    const reason = (e.payload as { reason?: unknown } | null)?.reason;
    this.erased.set(chain, {
      chain,
      sample_id: e.sample_id ?? null,
      event_id: entry.event_id,
      by: String(e.actor),
      at: String(e.at),
      reason: typeof reason === 'string' ? reason : null,
    });
  }

  /** A problem outside the chains (a truncated bundle, say). */
  addProblem(f: VerifyFailure): void {
    this.extra.push({ ...f, order: Number.MAX_SAFE_INTEGER });
  }

  finish(): VerifyReport {
    const found: Found[] = [...this.extra];
    const broken = new Set<string>();
    const heads: ChainHead[] = [];
    for (const [chain, entries] of this.chains) {
      if (!this.erased.has(chain)) {
        for (const e of entries) {
          if (e.blobWhy && e.intact) {
            e.intact = false;
            e.why = e.blobWhy;
          }
        }
      }
      const f = walkChain(chain, entries);
      if (f) {
        found.push(f);
        broken.add(chain);
      }
      // The run chain as its last seal saw it: the seal itself is not among the leaves.
      const lastSeal = chain === this.runChain ? this.seals[this.seals.length - 1] : undefined;
      const counted = lastSeal ? entries.slice(0, entries.indexOf(lastSeal.entry)) : entries;
      if (counted.length) heads.push({ chain, count: counted.length, head: counted[counted.length - 1].hash ?? '' });
    }
    found.push(...this.checkSeals(broken));

    const last = this.seals[this.seals.length - 1];
    found.sort((a, b) => a.order - b.order);
    const failures = found.map(({ order: _order, ...f }) => f);
    return {
      ok: failures.length === 0,
      events: this.count,
      chains: this.chains.size,
      sealed: this.seals.length > 0,
      seals: this.seals.length,
      root: typeof last?.payload.root === 'string' ? last.payload.root : null,
      computed_root: heads.length ? sealRoot(sortedHeads(heads)) : null,
      first_failure: failures[0] ?? null,
      failures: failures.slice(0, MAX_FAILURES),
      failures_total: failures.length,
      ...(this.erased.size > 0 && { erased: [...this.erased.values()].slice(0, MAX_FAILURES) }),
    };
  }

  private checkSeals(broken: Set<string>): Found[] {
    const found: Found[] = [];
    const runChain = this.runChain;
    if (!runChain) return found;
    const runEntries = this.chains.get(runChain) ?? [];
    if (this.seals.length === 0) {
      if (this.opts.expectSealed && !broken.has(runChain)) {
        const last = runEntries[runEntries.length - 1];
        found.push({
          reason: 'missing',
          chain: runChain,
          event_id: null,
          id: null,
          type: SEAL_EVENT,
          seq: runEntries.length,
          message: `the run has finished but its seal (${SEAL_EVENT}) is missing from ${runChain}`,
          order: last ? last.pos + 0.5 : Number.MAX_SAFE_INTEGER,
        });
      }
      return found;
    }
    const blamed = new Set<string>(broken);
    const blame = (chain: string, f: Omit<Found, 'chain'>) => {
      if (blamed.has(chain)) return;
      blamed.add(chain);
      found.push({ ...f, chain });
    };
    this.seals.forEach(({ entry: seal, payload }, i) => {
      if (broken.has(runChain) && !seal.intact) return; // already named by the chain walk
      const isLast = i === this.seals.length - 1;
      const leaves = Array.isArray(payload.leaves) ? (payload.leaves as ChainHead[]) : null;
      const sealFailure = (message: string) =>
        blame(runChain, { reason: 'content_changed', event_id: seal.event_id, id: seal.id, type: seal.type, seq: seal.seq, message, order: seal.pos });
      if (!leaves || typeof payload.root !== 'string') return sealFailure('the seal has no root or no leaves');
      let root: string;
      try {
        root = sealRoot(leaves);
      } catch {
        return sealFailure('the seal has malformed leaves');
      }
      if (root !== payload.root) return sealFailure(`the seal's root ${payload.root} is not the Merkle root of its own leaves (${root})`);
      const own = leaves.find((l) => l.chain === runChain);
      if (!own || own.count !== seal.seq) return sealFailure(`the seal does not account for the ${seal.seq} run event(s) before it`);
      const covered = new Set<string>();
      for (const leaf of leaves) {
        covered.add(leaf.chain);
        if (leaf.chain === runChain) continue;
        const entries = this.chains.get(leaf.chain);
        if (!entries) {
          blame(leaf.chain, {
            reason: 'missing',
            event_id: null,
            id: null,
            type: null,
            seq: 0,
            message: `the seal covers ${leaf.count} event(s) of ${leaf.chain} and none is left`,
            order: seal.pos + 0.5,
          });
          continue;
        }
        const lastHere = entries[entries.length - 1];
        if (entries.length < leaf.count) {
          blame(leaf.chain, {
            reason: 'missing',
            event_id: null,
            id: null,
            type: null,
            seq: entries.length,
            message: `the seal covers ${leaf.count} event(s) of ${leaf.chain}; ${leaf.count - entries.length} at its end (from seq ${entries.length}) are missing`,
            order: lastHere.pos + 0.5,
          });
          continue;
        }
        const atHead = entries[leaf.count - 1];
        if (leaf.count > 0 && atHead.hash !== leaf.head) {
          blame(leaf.chain, {
            reason: 'content_changed',
            event_id: atHead.event_id,
            id: atHead.id,
            type: atHead.type,
            seq: atHead.seq,
            message: `the event at seq ${leaf.count - 1} of ${leaf.chain} is not the one the seal recorded (hash ${leaf.head})`,
            order: atHead.pos,
          });
          continue;
        }
        if (isLast && entries.length > leaf.count) {
          const extra = entries[leaf.count];
          blame(leaf.chain, {
            reason: 'inserted',
            event_id: extra.event_id,
            id: extra.id,
            type: extra.type,
            seq: extra.seq,
            message: `the event comes after the run was sealed with ${leaf.count} event(s) in ${leaf.chain}`,
            order: extra.pos,
          });
        }
      }
      if (!isLast) return;
      const afterSeal = runEntries[seal.seq + 1];
      if (afterSeal) {
        blame(runChain, {
          reason: 'inserted',
          event_id: afterSeal.event_id,
          id: afterSeal.id,
          type: afterSeal.type,
          seq: afterSeal.seq,
          message: 'the event comes after the run was sealed',
          order: afterSeal.pos,
        });
      }
      for (const [chain, entries] of this.chains) {
        if (covered.has(chain)) continue;
        blame(chain, {
          reason: 'inserted',
          event_id: entries[0].event_id,
          id: entries[0].id,
          type: entries[0].type,
          seq: entries[0].seq,
          message: `${chain} is not among the chains the run was sealed with`,
          order: entries[0].pos,
        });
      }
    });
    return found;
  }
}

function sortedHeads(heads: ChainHead[]): ChainHead[] {
  return [...heads].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
}

/** The first event of one chain that does not match, and why; undefined when the chain is intact. */
function walkChain(chain: string, entries: Entry[]): Found | undefined {
  let expectedPrev = GENESIS;
  let expectedSeq = 0;
  const laterByHash = new Map<string, number>();
  entries.forEach((e, i) => e.hash && laterByHash.set(e.hash, i));
  const fail = (e: Entry, reason: FailureReason, message: string, seq: number = e.seq): Found => ({
    reason,
    chain,
    event_id: e.event_id,
    id: e.id,
    type: e.type,
    seq,
    message,
    order: e.pos,
  });
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.intact && e.prev_hash === expectedPrev && e.seq === expectedSeq) {
      expectedPrev = e.hash as string;
      expectedSeq++;
      continue;
    }
    const next = entries[i + 1];
    // Two events claiming the same predecessor: the one the chain goes on from is genuine.
    const before = entries[i - 1];
    if (e.intact && before && e.prev_hash === before.prev_hash && e.seq === before.seq) {
      const forged = next && next.prev_hash === e.hash ? before : e;
      return fail(forged, 'inserted', `a second event at seq ${forged.seq} of ${chain}; the chain goes on from the other one`);
    }
    const j = e.intact && e.prev_hash ? laterByHash.get(e.prev_hash) : undefined;
    if (j !== undefined && j > i) {
      return fail(e, 'reordered', `the event follows ${entries[j].event_id} (seq ${entries[j].seq}) but is stored before it`);
    }
    if (next && next.prev_hash === expectedPrev && next.seq === expectedSeq) {
      return fail(e, 'inserted', `the event is not part of ${chain}: the next event links to the one before it`);
    }
    if (!e.intact) return fail(e, 'content_changed', `${e.why ?? 'it was changed'}`);
    if (e.prev_hash === expectedPrev) {
      // Linked to the event before it, yet at another position: rewritten and rehashed in place
      // when more of the chain follows, otherwise an event added after the chain's end.
      if (next) return fail(e, 'content_changed', `its seq is ${e.seq} where ${expectedSeq} belongs: the event was rewritten`);
      return fail(e, 'inserted', `the event claims seq ${e.seq} after seq ${expectedSeq - 1} of ${chain}: it is not part of the chain`);
    }
    if (e.seq > expectedSeq) {
      return fail(
        e,
        'missing',
        `${e.seq - expectedSeq} event(s) of ${chain} missing before this one (seq ${expectedSeq}${e.seq - expectedSeq > 1 ? `..${e.seq - 1}` : ''})`,
        expectedSeq,
      );
    }
    if (e.seq < expectedSeq && j !== undefined) {
      return fail(e, 'reordered', `the event (seq ${e.seq}) is stored after events that follow it`);
    }
    return fail(e, 'content_changed', `the event does not link to the event before it (prev_hash ${e.prev_hash})`);
  }
  return undefined;
}

/** Null when the event names no response body by hash, or the body stored beside it is that one; else why not. */
function checkResponse(e: ChainedEvent): string | null {
  const name = (e.payload as { response_sha256?: unknown } | null)?.response_sha256;
  if (name === undefined) return null;
  if (typeof name !== 'string') return 'its response_sha256 is not a hash';
  if (e.response === undefined || e.response === null) return `the response body ${name} it names is missing`;
  return responseBlob(e.response).sha256 === name ? null : `the stored response body ${name} does not hash to its name`;
}

/** `payload.request.messages_sha256` of a model call's event; undefined for any other event. */
export function messagesSha256Of(payload: unknown): unknown {
  const request = (payload as { request?: { messages_sha256?: unknown } } | null)?.request;
  return request && typeof request === 'object' && 'messages_sha256' in request ? request.messages_sha256 : undefined;
}
