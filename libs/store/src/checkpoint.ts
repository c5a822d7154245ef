import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { linkEvents, messageRefs, type ContentBlob, type MessageRefs } from '@amend/audit';
import type { PairQuality, PairRecord, StageRecord } from '@amend/contracts';
import type { AuditEventInput } from './audit-events';
import { GroupQueue } from './group-queue';

export type CheckpointOutcome = 'saved' | 'completed' | 'duplicate' | 'stopped';

/**
 * What a checkpoint did: with `saved`, `completed` (the pair went in) and `stopped` (saved, but the
 * sample was no longer running), the sample chain's head after its events, for the next checkpoint
 * of the same sample; a `duplicate` wrote nothing.
 */
export type CheckpointResult = { outcome: 'saved' | 'completed' | 'stopped'; head: SampleChainHead } | { outcome: 'duplicate' };

export type CheckpointEvent = Omit<AuditEventInput, 'run_id' | 'sample_id'>;

/** Head of a sample's audit chain: seq of its last event (-1 when empty) and that event's hash. */
export interface SampleChainHead {
  seq: number;
  hash: string;
}

/** One stage's output to save: what `SamplesRepository.checkpoint` takes (and batch mode calls). */
export interface CheckpointInput {
  sampleId: string;
  runId: string;
  idx: number;
  record: StageRecord;
  /** The sample's stage once this one is saved, as its caller planned it: `done` with the pair. */
  nextStage: string;
  event: CheckpointEvent;
  /** `quality`: what the report needs of the pair (PairQuality), stored with it so no report reads the texts again. */
  pair?: { record: PairRecord; event: CheckpointEvent; quality?: PairQuality };
  /** What the call cost at the run's prices, and whether the run has a budget to count it against. */
  spend?: { costUsd: number; budgeted: boolean };
  /**
   * The sample chain's head as the caller last saw it (from the claim, then from its own
   * checkpoints' results): with it the checkpoint joins a group commit guarded by that head,
   * falling back to the locking transaction when the head moved or the sample is no longer running.
   */
  head?: SampleChainHead;
  /**
   * The names and blobs of `record.messages` (the caller's, with the constitution's few-shot
   * prefix as one segment); computed here, one blob per message, when absent.
   */
  content?: MessageRefs;
}

/** The content of a checkpoint's messages: what the caller gave, else one blob per message. */
export function contentOf(input: CheckpointInput): MessageRefs {
  return (input.content ??= messageRefs(input.record.messages));
}

/** Blob names this process has seen committed: they are not sent again. Blobs are never deleted. */
export class KnownBlobs {
  private readonly known = new Set<string>();
  static readonly MAX = 200_000;

  /** The blobs of these checkpoints not known to be stored, each once, sorted by name (one lock order for every writer). */
  unknown(inputs: CheckpointInput[]): ContentBlob[] {
    const out = new Map<string, ContentBlob>();
    for (const input of inputs) for (const b of contentOf(input).blobs) if (!this.known.has(b.sha256)) out.set(b.sha256, b);
    return [...out.values()].sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0));
  }

  committed(blobs: ContentBlob[]): void {
    if (this.known.size + blobs.length > KnownBlobs.MAX) this.known.clear();
    for (const b of blobs) this.known.add(b.sha256);
  }
}

/**
 * The columns of one group commit, each sent as one array parameter and read back with `unnest`,
 * so the statement's text is the same for any number of checkpoints and is prepared once per
 * connection (a named statement). `cast` is the element type; jsonb travels as text.
 */
interface Column<T> {
  name: string;
  cast: string;
  value: (row: T) => unknown;
}

interface SampleRow {
  input: CheckpointInput;
  newSeq: number;
  newHash: string;
}
interface EventRow {
  sampleId: string;
  runId: string;
  event_id: string;
  seq: number;
  type: string;
  actor: string;
  at: string;
  payload: string;
  prev_hash: string;
  hash: string;
}

const SAMPLE_COLUMNS: Column<SampleRow>[] = [
  { name: 'id', cast: 'uuid', value: (r) => r.input.sampleId },
  { name: 'run_id', cast: 'uuid', value: (r) => r.input.runId },
  { name: 'expect_seq', cast: 'int', value: (r) => r.input.head!.seq },
  { name: 'expect_hash', cast: 'text', value: (r) => r.input.head!.hash },
  { name: 'new_seq', cast: 'int', value: (r) => r.newSeq },
  { name: 'new_hash', cast: 'text', value: (r) => r.newHash },
  { name: 'next_stage', cast: 'text', value: (r) => r.input.nextStage },
  { name: 'next_status', cast: 'text', value: (r) => (r.input.pair ? 'completed' : 'running') },
  { name: 'cost_usd', cast: 'numeric', value: (r) => r.input.spend?.costUsd ?? 0 },
  { name: 'budgeted', cast: 'boolean', value: (r) => !!r.input.spend?.budgeted },
  // The stage record (one per checkpoint).
  { name: 'seq', cast: 'int', value: (r) => r.input.record.seq },
  { name: 'stage', cast: 'text', value: (r) => r.input.record.stage },
  { name: 'round', cast: 'int', value: (r) => r.input.record.round },
  { name: 'principle_id', cast: 'text', value: (r) => r.input.record.principle_id },
  // An array per row cannot be an element of an array parameter: the names joined by commas.
  { name: 'message_refs', cast: 'text', value: (r) => contentOf(r.input).refs.join(',') },
  { name: 'text', cast: 'text', value: (r) => r.input.record.text },
  { name: 'model', cast: 'text', value: (r) => r.input.record.model },
  { name: 'prompt_tokens', cast: 'int', value: (r) => r.input.record.usage.prompt_tokens },
  { name: 'completion_tokens', cast: 'int', value: (r) => r.input.record.usage.completion_tokens },
  { name: 'latency_ms', cast: 'int', value: (r) => Math.round(r.input.record.latency_ms) },
  { name: 'simulated', cast: 'boolean', value: (r) => r.input.record.simulated },
  { name: 'judgement', cast: 'jsonb', value: (r) => (r.input.record.judgement ? JSON.stringify(r.input.record.judgement) : null) },
  { name: 'finish_reason', cast: 'text', value: (r) => r.input.record.finish_reason ?? null },
];

const EVENT_COLUMNS: Column<EventRow>[] = [
  { name: 'sample_id', cast: 'uuid', value: (e) => e.sampleId },
  { name: 'run_id', cast: 'uuid', value: (e) => e.runId },
  { name: 'event_id', cast: 'uuid', value: (e) => e.event_id },
  { name: 'seq', cast: 'int', value: (e) => e.seq },
  { name: 'type', cast: 'text', value: (e) => e.type },
  { name: 'actor', cast: 'text', value: (e) => e.actor },
  { name: 'at', cast: 'timestamptz', value: (e) => e.at },
  { name: 'payload', cast: 'jsonb', value: (e) => e.payload },
  { name: 'prev_hash', cast: 'text', value: (e) => e.prev_hash },
  { name: 'hash', cast: 'text', value: (e) => e.hash },
];

const BLOB_COLUMNS: Column<ContentBlob>[] = [
  { name: 'sha256', cast: 'text', value: (b) => b.sha256 },
  { name: 'content', cast: 'jsonb', value: (b) => b.json },
];

type PairRow = CheckpointInput & { pair: NonNullable<CheckpointInput['pair']> };
const PAIR_COLUMNS: Column<PairRow>[] = [
  { name: 'id', cast: 'uuid', value: (p) => p.pair.record.id },
  { name: 'run_id', cast: 'uuid', value: (p) => p.runId },
  { name: 'sample_id', cast: 'uuid', value: (p) => p.sampleId },
  { name: 'idx', cast: 'int', value: (p) => p.idx },
  { name: 'record', cast: 'jsonb', value: (p) => JSON.stringify(p.pair.record) },
  // An array per pair cannot be an element of an array parameter (unnest would flatten it): as JSON.
  { name: 'flags', cast: 'jsonb', value: (p) => JSON.stringify(p.pair.record.metadata.flags ?? []) },
  { name: 'quality', cast: 'jsonb', value: (p) => (p.pair.quality ? JSON.stringify(p.pair.quality) : null) },
];

/** `unnest($n::type[], ...) as alias(columns)`, numbering parameters from `next.n`. */
function unnest<T>(columns: Column<T>[], alias: string, next: { n: number }): string {
  const args = columns.map((c) => `$${next.n++}::${c.cast === 'jsonb' ? 'text' : c.cast}[]`).join(', ');
  return `unnest(${args}) as ${alias}(${columns.map((c) => c.name).join(', ')})`;
}
function col<T>(columns: Column<T>[], alias: string, name: string): string {
  const c = columns.find((x) => x.name === name)!;
  return c.cast === 'jsonb' ? `${alias}.${name}::jsonb` : `${alias}.${name}`;
}

/**
 * The group commit, one statement (its own transaction): every sample row is updated only while it
 * is `running` and its chain head is still the one its caller holds; the stage records, audit
 * events and pairs are inserted only for the rows that matched, and the run's spend grows by what
 * the matched ones cost. The row lock the update takes is the chain lock; the guard on the head
 * makes it optimistic, and the unique keys (stage_records (sample_id, seq), audit_events
 * (chain, seq), pairs) make a conflict fail the whole statement rather than commit half of it.
 * Returns the ids of the samples that matched.
 */
export const GROUP_CHECKPOINT_SQL = (() => {
  const next = { n: 1 };
  const s = (n: string) => col(SAMPLE_COLUMNS, 'i', n);
  const e = (n: string) => col(EVENT_COLUMNS, 'e', n);
  const p = (n: string) => col(PAIR_COLUMNS, 'p', n);
  const text = `with i as (
  select * from ${unnest(SAMPLE_COLUMNS, 'i', next)}
), s as (
  update samples set calls = samples.calls + 1, prompt_tokens = samples.prompt_tokens + i.prompt_tokens,
    completion_tokens = samples.completion_tokens + i.completion_tokens, cost_usd = samples.cost_usd + i.cost_usd,
    stage = i.next_stage, status = i.next_status, audit_seq = i.new_seq, audit_hash = i.new_hash, updated_at = now()
  from i
  where samples.id = i.id and samples.status = 'running' and samples.audit_seq = i.expect_seq and samples.audit_hash = i.expect_hash
  returning samples.id
), st as (
  insert into stage_records (sample_id, seq, stage, round, principle_id, message_refs, text, model, prompt_tokens, completion_tokens, latency_ms, simulated, judgement, finish_reason)
  select i.id, ${s('seq')}, ${s('stage')}, ${s('round')}, ${s('principle_id')}, string_to_array(i.message_refs, ','), ${s('text')}, ${s('model')}, ${s('prompt_tokens')},
    ${s('completion_tokens')}, ${s('latency_ms')}, ${s('simulated')}, ${s('judgement')}, ${s('finish_reason')}
  from i join s on s.id = i.id
), ev as (
  insert into audit_events (event_id, seq, type, actor, at, payload, prev_hash, hash, chain, run_id, sample_id)
  select ${e('event_id')}, ${e('seq')}, ${e('type')}, ${e('actor')}, ${e('at')}, ${e('payload')}, ${e('prev_hash')}, ${e('hash')},
    'sample:' || e.sample_id, ${e('run_id')}, ${e('sample_id')}
  from ${unnest(EVENT_COLUMNS, 'e', next)} join s on s.id = e.sample_id
), p as (
  insert into pairs (id, run_id, sample_id, idx, record, flags, quality)
  select ${p('id')}, ${p('run_id')}, ${p('sample_id')}, ${p('idx')}, ${p('record')},
    array(select jsonb_array_elements_text(${p('flags')})), ${p('quality')}
  from ${unnest(PAIR_COLUMNS, 'p', next)} join s on s.id = p.sample_id
), b as (
  insert into content_blobs (sha256, content)
  select ${col(BLOB_COLUMNS, 'b', 'sha256')}, ${col(BLOB_COLUMNS, 'b', 'content')} from ${unnest(BLOB_COLUMNS, 'b', next)} order by 1
  on conflict do nothing
), r as (
  update runs set spent_tokens = runs.spent_tokens + t.tokens, spent_cost_usd = runs.spent_cost_usd + t.cost
  from (select i.run_id, sum(i.prompt_tokens + i.completion_tokens) as tokens, sum(i.cost_usd) as cost
        from i join s on s.id = i.id where i.budgeted group by i.run_id) t
  where runs.id = t.run_id
)
select id from s`;
  return text;
})();

/** Named, so each connection parses and plans it once; the version changes with its text. */
export const GROUP_CHECKPOINT_NAME = 'amend_group_checkpoint_4';

/** The statement's parameters for these checkpoints: one array per column. */
export function groupCheckpointParams(
  inputs: CheckpointInput[],
  blobs: ContentBlob[],
  at = new Date().toISOString(),
): { values: unknown[]; rows: SampleRow[] } {
  const rows: SampleRow[] = [];
  const events: EventRow[] = [];
  for (const input of inputs) {
    const chain = `sample:${input.sampleId}`;
    const list = [input.event, ...(input.pair ? [input.pair.event] : [])];
    const payloads = list.map((ev) => JSON.stringify(ev.payload ?? null));
    const linked = linkEvents(
      input.head!,
      list.map((ev, k) => ({
        event_id: randomUUID(),
        chain,
        run_id: input.runId,
        sample_id: input.sampleId,
        type: ev.type,
        actor: ev.actor,
        at,
        // What is hashed is what the column will read back: JSON.parse(JSON.stringify(x)).
        payload: JSON.parse(payloads[k]) as unknown,
      })),
    );
    linked.forEach((l, k) =>
      events.push({
        sampleId: input.sampleId,
        runId: input.runId,
        event_id: l.event_id,
        seq: l.seq,
        type: l.type,
        actor: l.actor,
        at,
        payload: payloads[k],
        prev_hash: l.prev_hash,
        hash: l.hash,
      }),
    );
    const last = linked[linked.length - 1];
    rows.push({ input, newSeq: last.seq, newHash: last.hash });
  }
  const pairs = inputs.filter((x): x is PairRow => !!x.pair);
  const values = [
    ...SAMPLE_COLUMNS.map((c) => rows.map(c.value)),
    ...EVENT_COLUMNS.map((c) => events.map(c.value)),
    ...PAIR_COLUMNS.map((c) => pairs.map(c.value)),
    ...BLOB_COLUMNS.map((c) => blobs.map(c.value)),
  ];
  return { values, rows };
}

/**
 * Group commit (GroupQueue): checkpoints that arrive while a commit is in flight go together as
 * the next statement, one per sample. Each resolves only after the commit that holds it: `saved`
 * or `completed` with the new head, or undefined when its guard did not match or a unique key
 * refused the group (nothing of it was written), and the caller takes the locking path.
 */
export class CheckpointBatcher {
  private readonly group: GroupQueue<CheckpointInput, CheckpointResult | undefined>;
  /** The most checkpoints in one statement, so one commit stays bounded. */
  static readonly MAX_BATCH = 512;

  constructor(
    private readonly pool: Pool,
    private readonly blobs: KnownBlobs,
  ) {
    this.group = new GroupQueue(
      (inputs) => this.write(inputs),
      (input) => input.sampleId,
      CheckpointBatcher.MAX_BATCH,
    );
  }

  /** Checkpoints submitted and statements sent, for tests and metrics. */
  get stats(): { checkpoints: number; statements: number } {
    return { checkpoints: this.group.stats.items, statements: this.group.stats.statements };
  }

  submit(input: CheckpointInput): Promise<CheckpointResult | undefined> {
    return this.group.submit(input);
  }

  private async write(inputs: CheckpointInput[]): Promise<(CheckpointResult | undefined)[]> {
    const blobs = this.blobs.unknown(inputs);
    const { values, rows } = groupCheckpointParams(inputs, blobs);
    let matched: Set<string>;
    try {
      const r = await this.pool.query<{ id: string }>({ name: GROUP_CHECKPOINT_NAME, text: GROUP_CHECKPOINT_SQL, values });
      matched = new Set(r.rows.map((x) => x.id));
    } catch (e: any) {
      // A unique key refused one of them (someone else wrote first) or two groups from different
      // processes locked rows in opposite orders: the statement was its own transaction, nothing of
      // it committed, and each checkpoint takes the locking path on its own.
      if (e?.code === '23505' || e?.code === '40P01') return inputs.map(() => undefined);
      throw e;
    }
    // The blobs went in whether or not their sample's guard matched.
    this.blobs.committed(blobs);
    return inputs.map((input, k) =>
      matched.has(input.sampleId) ? { outcome: input.pair ? 'completed' : 'saved', head: { seq: rows[k].newSeq, hash: rows[k].newHash } } : undefined,
    );
  }
}
