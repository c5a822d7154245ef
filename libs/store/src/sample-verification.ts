import { sql, type Kysely } from 'kysely';
import { AuditVerifier, checkMessageRefs, type ChainedEvent } from '@amend/audit';
import type { SampleVerification } from '@amend/contracts';
import type { Database } from './schema';
import { SAMPLE_ENTRY_FIELDS, sampleEntry, type SampleEntry } from './sample-commitment';
import { stageDifferences } from './row-verifier';
import { pairRecordSha256 } from './dataset-hash';

const STAGE_EVENTS = new Set(['draft.generated', 'critique.generated', 'revision.generated', 'candidate.generated', 'judgement.made', 'draft.shared']);

/**
 * The cheap check behind the `verified` marker of GET /v1/samples/{id}, `amend sample` and the
 * console's pair page: one sample's chain recomputed (a handful of events), each stage record held
 * to its event and its messages re-hashed against their names, the prompt, conversation and
 * metadata held to the run's commitment, and the pair's record to its `pair.emitted` hash. Answers the marker per stage (by seq) and the sample's
 * status; the whole run is `amend audit verify`'s.
 */
export async function verifySample(
  db: Kysely<Database>,
  sample: { id: string; run_id: string; idx: number; external_id: string | null; prompt: string; messages: unknown; metadata: unknown },
): Promise<{ stages: Map<number, boolean>; verification: SampleVerification }> {
  const [events, records, entry, pairs] = await Promise.all([
    sql<any>`select id, event_id, chain, seq, run_id, sample_id, type, actor, at, payload, prev_hash, hash,
        case when jsonb_typeof(payload->'request'->'messages_sha256') = 'array'
          then amend_messages(array(select jsonb_array_elements_text(payload->'request'->'messages_sha256'))) end as messages,
        case when payload ? 'response_sha256' then (select b.content from content_blobs b where b.sha256 = payload->>'response_sha256') end as response
      from audit_events where chain = ${`sample:${sample.id}`} order by id`.execute(db),
    sql<any>`select seq, stage, round, principle_id, message_refs, text, model, prompt_tokens, completion_tokens, latency_ms, simulated, judgement, finish_reason,
        coalesce(messages, amend_messages(message_refs)) as expanded, messages is not null as legacy
      from stage_records where sample_id = ${sample.id} order by seq`.execute(db),
    committedEntry(db, sample.run_id, sample.id),
    db.selectFrom('pairs').select(['id', 'record']).where('sample_id', '=', sample.id).execute(),
  ]);
  const verifier = new AuditVerifier();
  for (const r of events.rows) verifier.add({ ...r, id: String(r.id), at: new Date(r.at).toISOString(), response: r.response ?? undefined } as ChainedEvent);
  const chain = verifier.finish();
  const erasure = chain.erased?.[0] ?? null;
  const altered: string[] = chain.ok ? [] : [`chain sample:${sample.id}: ${chain.first_failure?.message ?? 'broken'}`];

  const bySeq = new Map<number, any>();
  for (const e of events.rows) if (STAGE_EVENTS.has(e.type) && typeof e.payload?.seq === 'number' && !bySeq.has(e.payload.seq)) bySeq.set(e.payload.seq, e);
  const stages = new Map<number, boolean>();
  for (const r of records.rows) {
    const e = bySeq.get(r.seq);
    const diffs = e ? stageDifferences(r, e.payload).map((d) => d.field) : ['*'];
    if (e && r.message_refs && !r.legacy && checkMessageRefs(r.message_refs, r.expanded)) diffs.push('messages');
    // An erased stage's blank text and gone blobs are the erasure's, not an alteration.
    const own = erasure ? diffs.filter((d) => d !== 'text' && d !== 'messages') : diffs;
    for (const d of own) altered.push(`stage_records.${r.seq}.${d}`);
    stages.set(r.seq, chain.ok && !erasure && diffs.length === 0);
  }
  if (entry) {
    const now = sampleEntry({ ...sample });
    if (now[1] !== entry[1]) altered.push('samples.idx');
    SAMPLE_ENTRY_FIELDS.forEach((field, i) => {
      if (now[i + 2] === entry[i + 2]) return;
      if (erasure && field !== 'external_id') return;
      altered.push(`samples.${field}`);
    });
  }
  // The pair page shows the pair's record: it must be the one pair.emitted named.
  const emitted = events.rows.find((e: any) => e.type === 'pair.emitted');
  for (const p of pairs) {
    const sha = emitted?.payload?.pair_sha256;
    if (typeof sha !== 'string' || pairRecordSha256(p.record) === sha) continue;
    if (!(erasure && (p.record as { erased?: unknown }).erased === true)) altered.push('pairs.record');
  }
  const status = altered.length > 0 ? 'altered' : erasure ? 'erased' : 'verified';
  return {
    stages,
    verification: { status, erasure: erasure && { event_id: erasure.event_id, by: erasure.by, at: erasure.at, reason: erasure.reason }, altered },
  };
}

/** The sample's entry in the commitment blobs its run's `run.created` names, found inside Postgres. */
async function committedEntry(db: Kysely<Database>, runId: string, sampleId: string): Promise<SampleEntry | undefined> {
  const r = await sql<{ entry: SampleEntry }>`
    select x.entry from audit_events e
      cross join lateral jsonb_array_elements_text(case when jsonb_typeof(e.payload->'samples_sha256') = 'array' then e.payload->'samples_sha256' else '[]'::jsonb end) as n(name)
      join content_blobs b on b.sha256 = n.name
      cross join lateral jsonb_array_elements(b.content) as x(entry)
    where e.chain = ${`run:${runId}`} and e.type = 'run.created' and x.entry->>0 = ${sampleId}
    limit 1`.execute(db);
  return r.rows[0]?.entry;
}
