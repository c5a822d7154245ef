import { createHash } from 'node:crypto';
import { asStoredJson, contentSha256, type ContentBlob } from '@amend/audit';

/**
 * What a run's `run.created` event commits to of its samples, so that the prompt a read path
 * serves (GET /v1/samples/{id}, `amend sample`, the pair page, the manifest) is vouched for by
 * the trail, not only by the row. Each chunk of samples stored in one statement becomes one
 * content blob: a JSON array with one entry per sample, `[id, idx, external_id, prompt,
 * messages, metadata]`, each value but the id and index as the sha256 of its canonical JSON as
 * stored (null when absent). The event names the blobs (`samples_sha256`), so the entries are
 * covered by the chain; a field hash names the field that changed; and the blob holds hashes
 * only, so erasing a prompt leaves it whole.
 */
export type SampleEntry = [id: string, idx: number, external_id: string | null, prompt: string, messages: string | null, metadata: string | null];

export interface CommittedSample {
  id: string;
  idx: number;
  external_id: string | null;
  prompt: string;
  messages?: unknown;
  metadata?: unknown;
}

const hashOrNull = (v: unknown) => (v === null || v === undefined ? null : contentSha256(asStoredJson(v)));

export function sampleEntry(s: CommittedSample): SampleEntry {
  return [s.id, s.idx, hashOrNull(s.external_id), contentSha256(s.prompt), hashOrNull(s.messages), hashOrNull(s.metadata)];
}

/** The blob of one chunk's entries: canonical JSON of the array, named by its sha256. */
export function sampleCommitmentBlob(entries: SampleEntry[]): ContentBlob {
  // Entries are arrays of strings, integers and nulls: JSON.stringify writes them as RFC 8785 does.
  const json = JSON.stringify(entries);
  return { sha256: createHash('sha256').update(json, 'utf8').digest('hex'), json };
}

/** The fields of a sample entry, in entry order from index 2, with the column each hashes. */
export const SAMPLE_ENTRY_FIELDS = ['external_id', 'prompt', 'messages', 'metadata'] as const;
