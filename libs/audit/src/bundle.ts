import { isRunFinished } from '@amend/contracts';
import { AuditVerifier, type VerifyReport } from './verifier';
import type { ChainedEvent } from './chain';

/**
 * The export of one run's audit trail as JSON Lines: a header line, one line per event (as
 * stored: content, `prev_hash`, `hash`) grouped by chain in stored order, and an end line with the
 * count, so a truncated file is told from a complete one. Everything needed to recompute the
 * chains and the seal is in the file; nothing else is.
 */
export const BUNDLE_KIND = 'amend.audit.bundle';
export const BUNDLE_END_KIND = 'amend.audit.end';

export interface BundleHeader {
  kind: typeof BUNDLE_KIND;
  version: 1;
  run_id: string;
  run_status: string;
  exported_at: string;
  /** How to recompute, for a reader without this code. */
  hashing: string;
}

export const HASHING_DESCRIPTION =
  'hash = sha256(prev_hash || canonical JSON (RFC 8785) of {event_id, chain, seq, run_id, sample_id, type, actor, at, payload}), ' +
  'prev_hash as 64 hex characters, the first of each chain 64 zeros; run.sealed holds an RFC 6962 Merkle root over ' +
  'the canonical JSON {chain, count, head} of every chain of the run';

export function bundleHeader(run: { id: string; status: string }, exportedAt = new Date()): BundleHeader {
  return { kind: BUNDLE_KIND, version: 1, run_id: run.id, run_status: run.status, exported_at: exportedAt.toISOString(), hashing: HASHING_DESCRIPTION };
}

export function bundleEnd(events: number) {
  return { kind: BUNDLE_END_KIND, events };
}

export interface BundleReport extends VerifyReport {
  run_id: string | null;
  run_status: string | null;
  exported_at: string | null;
}

/** Verifies an exported bundle line by line with no database: the offline half of `amend audit verify`. */
export async function verifyBundle(lines: AsyncIterable<string> | Iterable<string>): Promise<BundleReport> {
  let header: BundleHeader | null = null;
  let verifier: AuditVerifier | null = null;
  let end: { events: number } | null = null;
  let lineNo = 0;
  let events = 0;
  const problems: { reason: 'missing' | 'inserted'; message: string }[] = [];
  for await (const raw of lines as AsyncIterable<string>) {
    lineNo++;
    const line = raw.trim();
    if (!line) continue;
    let value: any;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push({ reason: 'missing', message: `line ${lineNo} is not JSON: the event on it cannot be read` });
      continue;
    }
    if (!header) {
      if (value?.kind !== BUNDLE_KIND) throw new Error(`not an Amend audit bundle: line ${lineNo} is not a "${BUNDLE_KIND}" header`);
      header = value as BundleHeader;
      verifier = new AuditVerifier({ runId: header.run_id, expectSealed: isRunFinished(header.run_status) });
      continue;
    }
    if (value?.kind === BUNDLE_END_KIND) {
      end = value;
      continue;
    }
    if (end) problems.push({ reason: 'inserted', message: `line ${lineNo} comes after the end line` });
    events++;
    verifier!.add({ ...(value as ChainedEvent), id: (value as ChainedEvent).id ?? `line ${lineNo}` });
  }
  if (!header || !verifier) throw new Error('not an Amend audit bundle: the file is empty');
  if (!end) problems.push({ reason: 'missing', message: `the bundle has no end line: it is truncated after ${events} event(s)` });
  else if (end.events !== events) {
    problems.push({ reason: end.events > events ? 'missing' : 'inserted', message: `the end line counts ${end.events} event(s) and the bundle holds ${events}` });
  }
  for (const { reason, message } of problems) {
    verifier.addProblem({ reason, chain: null, event_id: null, id: null, type: null, seq: null, message });
  }
  return { run_id: header.run_id, run_status: header.run_status, exported_at: header.exported_at, ...verifier.finish() };
}
