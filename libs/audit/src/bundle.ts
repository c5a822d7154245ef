import { constitutionSha256, parseConstitutionYaml } from '@amend/constitution';
import { isRunFinished, type KeyDirectoryEntry, type PairRecord, type PairReview } from '@amend/contracts';
import { asStoredJson, canonicalJson } from './canonical';
import { contentSha256 } from './content';
import { AuditVerifier, ERASURE_EVENT, type VerifyReport } from './verifier';
import { GLOBAL_CHAIN, type ChainedEvent } from './chain';
import { pairRecordSha256, reviewSha256 } from './record-hash';

/**
 * The evidence of one run for someone who has neither this service nor its database: JSON Lines,
 * a header line, then the run's events (as stored: content, `prev_hash`, `hash`, and a model
 * call's messages expanded from their blobs) grouped by chain in stored order, then lines of
 * other kinds (`kind` says which), and an end line with the count of each kind, so a truncated
 * file is told from a complete one:
 *
 * - `amend.audit.manifest`: the run's manifest (the POST /v1/runs body that replays it);
 * - `amend.audit.samples`: the sample commitment blobs `run.created` names (`samples_sha256`), which
 *   vouch for the manifest's prompts;
 * - `amend.audit.constitution`: the full YAML of every constitution version the run used;
 * - `amend.audit.global`: the global chain (constitutions published, keys created and revoked), whole;
 * - `amend.audit.key`: the key directory entry of every key that acted (never a secret or a hash);
 * - `amend.audit.pair`: each pair record with its `pair_sha256`;
 * - `amend.audit.review`: each review row of the run's pairs, oldest first.
 *
 * Everything needed to recompute the chains, the seals, the message hashes, the constitutions'
 * sha256 and the pairs' hashes is in the file; nothing else is. Version 1 bundles held the events
 * only, and still verify.
 */
export const BUNDLE_KIND = 'amend.audit.bundle';
export const BUNDLE_END_KIND = 'amend.audit.end';
export const BUNDLE_VERSION = 2;

export const BUNDLE_LINE = {
  manifest: 'amend.audit.manifest',
  constitution: 'amend.audit.constitution',
  global: 'amend.audit.global',
  key: 'amend.audit.key',
  pair: 'amend.audit.pair',
  review: 'amend.audit.review',
  samples: 'amend.audit.samples',
} as const;

export interface BundleHeader {
  kind: typeof BUNDLE_KIND;
  version: 1 | 2;
  run_id: string;
  run_status: string;
  exported_at: string;
  /** How to recompute, for a reader without this code. */
  hashing: string;
  /** What the other lines are (version 2). */
  contents?: string;
}

export const HASHING_DESCRIPTION =
  'hash = sha256(prev_hash || canonical JSON (RFC 8785) of {event_id, chain, seq, run_id, sample_id, type, actor, at, payload}), ' +
  'prev_hash as 64 hex characters, the first of each chain 64 zeros; run.sealed holds an RFC 6962 Merkle root over ' +
  'the canonical JSON {chain, count, head} of every chain of the run; a model call names its messages by the sha256 of ' +
  'their canonical JSON (payload.request.messages_sha256, the first name may cover the few-shot prefix as one array) ' +
  'and its response body by the sha256 of its canonical JSON (payload.response_sha256), both expanded beside the event; ' +
  'pair_sha256 (pair.emitted) and review_sha256 (pair.reviewed) are the sha256 of the canonical JSON of the pair record ' +
  'and of the review row without its time; a constitution sha256 is the sha256 of the canonical JSON of its parsed YAML';

const CONTENTS_DESCRIPTION =
  'lines without "kind": the run\'s events chain by chain; amend.audit.manifest: the run\'s manifest; amend.audit.constitution: ' +
  'the YAML of each constitution version used; amend.audit.samples: the sample commitments run.created names; amend.audit.global: the global chain; amend.audit.key: the key directory of every ' +
  'key that acted; amend.audit.pair: each pair record and its pair_sha256; amend.audit.review: each review; amend.audit.end: counts';

export function bundleHeader(run: { id: string; status: string }, exportedAt = new Date()): BundleHeader {
  return {
    kind: BUNDLE_KIND,
    version: BUNDLE_VERSION,
    run_id: run.id,
    run_status: run.status,
    exported_at: exportedAt.toISOString(),
    hashing: HASHING_DESCRIPTION,
    contents: CONTENTS_DESCRIPTION,
  };
}

export interface BundleCounts {
  manifest: number;
  samples: number;
  constitutions: number;
  global_events: number;
  keys: number;
  pairs: number;
  reviews: number;
}

export function bundleEnd(events: number, counts?: BundleCounts) {
  return { kind: BUNDLE_END_KIND, events, ...(counts && { counts }) };
}

export const manifestLine = (manifest: unknown) => ({ kind: BUNDLE_LINE.manifest, manifest });
export const samplesLine = (blob: { sha256: string; content: unknown }) => ({ kind: BUNDLE_LINE.samples, sha256: blob.sha256, entries: blob.content });
export const constitutionLine = (c: { name: string; version: string; sha256: string; yaml: string }) => ({ kind: BUNDLE_LINE.constitution, ...c });
export const globalLine = (event: ChainedEvent) => ({ kind: BUNDLE_LINE.global, event });
export const keyLine = (key: KeyDirectoryEntry) => ({ kind: BUNDLE_LINE.key, key });
export const pairLine = (record: PairRecord) => ({
  kind: BUNDLE_LINE.pair,
  pair_id: record.id,
  sample_id: record.sample_id,
  pair_sha256: pairRecordSha256(record),
  record,
});
export const reviewLine = (review: PairReview) => ({ kind: BUNDLE_LINE.review, review });

/** The constitution versions an event names (`payload.constitution` of run.created and of every model call). */
export function constitutionRefOf(payload: unknown): { name: string; version: string; sha256: string } | undefined {
  const c = (payload as { constitution?: { name?: unknown; version?: unknown; sha256?: unknown } } | null)?.constitution;
  if (c && typeof c.name === 'string' && typeof c.version === 'string' && typeof c.sha256 === 'string')
    return { name: c.name, version: c.version, sha256: c.sha256 };
  return undefined;
}

/** The key id of an actor `key:<id>`; undefined for workers and the system. */
export function keyIdOfActor(actor: unknown): string | undefined {
  return typeof actor === 'string' && actor.startsWith('key:') ? actor.slice('key:'.length) : undefined;
}

/** What in the bundle, beside the chains, does not match the trail. */
export type EvidenceKind = 'file' | 'manifest' | 'constitution' | 'key' | 'pair' | 'review' | 'global';

export interface EvidenceFailure {
  kind: EvidenceKind;
  /** The line of the bundle file (from 1); null for something missing. */
  line: number | null;
  /** What is named: a pair, review or key id, `name@version`, or null. */
  id: string | null;
  message: string;
}

export interface BundleFacts {
  constitutions: { name: string; version: string; sha256: string }[];
  /** Model aliases of the manifest, and the model ids the backends reported in the events. */
  models: { aliases: string[]; reported: string[] };
  samples: number;
  pairs: number;
  reviews: number;
  keys: KeyDirectoryEntry[];
  event_types: Record<string, number>;
  mode: string | null;
  seed: number | null;
}

export interface BundleReport extends VerifyReport {
  run_id: string | null;
  run_status: string | null;
  exported_at: string | null;
  bundle_version: number | null;
  /** The run's chains and seals alone (`ok` above also covers the evidence below). */
  chains_ok: boolean;
  evidence: { ok: boolean; failures: EvidenceFailure[]; failures_total: number };
  /** The global chain as the bundle holds it (null in a version 1 bundle). */
  global: VerifyReport | null;
  /**
   * Samples whose content an erasure removed (an `erasure` event in their chain: who, when, why),
   * and the bundle lines (pairs, reviews, manifest prompts) that differ from the trail for that
   * reason alone: reported, not counted as altered.
   */
  erasures: { samples: Erasure[]; lines: { kind: EvidenceKind; line: number | null; id: string | null; sample_id: string }[] };
  facts: BundleFacts;
}

export interface Erasure {
  sample_id: string;
  event_id: string;
  by: string;
  at: string;
  reason: string | null;
}

/** A pair as the bundle holds it, with its latest review: what a dataset line is compared with. */
export interface BundledPair {
  record: PairRecord;
  review: PairReview | null;
  /** The record hashes to its `pair.emitted` event's `pair_sha256`. */
  intact: boolean;
  /** The sample's content was erased: its texts are gone, a dataset line of it cannot be compared. */
  erased: Erasure | null;
}

const MAX_FAILURES = 100;

interface PairEvent {
  event_id: string;
  pair_id: string | null;
  pair_sha256: string | null;
}

/**
 * Verifies an exported bundle line by line with no database: the offline half of `amend audit
 * verify`. With `keepPairs`, answers the pairs too (for checking a dataset file against them).
 */
export async function verifyBundle(
  lines: AsyncIterable<string> | Iterable<string>,
  opts: { keepPairs?: boolean } = {},
): Promise<BundleReport & { pairs?: Map<string, BundledPair>; erasedPairs?: Map<string, Erasure> }> {
  let header: BundleHeader | null = null;
  let verifier: AuditVerifier | null = null;
  const global = new AuditVerifier();
  let end: { events: number; counts?: Partial<BundleCounts> } | null = null;
  let lineNo = 0;
  let events = 0;
  const counts: BundleCounts = { manifest: 0, samples: 0, constitutions: 0, global_events: 0, keys: 0, pairs: 0, reviews: 0 };
  const problems: { reason: 'missing' | 'inserted'; message: string }[] = [];
  const evidence: EvidenceFailure[] = [];
  let evidenceTotal = 0;
  const fail = (f: EvidenceFailure) => {
    evidenceTotal++;
    if (evidence.length < MAX_FAILURES) evidence.push(f);
  };

  // What the run's events commit to, gathered as they pass.
  const refs = new Map<string, { name: string; version: string; sha256: string }>();
  const actors = new Set<string>();
  const emitted = new Map<string, PairEvent>();
  const reviewed = new Map<string, { event_id: string; review_sha256: string | null }>();
  const reported = new Set<string>();
  const erased = new Map<string, Erasure>();
  const erasedLines: BundleReport['erasures']['lines'] = [];
  const eventTypes: Record<string, number> = {};
  let runCreated: Record<string, any> | null = null;
  // What the other lines hold.
  let manifest: { line: number; value: Record<string, any> } | null = null;
  const sampleBlobs = new Map<string, { line: number; entries: unknown }>();
  const constitutions = new Map<string, { line: number; sha256: string }>();
  const keys = new Map<string, { line: number; key: KeyDirectoryEntry }>();
  const pairLines = new Map<string, { line: number; pair_id: string; sha256: string; record: PairRecord; claimed: unknown }>();
  const reviewLines: { line: number; review: PairReview }[] = [];
  // The global chain's commitments.
  const published = new Map<string, string>();
  const keyEvents = new Map<string, { created: Record<string, any> | null; revoked: boolean }>();
  let lastGlobalAt: string | null = null;

  for await (const raw of lines as AsyncIterable<string>) {
    lineNo++;
    const line = raw.trim();
    if (!line) continue;
    let value: any;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push({ reason: 'missing', message: `line ${lineNo} is not JSON: what was on it cannot be read` });
      continue;
    }
    if (!header) {
      if (value?.kind !== BUNDLE_KIND) throw new Error(`not an Amend audit bundle: line ${lineNo} is not a "${BUNDLE_KIND}" header`);
      header = value as BundleHeader;
      verifier = new AuditVerifier({ runId: header.run_id, expectSealed: isRunFinished(header.run_status) });
      continue;
    }
    const kind: unknown = value?.kind;
    if (kind === BUNDLE_END_KIND) {
      end = value;
      continue;
    }
    if (end) problems.push({ reason: 'inserted', message: `line ${lineNo} comes after the end line` });
    switch (kind) {
      case undefined: {
        events++;
        const e = value as ChainedEvent;
        verifier!.add({ ...e, id: e.id ?? `line ${lineNo}` });
        eventTypes[String(e.type)] = (eventTypes[String(e.type)] ?? 0) + 1;
        const ref = constitutionRefOf(e.payload);
        if (ref) refs.set(`${ref.name}@${ref.version}#${ref.sha256}`, ref);
        const actor = keyIdOfActor(e.actor);
        if (actor) actors.add(actor);
        const p = (e.payload ?? {}) as Record<string, any>;
        // A model call's event holds the model id the backend reported; run.created holds the alias.
        if (typeof p.model === 'string' && e.type !== 'run.created') reported.add(p.model);
        if (e.type === 'run.created' && !e.sample_id) runCreated = p;
        if (e.type === ERASURE_EVENT && e.sample_id && !erased.has(e.sample_id)) {
          erased.set(e.sample_id, {
            sample_id: e.sample_id,
            event_id: e.event_id,
            by: String(e.actor),
            at: String(e.at),
            reason: typeof p.reason === 'string' ? p.reason : null,
          });
        }
        if (e.type === 'pair.emitted' && e.sample_id) {
          emitted.set(e.sample_id, {
            event_id: e.event_id,
            pair_id: typeof p.pair_id === 'string' ? p.pair_id : null,
            pair_sha256: typeof p.pair_sha256 === 'string' ? p.pair_sha256 : null,
          });
        }
        if (e.type === 'pair.reviewed' && typeof p.review_id === 'string') {
          reviewed.set(p.review_id, { event_id: e.event_id, review_sha256: typeof p.review_sha256 === 'string' ? p.review_sha256 : null });
          if (typeof p.reviewer_key_id === 'string') actors.add(p.reviewer_key_id);
        }
        break;
      }
      case BUNDLE_LINE.manifest:
        counts.manifest++;
        if (value.manifest && typeof value.manifest === 'object') manifest = { line: lineNo, value: value.manifest };
        else fail({ kind: 'manifest', line: lineNo, id: null, message: 'the manifest line holds no manifest' });
        break;
      case BUNDLE_LINE.samples:
        counts.samples++;
        sampleBlobs.set(String(value.sha256), { line: lineNo, entries: value.entries });
        break;
      case BUNDLE_LINE.constitution: {
        counts.constitutions++;
        const id = `${value.name}@${value.version}`;
        let sha: string;
        try {
          const parsed = parseConstitutionYaml(String(value.yaml ?? ''));
          sha = constitutionSha256(parsed);
          if (`${parsed.name}@${parsed.version}` !== id)
            fail({ kind: 'constitution', line: lineNo, id, message: `the YAML on this line is ${parsed.name}@${parsed.version}, not ${id}` });
        } catch (err) {
          fail({
            kind: 'constitution',
            line: lineNo,
            id,
            message: `the YAML of ${id} does not parse as a constitution (${firstLine((err as Error).message)})`,
          });
          break;
        }
        if (sha !== value.sha256)
          fail({ kind: 'constitution', line: lineNo, id, message: `the text of ${id} hashes to ${sha}, not the sha256 ${value.sha256} the line gives` });
        constitutions.set(`${id}#${sha}`, { line: lineNo, sha256: sha });
        break;
      }
      case BUNDLE_LINE.global: {
        counts.global_events++;
        const e = value.event as ChainedEvent;
        if (!e || typeof e !== 'object') {
          fail({ kind: 'global', line: lineNo, id: null, message: 'the line holds no event' });
          break;
        }
        global.add({ ...e, id: e.id ?? `line ${lineNo}` });
        if (e.chain !== GLOBAL_CHAIN)
          fail({ kind: 'global', line: lineNo, id: e.event_id ?? null, message: `event of chain ${e.chain} among the global chain's` });
        lastGlobalAt = typeof e.at === 'string' ? e.at : lastGlobalAt;
        const p = (e.payload ?? {}) as Record<string, any>;
        if (e.type === 'constitution.published' && typeof p.name === 'string') published.set(`${p.name}@${p.version}`, String(p.sha256));
        if ((e.type === 'key.created' || e.type === 'key.revoked') && typeof p.key_id === 'string') {
          const k = keyEvents.get(p.key_id) ?? { created: null, revoked: false };
          if (e.type === 'key.created') k.created = p;
          else k.revoked = true;
          keyEvents.set(p.key_id, k);
        }
        break;
      }
      case BUNDLE_LINE.key:
        counts.keys++;
        if (value.key && typeof value.key.id === 'string') {
          for (const secret of ['hash', 'key', 'prefix'] as const) {
            if (secret in value.key)
              fail({
                kind: 'key',
                line: lineNo,
                id: value.key.id,
                message: `the key directory entry carries a "${secret}": it must name a key, never let anyone use it`,
              });
          }
          keys.set(value.key.id, { line: lineNo, key: value.key });
        } else fail({ kind: 'key', line: lineNo, id: null, message: 'the line holds no key directory entry' });
        break;
      case BUNDLE_LINE.pair: {
        counts.pairs++;
        const record = value.record as PairRecord;
        let sha: string;
        try {
          sha = pairRecordSha256(record);
        } catch (err) {
          fail({ kind: 'pair', line: lineNo, id: value.pair_id ?? null, message: `the pair record cannot be canonicalised (${(err as Error).message})` });
          break;
        }
        const sampleId = String(record?.sample_id ?? value.sample_id);
        pairLines.set(sampleId, { line: lineNo, pair_id: String(record?.id ?? value.pair_id), sha256: sha, record, claimed: value.pair_sha256 });
        break;
      }
      case BUNDLE_LINE.review:
        counts.reviews++;
        if (value.review && typeof value.review.id === 'string') reviewLines.push({ line: lineNo, review: value.review });
        else fail({ kind: 'review', line: lineNo, id: null, message: 'the line holds no review' });
        break;
      default:
        problems.push({ reason: 'inserted', message: `line ${lineNo} is of an unknown kind ${JSON.stringify(kind)}` });
    }
  }
  if (!header || !verifier) throw new Error('not an Amend audit bundle: the file is empty');
  if (!end) problems.push({ reason: 'missing', message: `the bundle has no end line: it is truncated after ${events} event(s) and ${lineNo} line(s)` });
  else {
    if (end.events !== events) {
      problems.push({
        reason: end.events > events ? 'missing' : 'inserted',
        message: `the end line counts ${end.events} event(s) and the bundle holds ${events}`,
      });
    }
    for (const [k, n] of Object.entries(end.counts ?? {})) {
      const held = counts[k as keyof BundleCounts];
      if (held !== undefined && held !== n)
        fail({ kind: 'file', line: null, id: null, message: `the end line counts ${n} ${k.replace('_', ' ')} line(s) and the bundle holds ${held}` });
    }
  }
  for (const { reason, message } of problems) {
    verifier.addProblem({ reason, chain: null, event_id: null, id: null, type: null, seq: null, message });
  }
  const chains = verifier.finish();
  const v2 = header.version >= 2;
  let globalReport: VerifyReport | null = null;
  let latestReviews = new Map<string, PairReview>();

  if (v2) {
    globalReport = global.finish();
    if (!globalReport.ok) {
      const f = globalReport.first_failure!;
      fail({
        kind: 'global',
        line: null,
        id: f.event_id,
        message: `the global chain does not verify: ${f.reason.replace('_', ' ')} at seq ${f.seq}: ${f.message}`,
      });
    }
    checkManifest(manifest, runCreated, counts.manifest, fail);
    if (manifest && runCreated)
      checkPrompts(
        manifest,
        runCreated,
        sampleBlobs,
        erased,
        (i, sampleId) => erasedLines.push({ kind: 'manifest', line: manifest!.line, id: `prompts[${i}]`, sample_id: sampleId }),
        fail,
      );
    // Every constitution version the run's events name: its text is here, hashes to what they name, and was published so.
    for (const [key, ref] of refs) {
      const id = `${ref.name}@${ref.version}`;
      if (!constitutions.has(key))
        fail({ kind: 'constitution', line: null, id, message: `the run used ${id} (sha256 ${ref.sha256}) and no text of it with that hash is in the bundle` });
      const pub = published.get(id);
      if (pub !== undefined && pub !== ref.sha256)
        fail({ kind: 'constitution', line: null, id, message: `the global chain published ${id} with sha256 ${pub}, the run names ${ref.sha256}` });
    }
    checkKeys(actors, keys, keyEvents, lastGlobalAt, fail);
    // Pairs against the events that emitted them, both ways.
    for (const [sampleId, p] of pairLines) {
      const ev = emitted.get(sampleId);
      if (!ev) fail({ kind: 'pair', line: p.line, id: p.pair_id, message: `pair ${p.pair_id} has no pair.emitted event in the run's chains` });
      else if (ev.pair_sha256 !== p.sha256 && erased.has(sampleId)) erasedLines.push({ kind: 'pair', line: p.line, id: p.pair_id, sample_id: sampleId });
      else if (ev.pair_sha256 !== p.sha256) {
        fail({
          kind: 'pair',
          line: p.line,
          id: p.pair_id,
          message: `pair ${p.pair_id} is not the pair its pair.emitted event ${ev.event_id} recorded (sha256 ${p.sha256}, emitted ${ev.pair_sha256})`,
        });
      } else if (p.claimed !== p.sha256)
        fail({
          kind: 'pair',
          line: p.line,
          id: p.pair_id,
          message: `pair ${p.pair_id} hashes to ${p.sha256}, not the pair_sha256 ${String(p.claimed)} its line gives`,
        });
    }
    for (const [sampleId, ev] of emitted) {
      // The export leaves an erased pair out, as every export does.
      if (!pairLines.has(sampleId) && erased.has(sampleId)) erasedLines.push({ kind: 'pair', line: null, id: ev.pair_id, sample_id: sampleId });
      else if (!pairLines.has(sampleId))
        fail({
          kind: 'pair',
          line: null,
          id: ev.pair_id,
          message: `pair ${ev.pair_id ?? '?'} (event ${ev.event_id}, sample ${sampleId}) is not in the bundle`,
        });
    }
    for (const { line, review } of reviewLines) {
      const ev = reviewed.get(review.id);
      if (!ev) fail({ kind: 'review', line, id: review.id, message: `review ${review.id} has no pair.reviewed event in the run's chains` });
      else if (ev.review_sha256 !== null && ev.review_sha256 !== reviewSha256(review) && erased.has(review.sample_id)) {
        erasedLines.push({ kind: 'review', line, id: review.id, sample_id: review.sample_id });
      } else if (ev.review_sha256 !== null && ev.review_sha256 !== reviewSha256(review)) {
        fail({ kind: 'review', line, id: review.id, message: `review ${review.id} is not the review its pair.reviewed event ${ev.event_id} recorded` });
      }
    }
    const held = new Set(reviewLines.map((r) => r.review.id));
    for (const [id, ev] of reviewed)
      if (!held.has(id)) fail({ kind: 'review', line: null, id, message: `review ${id} (event ${ev.event_id}) is not in the bundle` });
    latestReviews = new Map(reviewLines.map((r) => [r.review.pair_id, r.review]));
  }

  const evidenceOk = evidenceTotal === 0;
  const runCreatedModels = [runCreated?.model, runCreated?.feedback_model, manifest?.value.model, manifest?.value.feedback_model].filter(
    (m): m is string => typeof m === 'string',
  );
  const report: BundleReport & { pairs?: Map<string, BundledPair>; erasedPairs?: Map<string, Erasure> } = {
    run_id: header.run_id,
    run_status: header.run_status,
    exported_at: header.exported_at,
    bundle_version: header.version ?? null,
    ...chains,
    ok: chains.ok && evidenceOk,
    chains_ok: chains.ok,
    evidence: { ok: evidenceOk, failures: evidence, failures_total: evidenceTotal },
    global: globalReport,
    erasures: { samples: [...erased.values()], lines: erasedLines },
    facts: {
      constitutions: [...refs.values()],
      models: { aliases: [...new Set(runCreatedModels)], reported: [...reported].sort() },
      samples: Number(runCreated?.samples ?? new Set([...emitted.keys()]).size),
      pairs: pairLines.size,
      reviews: reviewLines.length,
      keys: [...keys.values()].map((k) => k.key),
      event_types: eventTypes,
      mode: typeof runCreated?.mode === 'string' ? runCreated.mode : null,
      seed: typeof manifest?.value.seed === 'number' ? manifest.value.seed : null,
    },
  };
  if (opts.keepPairs) {
    // Pairs the export left out because their sample was erased: a dataset line of one is named as erased.
    report.erasedPairs = new Map(
      [...emitted].filter(([sampleId, ev]) => ev.pair_id && erased.has(sampleId)).map(([sampleId, ev]) => [ev.pair_id!, erased.get(sampleId)!]),
    );
    report.pairs = new Map(
      [...pairLines].map(([sampleId, p]) => {
        const ev = emitted.get(sampleId);
        return [
          p.pair_id,
          {
            record: p.record,
            review: latestReviews.get(p.pair_id) ?? null,
            intact: !!ev && ev.pair_sha256 === p.sha256 && p.claimed === p.sha256,
            erased: erased.get(sampleId) ?? null,
          },
        ];
      }),
    );
  }
  return report;
}

/** The manifest says what run.created recorded: constitution, mode, rounds, models, sampling, prompt count. */
function checkManifest(
  manifest: { line: number; value: Record<string, any> } | null,
  created: Record<string, any> | null,
  lines: number,
  fail: (f: EvidenceFailure) => void,
): void {
  if (lines > 1) fail({ kind: 'manifest', line: null, id: null, message: `${lines} manifest lines; a bundle has one` });
  if (!manifest) return void fail({ kind: 'manifest', line: null, id: null, message: 'the bundle has no manifest' });
  if (!created)
    return void fail({ kind: 'manifest', line: manifest.line, id: null, message: 'the run chain has no run.created event to check the manifest against' });
  const m = manifest.value;
  const c = created.constitution ?? {};
  const expect: [string, unknown, unknown][] = [
    ['constitution', m.constitution, `${c.name}@${c.version}`],
    ['constitution_sha256', m.constitution_sha256, c.sha256],
    ['mode', m.mode, created.mode],
    ['rounds', m.rounds, created.rounds],
    ['model', m.model, created.model],
    ['feedback_model', m.feedback_model ?? null, created.feedback_model ?? null],
    ['sampling', m.sampling, created.sampling],
    ['seed', m.seed, created.seed],
    ['prompts', Array.isArray(m.prompts) ? m.prompts.length : null, created.samples],
  ];
  for (const [field, got, want] of expect) {
    if (want === undefined) continue;
    if (canonicalJson(got ?? null) !== canonicalJson(want ?? null)) {
      fail({
        kind: 'manifest',
        line: manifest.line,
        id: field,
        message: `the manifest's ${field}${field === 'prompts' ? ' (count)' : ''} is ${JSON.stringify(got)}, run.created recorded ${JSON.stringify(want)}`,
      });
    }
  }
}

const hashOrNull = (v: unknown) => (v === null || v === undefined ? null : contentSha256(asStoredJson(v)));

/**
 * The manifest's prompts against the sample commitments `run.created` names (`samples_sha256`:
 * blobs of `[id, idx, sha256 of external_id, of prompt, of messages, of metadata]` per sample, as
 * libs/store sample-commitment.ts writes them): each blob hashes to its name, and prompt i of the
 * manifest is the sample of index i. Runs created before the commitment name none: nothing to check.
 */
function checkPrompts(
  manifest: { line: number; value: Record<string, any> },
  created: Record<string, any>,
  blobs: Map<string, { line: number; entries: unknown }>,
  erased: Map<string, Erasure>,
  erasedPrompt: (index: number, sampleId: string) => void,
  fail: (f: EvidenceFailure) => void,
): void {
  const names: unknown = created.samples_sha256;
  if (!Array.isArray(names)) return;
  const entries: unknown[][] = [];
  for (const name of names) {
    const blob = blobs.get(String(name));
    if (!blob)
      return void fail({
        kind: 'manifest',
        line: null,
        id: String(name),
        message: `the sample commitment ${String(name)} that run.created names is not in the bundle`,
      });
    let sha: string;
    try {
      sha = contentSha256(blob.entries);
    } catch {
      sha = '';
    }
    if (sha !== name || !Array.isArray(blob.entries)) {
      return void fail({
        kind: 'manifest',
        line: blob.line,
        id: String(name),
        message: `the sample commitment on this line does not hash to its name ${String(name)}`,
      });
    }
    entries.push(...(blob.entries as unknown[][]));
  }
  const prompts: unknown[] = Array.isArray(manifest.value.prompts) ? manifest.value.prompts : [];
  const byIndex = new Map(entries.map((e) => [Number(e[1]), e]));
  let named = 0;
  prompts.forEach((item, i) => {
    const entry = byIndex.get(i);
    const p = (typeof item === 'string' ? { prompt: item } : (item ?? {})) as { id?: unknown; prompt?: unknown; messages?: unknown; metadata?: unknown };
    const fields: string[] = [];
    if (!entry) fields.push('the whole prompt (no sample of that index)');
    else {
      if (hashOrNull(p.id) !== entry[2]) fields.push('id');
      // A multi-turn prompt's `prompt` column is derived from its messages: the messages vouch for it.
      if (p.messages === undefined && contentSha256(String(p.prompt ?? '')) !== entry[3]) fields.push('prompt');
      if (hashOrNull(p.messages) !== entry[4]) fields.push('messages');
      if (hashOrNull(p.metadata) !== entry[5]) fields.push('metadata');
    }
    // An erased sample's prompt is gone from the manifest too; its commitment stays.
    if (fields.length && entry && erased.has(String(entry[0]))) return erasedPrompt(i, String(entry[0]));
    if (fields.length && named++ < 20) {
      fail({
        kind: 'manifest',
        line: manifest.line,
        id: `prompts[${i}]`,
        message: `the manifest's prompt ${i} is not the sample run.created committed to: ${fields.join(', ')} differ${fields.length === 1 ? 's' : ''}`,
      });
    }
  });
}

/** Every key that acted is in the directory, and each entry is what the global chain recorded of it. */
function checkKeys(
  actors: Set<string>,
  keys: Map<string, { line: number; key: KeyDirectoryEntry }>,
  events: Map<string, { created: Record<string, any> | null; revoked: boolean }>,
  lastGlobalAt: string | null,
  fail: (f: EvidenceFailure) => void,
): void {
  for (const id of actors) if (!keys.has(id)) fail({ kind: 'key', line: null, id, message: `key ${id} acted in the run and is not in the key directory` });
  for (const [id, { line, key }] of keys) {
    const ev = events.get(id);
    if (!ev?.created) {
      fail({ kind: 'key', line, id, message: `key ${id} has no key.created event in the global chain` });
      continue;
    }
    for (const field of ['name', 'role', 'team'] as const) {
      if ((ev.created[field] ?? null) !== (key[field] ?? null)) {
        fail({
          kind: 'key',
          line,
          id,
          message: `the directory gives key ${id} the ${field} ${JSON.stringify(key[field])}, its key.created event ${JSON.stringify(ev.created[field])}`,
        });
      }
    }
    if (ev.revoked && !key.revoked_at) fail({ kind: 'key', line, id, message: `key ${id} was revoked (key.revoked) and the directory says it is not` });
    // A key revoked after the global chain was read has no event in the bundle yet.
    if (!ev.revoked && key.revoked_at && (lastGlobalAt === null || key.revoked_at <= lastGlobalAt)) {
      fail({ kind: 'key', line, id, message: `the directory says key ${id} was revoked at ${key.revoked_at}; the global chain has no key.revoked for it` });
    }
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
