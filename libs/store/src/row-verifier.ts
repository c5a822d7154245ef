import { sql, type Kysely } from 'kysely';
import { ERASURE_EVENT, asStoredJson, canonicalJson, messageBlob, responseBlob, segmentBlob, textSha256, type ContentMessage } from '@amend/audit';
import { constitutionSha256, type Constitution } from '@amend/constitution';
import { constitutionLabel, draftOfVersion } from '@amend/contracts';
import type { Database } from './schema';
import { SAMPLE_ENTRY_FIELDS, sampleEntry, type SampleEntry } from './sample-commitment';

/** What `key.created` records of a key, and of its limits: each must still be what the key row says. */
const KEY_FIELDS = ['prefix', 'role', 'team', 'name'] as const;
const KEY_LIMIT_FIELDS = ['requests_per_minute', 'concurrent_runs', 'prompts_per_run'] as const;

/**
 * The rows a read path serves, held to the trail (docs/audit.md "What verify covers"). The chains
 * prove the events were not altered; this proves that what GET /v1/samples/{id}, `amend sample`,
 * the console's pair page, the run and manifest routes and the key directory show is what the
 * events committed to: each stage record against the event of its model call, each message blob
 * re-hashed against its name, each sample against the `samples_sha256` blobs of `run.created`,
 * the run row against `run.created`, the constitution version against its sha256, the run's
 * evaluation report against `evaluation.judged`, and every key that acted against its
 * `key.created` (and `key.revoked`) event. Pairs and reviews are dataset-verifier.ts's.
 *
 * A row of an erased sample (an `erasure` event in its chain) whose content is blank is `erased`,
 * with who, when and why, not altered. Pages through the run, so memory grows with one page and the
 * run's distinct blob names, not with its texts.
 */
export interface RowFailure {
  reason: 'altered' | 'missing';
  table: 'runs' | 'samples' | 'stage_records' | 'content_blobs' | 'constitutions' | 'evaluations' | 'api_keys';
  /** The row: its primary key as text (`<sample id>:<seq>` for a stage record, `name@version` for a constitution). */
  key: string;
  field: string;
  /** What the trail says the field should be: the value itself where the event holds it, else its sha256. */
  expected: string | null;
  /** What the row holds, in the same form. */
  found: string | null;
  /** The routes and commands that serve the field. */
  read_paths: string[];
  /** The event that commits to the field. */
  event_id: string | null;
  message: string;
}

/** A row whose content an erasure removed. */
export interface ErasedRow {
  table: RowFailure['table'] | 'pairs' | 'pair_reviews';
  key: string;
  sample_id: string;
  /** The `erasure` event: who, when, why. */
  event_id: string;
  by: string;
  at: string;
  reason: string | null;
}

export interface RowsReport {
  ok: boolean;
  checked: { runs: number; samples: number; stage_records: number; content_blobs: number; constitutions: number; evaluations: number; api_keys: number };
  failures: RowFailure[];
  failures_total: number;
  /** Samples erased, one entry per sample (at most 100); their blank rows are counted in `erased_rows`. */
  erased: ErasedRow[];
  erased_samples: number;
  erased_rows: number;
}

/** Which read paths serve each table's content (named in failures so an auditor knows what showed it). */
export const READ_PATHS = {
  runs: ['GET /v1/runs/{id}', 'GET /v1/runs/{id}/manifest', 'amend status', 'console run page'],
  samples: ['GET /v1/samples/{id}', 'GET /v1/runs/{id}/manifest', 'amend sample', 'console pair page'],
  stage_records: ['GET /v1/samples/{id}', 'amend sample', 'console pair page'],
  content_blobs: ['GET /v1/samples/{id}', 'GET /v1/runs/{id}/audit', 'GET /v1/samples/{id}/audit', 'amend sample', 'console pair page', 'console audit page'],
  constitutions: ['GET /v1/constitutions/{name}/versions/{version}', 'amend constitution show', 'console constitution page'],
  evaluations: ['GET /v1/evaluations/{id}', 'amend eval status', 'console evaluation page'],
  api_keys: ['GET /v1/keys', 'GET /v1/me'],
} as const satisfies Record<RowFailure['table'], readonly string[]>;

const MAX = 100;
const PAGE = 500;
const BLOB_PAGE = 1_000;
const STAGE_EVENTS = ['draft.generated', 'critique.generated', 'revision.generated', 'candidate.generated', 'judgement.made', 'draft.shared'];

interface Erasure {
  event_id: string;
  by: string;
  at: string;
  reason: string | null;
}

class Findings {
  readonly failures: RowFailure[] = [];
  total = 0;
  readonly erased: ErasedRow[] = [];
  erasedRows = 0;

  fail(f: Omit<RowFailure, 'read_paths' | 'reason'> & { reason?: RowFailure['reason'] }): void {
    this.total++;
    if (this.failures.length < MAX) this.failures.push({ reason: 'altered', ...f, read_paths: [...READ_PATHS[f.table]] });
  }

  erasedRow(table: ErasedRow['table'], key: string, sampleId: string, e: Erasure): void {
    this.erasedRows++;
    if (this.erased.length < MAX && !this.erased.some((x) => x.sample_id === sampleId)) this.erased.push({ table, key, sample_id: sampleId, ...e });
  }
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'string' ? v : canonicalJson(asStoredJson(v)));

/** Erasures of a run's samples, by sample id: the first `erasure` event of each sample chain. */
export async function erasuresOf(db: Kysely<Database>, runId: string): Promise<Map<string, Erasure>> {
  const rows = (
    await sql<{ sample_id: string; event_id: string; actor: string; at: Date; reason: string | null }>`
      select sample_id, event_id, actor, at, payload->>'reason' as reason from audit_events
      where type = ${ERASURE_EVENT} and run_id = ${runId} and sample_id is not null order by id`.execute(db)
  ).rows;
  const out = new Map<string, Erasure>();
  for (const r of rows)
    if (!out.has(r.sample_id)) out.set(r.sample_id, { event_id: r.event_id, by: r.actor, at: new Date(r.at).toISOString(), reason: r.reason });
  return out;
}

export async function verifyRows(db: Kysely<Database>, runId: string): Promise<RowsReport> {
  const f = new Findings();
  const checked = { runs: 0, samples: 0, stage_records: 0, content_blobs: 0, constitutions: 0, evaluations: 0, api_keys: 0 };
  const erasures = await erasuresOf(db, runId);

  const created = (
    await sql<{ event_id: string; payload: any }>`
      select event_id, payload from audit_events where chain = ${'run:' + runId} and type = 'run.created' order by seq limit 1`.execute(db)
  ).rows[0];
  const run = await db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst();
  if (run) {
    checked.runs++;
    if (!created)
      f.fail({
        reason: 'missing',
        table: 'runs',
        key: runId,
        field: '*',
        expected: null,
        found: null,
        event_id: null,
        message: `run ${runId} has no run.created event`,
      });
    else checkRun(f, run, created);
    await checkConstitution(db, f, checked, run, created);
  }

  const entries = await sampleEntries(db, f, runId, created);
  const blobs = new Map<string, { sample: string; live: boolean }>();
  const responses = new Map<string, { sample: string; live: boolean }>();
  let after = -1;
  for (;;) {
    const samples = await db
      .selectFrom('samples')
      .select(['id', 'idx', 'external_id', 'prompt', 'messages', 'metadata'])
      .where('run_id', '=', runId)
      .where('idx', '>', after)
      .orderBy('idx')
      .limit(PAGE)
      .execute();
    if (samples.length === 0) break;
    after = samples[samples.length - 1].idx;
    const ids = samples.map((s) => s.id);
    for (const s of samples) {
      checked.samples++;
      checkSample(f, s, entries, erasures.get(s.id), created?.event_id ?? null);
    }
    const [records, events] = await Promise.all([
      db.selectFrom('stage_records').selectAll().where('sample_id', 'in', ids).orderBy('sample_id').orderBy('seq').execute(),
      sql<{ sample_id: string; event_id: string; type: string; payload: any }>`
        select sample_id, event_id, type, payload - 'response' as payload from audit_events
        where chain = any(${ids.map((id) => `sample:${id}`)}::text[]) and type = any(${STAGE_EVENTS}::text[]) order by id`.execute(db),
    ]);
    const byKey = new Map<string, { event_id: string; type: string; payload: any }>();
    for (const e of events.rows) {
      const k = `${e.sample_id}:${e.payload?.seq}`;
      if (!byKey.has(k)) byKey.set(k, e);
      const body = e.payload?.response_sha256;
      if (typeof body === 'string') {
        const seen = responses.get(body);
        const live = !erasures.has(e.sample_id);
        if (!seen) responses.set(body, { sample: e.sample_id, live });
        else if (live) seen.live = true;
      }
    }
    for (const r of records) {
      checked.stage_records++;
      const key = `${r.sample_id}:${r.seq}`;
      const erasure = erasures.get(r.sample_id);
      checkStage(f, r, byKey.get(key), erasure);
      byKey.delete(key);
      for (const ref of r.message_refs ?? []) {
        const seen = blobs.get(ref);
        if (!seen) blobs.set(ref, { sample: r.sample_id, live: !erasure });
        else if (!erasure) seen.live = true;
      }
    }
    for (const [key, e] of byKey) {
      f.fail({
        reason: 'missing',
        table: 'stage_records',
        key,
        field: '*',
        expected: e.type,
        found: null,
        event_id: e.event_id,
        message: `the ${e.type} event ${e.event_id} has no stage record ${key} (deleted?)`,
      });
    }
    if (samples.length < PAGE) break;
  }
  const missingSamples = entries.size - checked.samples;
  if (created && missingSamples > 0) {
    const present = new Set((await db.selectFrom('samples').select('id').where('run_id', '=', runId).execute()).map((s) => s.id));
    for (const id of entries.keys()) {
      if (!present.has(id))
        f.fail({
          reason: 'missing',
          table: 'samples',
          key: id,
          field: '*',
          expected: id,
          found: null,
          event_id: created.event_id,
          message: `sample ${id} that run.created committed to is not in samples (deleted?)`,
        });
    }
  }

  await checkBlobs(db, f, checked, blobs, erasures, 'message');
  await checkBlobs(db, f, checked, responses, erasures, 'response');
  await checkEvaluation(db, f, checked, runId);
  await checkKeys(db, f, checked, runId);

  return {
    ok: f.total === 0,
    checked,
    failures: f.failures,
    failures_total: f.total,
    erased: [...erasures].slice(0, MAX).map(([sample_id, e]) => ({ table: 'samples' as const, key: sample_id, sample_id, ...e })),
    erased_samples: erasures.size,
    erased_rows: f.erasedRows,
  };
}

/** Settings `run.created` records, by column; a key the event does not hold (older events) is not compared. */
function checkRun(f: Findings, run: any, created: { event_id: string; payload: any }): void {
  const p = created.payload ?? {};
  const compare = (field: string, expected: unknown, found: unknown) => {
    if (expected === undefined) return;
    const e = text(expected);
    const got = text(found);
    if (e !== got)
      f.fail({
        table: 'runs',
        key: run.id,
        field,
        expected: e,
        found: got,
        event_id: created.event_id,
        message: `run ${run.id}: ${field} is ${got} where run.created recorded ${e}`,
      });
  };
  compare('constitution_name', p.constitution?.name, run.constitution_name);
  compare('constitution_version', p.constitution?.version, run.constitution_version);
  compare('constitution_sha256', p.constitution?.sha256, run.constitution_sha256);
  for (const c of [
    'mode',
    'rounds',
    'model',
    'feedback_model',
    'sampling',
    'principles',
    'feedback',
    'preview',
    'budget',
    'prices',
    'idempotency_key',
    'evaluation',
    'seed',
    'team',
  ]) {
    compare(c, p[c], run[c]);
  }
  if (p.samples !== undefined) compare('total', p.samples, run.total);
  // `batch` is in the event only when true.
  if (p.constitution !== undefined) compare('batch', p.batch === true, run.batch);
}

async function checkConstitution(
  db: Kysely<Database>,
  f: Findings,
  checked: RowsReport['checked'],
  run: any,
  created?: { event_id: string; payload: any },
): Promise<void> {
  // A run of a draft (version `#draft`) used the content pinned under its sha256 (migration 0017).
  const draft = draftOfVersion(run.constitution_version) !== undefined;
  const row = draft
    ? await db.selectFrom('constitution_pins').select(['name', 'sha256', 'content']).where('sha256', '=', run.constitution_sha256).executeTakeFirst()
    : await db
        .selectFrom('constitutions')
        .select(['name', 'version', 'sha256', 'content'])
        .where('name', '=', run.constitution_name)
        .where('version', '=', run.constitution_version)
        .executeTakeFirst();
  const key = constitutionLabel({ name: run.constitution_name, version: run.constitution_version });
  const expected: string = created?.payload?.constitution?.sha256 ?? run.constitution_sha256;
  const base = { table: 'constitutions' as const, key, event_id: created?.event_id ?? null };
  if (!row)
    return f.fail({
      ...base,
      reason: 'missing',
      field: '*',
      expected,
      found: null,
      message: draft
        ? `the content of draft ${key} the run used (sha256 ${run.constitution_sha256}) is not in constitution_pins (deleted?)`
        : `constitution ${key} of the run is not in constitutions (deleted?)`,
    });
  checked.constitutions++;
  let found: string;
  try {
    found = constitutionSha256(row.content as Constitution);
  } catch (err) {
    found = `unreadable (${(err as Error).message.split('\n')[0]})`;
  }
  if (found !== expected)
    f.fail({
      ...base,
      field: 'content',
      expected,
      found,
      message: `constitution ${key}: its content hashes to ${found}, the run was created with ${expected}`,
    });
  if (row.sha256 !== expected)
    f.fail({
      ...base,
      field: 'sha256',
      expected,
      found: row.sha256,
      message: `constitution ${key}: its sha256 column says ${row.sha256}, the run was created with ${expected}`,
    });
}

/** The committed entries of every sample of the run, by id, read from the blobs `run.created` names. */
async function sampleEntries(
  db: Kysely<Database>,
  f: Findings,
  runId: string,
  created?: { event_id: string; payload: any },
): Promise<Map<string, SampleEntry>> {
  const out = new Map<string, SampleEntry>();
  const names: unknown = created?.payload?.samples_sha256;
  if (!Array.isArray(names)) return out;
  for (const name of names) {
    const row = await db.selectFrom('content_blobs').select(['sha256', 'content']).where('sha256', '=', String(name)).executeTakeFirst();
    const base = { table: 'content_blobs' as const, key: String(name), field: 'content', event_id: created!.event_id };
    if (!row) {
      f.fail({
        ...base,
        reason: 'missing',
        expected: String(name),
        found: null,
        message: `the sample commitment blob ${name} that run.created of run ${runId} names is gone`,
      });
      continue;
    }
    const list = row.content as SampleEntry[];
    const got = textSha256(JSON.stringify(list));
    if (got !== name || !Array.isArray(list)) {
      f.fail({ ...base, expected: String(name), found: got, message: `the sample commitment blob ${name} does not hash to its name` });
      continue;
    }
    for (const e of list) out.set(e[0], e);
  }
  return out;
}

function checkSample(f: Findings, s: any, entries: Map<string, SampleEntry>, erasure: Erasure | undefined, eventId: string | null): void {
  const entry = entries.get(s.id);
  if (!entry) {
    // Runs created before samples were committed have no entries; a sample added to a committed run has none either.
    if (entries.size > 0)
      f.fail({
        table: 'samples',
        key: s.id,
        field: '*',
        expected: null,
        found: s.id,
        event_id: eventId,
        message: `sample ${s.id} is not among the samples run.created committed to (inserted?)`,
      });
    return;
  }
  const now = sampleEntry({ id: s.id, idx: s.idx, external_id: s.external_id, prompt: s.prompt, messages: s.messages, metadata: s.metadata });
  if (now[1] !== entry[1])
    f.fail({
      table: 'samples',
      key: s.id,
      field: 'idx',
      expected: String(entry[1]),
      found: String(now[1]),
      event_id: eventId,
      message: `sample ${s.id}: its index is ${now[1]} where run.created recorded ${entry[1]}`,
    });
  let blank = false;
  SAMPLE_ENTRY_FIELDS.forEach((field, i) => {
    const expected = entry[i + 2] as string | null;
    const found = now[i + 2] as string | null;
    if (expected === found) return;
    if (erasure && field !== 'external_id' && isBlank(field, s[field])) {
      blank = true;
      return;
    }
    f.fail({
      table: 'samples',
      key: s.id,
      field,
      expected,
      found,
      event_id: eventId,
      message: `sample ${s.id}: its ${field} is not the one run.created committed to (sha256 ${found ?? 'null'}, committed ${expected ?? 'null'})`,
    });
  });
  if (blank && erasure) f.erasedRow('samples', s.id, s.id, erasure);
}

function isBlank(field: string, v: unknown): boolean {
  return field === 'prompt' ? v === '' : v === null || v === undefined;
}

/** A field of a stage record that differs from its event: the values as text (the text itself by its sha256). */
export interface StageDifference {
  field: string;
  expected: string | null;
  found: string | null;
}

/**
 * The fields of a stage record that differ from the payload of its model call's event: what the
 * verifier reports, and what the sample read path's per-stage `verified` marker is made from.
 * A field the event does not hold (events written before `text_sha256` and `finish_reason`) is
 * not compared.
 */
export function stageDifferences(r: any, p: any): StageDifference[] {
  const out: StageDifference[] = [];
  const cmp = (field: string, expected: unknown, found: unknown) => {
    const ex = text(expected);
    const got = text(found);
    if (ex !== got) out.push({ field, expected: ex, found: got });
  };
  p ??= {};
  cmp('stage', p.stage, r.stage);
  cmp('round', p.round, r.round);
  cmp('principle_id', p.principle_id, r.principle_id);
  cmp('model', p.model, r.model);
  if (p.usage) {
    cmp('prompt_tokens', p.usage.prompt_tokens, r.prompt_tokens ?? r.usage?.prompt_tokens);
    cmp('completion_tokens', p.usage.completion_tokens, r.completion_tokens ?? r.usage?.completion_tokens);
  }
  if (typeof p.latency_ms === 'number') cmp('latency_ms', Math.round(p.latency_ms), r.latency_ms);
  if (typeof p.simulated === 'boolean') cmp('simulated', p.simulated, r.simulated);
  cmp('judgement', p.judgement ?? null, r.judgement ?? null);
  if (r.message_refs) cmp('message_refs', p.request?.messages_sha256, r.message_refs);
  if ('finish_reason' in p) cmp('finish_reason', p.finish_reason, r.finish_reason ?? null);
  if (typeof p.text_sha256 === 'string') cmp('text', p.text_sha256, textSha256(r.text));
  return out;
}

/** One stage record against the payload of its model call's event. */
function checkStage(f: Findings, r: any, e: { event_id: string; type: string; payload: any } | undefined, erasure: Erasure | undefined): void {
  const key = `${r.sample_id}:${r.seq}`;
  if (!e)
    return f.fail({
      reason: 'missing',
      table: 'stage_records',
      key,
      field: '*',
      expected: null,
      found: r.stage,
      event_id: null,
      message: `stage record ${key} has no event in sample:${r.sample_id} (inserted?)`,
    });
  for (const d of stageDifferences(r, e.payload)) {
    if (d.field === 'text' && erasure && r.text === '') {
      f.erasedRow('stage_records', key, r.sample_id, erasure);
      continue;
    }
    const what = d.field === 'text' ? `its text (sha256 ${d.found})` : `${d.field} is ${clip(d.found)}`;
    f.fail({
      table: 'stage_records',
      key,
      field: d.field,
      expected: d.expected,
      found: d.found,
      event_id: e.event_id,
      message: `stage record ${key}: ${what} where ${e.type} ${e.event_id} recorded ${d.field === 'text' ? `sha256 ${d.expected}` : clip(d.expected)}`,
    });
  }
}

const clip = (s: string | null) => (s === null ? 'null' : s.length > 80 ? `${s.slice(0, 77)}...` : s);

/**
 * Re-hashes every blob the run's stage records name (messages) or its events name (response
 * bodies), once each; a blob gone is erased when only erased samples named it.
 */
async function checkBlobs(
  db: Kysely<Database>,
  f: Findings,
  checked: RowsReport['checked'],
  blobs: Map<string, { sample: string; live: boolean }>,
  erasures: Map<string, Erasure>,
  kind: 'message' | 'response',
): Promise<void> {
  const names = [...blobs.keys()];
  for (let i = 0; i < names.length; i += BLOB_PAGE) {
    const page = names.slice(i, i + BLOB_PAGE);
    const rows = await db.selectFrom('content_blobs').select(['sha256', 'content']).where('sha256', 'in', page).execute();
    const found = new Map(rows.map((r) => [r.sha256, r.content]));
    for (const name of page) {
      const ref = blobs.get(name)!;
      const base = { table: 'content_blobs' as const, key: name, field: 'content', event_id: null };
      if (!found.has(name)) {
        const erasure = erasures.get(ref.sample);
        if (!ref.live && erasure) f.erasedRow('content_blobs', name, ref.sample, erasure);
        else f.fail({ ...base, reason: 'missing', expected: name, found: null, message: `${kind} blob ${name} (named by sample ${ref.sample}) is gone` });
        continue;
      }
      checked.content_blobs++;
      const content = found.get(name);
      let got: string;
      try {
        got =
          kind === 'response'
            ? responseBlob(content).sha256
            : Array.isArray(content)
              ? segmentBlob(content as ContentMessage[]).sha256
              : messageBlob(content as ContentMessage).sha256;
      } catch (err) {
        got = `uncanonicalisable (${(err as Error).message})`;
      }
      if (got !== name)
        f.fail({
          ...base,
          expected: name,
          found: got,
          message: `${kind} blob ${name} (named by sample ${ref.sample}) hashes to ${got}: its content was changed`,
        });
    }
  }
}

/** The evaluation report of a candidate run against its `evaluation.judged` event. */
async function checkEvaluation(db: Kysely<Database>, f: Findings, checked: RowsReport['checked'], runId: string): Promise<void> {
  const judged = (
    await sql<{ event_id: string; payload: any }>`
      select event_id, payload from audit_events where chain = ${'run:' + runId} and type = 'evaluation.judged' order by seq`.execute(db)
  ).rows;
  for (const e of judged) {
    const p = e.payload ?? {};
    const row = await db.selectFrom('evaluations').select(['id', 'status', 'report']).where('id', '=', String(p.evaluation_id)).executeTakeFirst();
    const base = { table: 'evaluations' as const, key: String(p.evaluation_id), event_id: e.event_id };
    if (!row) {
      f.fail({
        ...base,
        reason: 'missing',
        field: '*',
        expected: String(p.evaluation_id),
        found: null,
        message: `evaluation ${p.evaluation_id} that ${e.event_id} judged is not in evaluations (deleted?)`,
      });
      continue;
    }
    checked.evaluations++;
    const report: any = row.report ?? {};
    const fields: [string, unknown, unknown][] = [
      ['status', p.status, row.status],
      ...(['rubric', 'method', 'prompts', 'dimensions', 'refusals'] as const).map((k): [string, unknown, unknown] => [`report.${k}`, p[k], report[k]]),
    ];
    for (const [field, expected, found] of fields) {
      if (expected === undefined) continue;
      const ex = text(expected);
      const got = text(found ?? null);
      if (ex !== got) f.fail({ ...base, field, expected: ex, found: got, message: `evaluation ${row.id}: ${field} is not what evaluation.judged recorded` });
    }
  }
}

/** Every key that acted on the run against its `key.created` event (and `key.revoked`, if revoked). */
async function checkKeys(db: Kysely<Database>, f: Findings, checked: RowsReport['checked'], runId: string): Promise<void> {
  const ids = (
    await sql<{ id: string }>`
      select distinct substr(actor, 5) as id from audit_events where run_id = ${runId} and actor like 'key:%'`.execute(db)
  ).rows
    .map((r) => r.id)
    .filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  if (ids.length === 0) return;
  const keys = await db.selectFrom('api_keys').selectAll().where('id', 'in', ids).execute();
  const events = (
    await sql<{ event_id: string; type: string; payload: any; at: Date }>`
      select event_id, type, payload, at from audit_events where chain = 'global' and type in ('key.created', 'key.revoked')
        and payload->>'key_id' = any(${ids}::text[]) order by id`.execute(db)
  ).rows;
  for (const k of keys) {
    checked.api_keys++;
    const createdEv = events.find((e) => e.type === 'key.created' && e.payload?.key_id === k.id);
    const revokedEv = events.find((e) => e.type === 'key.revoked' && e.payload?.key_id === k.id);
    const base = { table: 'api_keys' as const, key: k.id };
    // Keys registered from AMEND_ADMIN_KEY at boot before the trail recorded them have no event.
    if (!createdEv) continue;
    const p = createdEv.payload ?? {};
    const against = (field: (typeof KEY_FIELDS)[number] | (typeof KEY_LIMIT_FIELDS)[number], recorded: unknown) => {
      const ex = text(recorded);
      const got = text(k[field]);
      if (ex !== got)
        f.fail({
          ...base,
          field,
          expected: ex,
          found: got,
          event_id: createdEv.event_id,
          message: `key ${k.id}: its ${field} is ${got} where key.created recorded ${ex}`,
        });
    };
    for (const field of KEY_FIELDS) if (p[field] !== undefined) against(field, p[field]);
    if (p.limits) for (const field of KEY_LIMIT_FIELDS) against(field, p.limits[field] ?? null);
    const revoked = k.revoked_at !== null;
    if (revoked !== !!revokedEv) {
      f.fail({
        ...base,
        field: 'revoked_at',
        expected: revokedEv ? new Date(revokedEv.at).toISOString() : null,
        found: k.revoked_at ? new Date(k.revoked_at).toISOString() : null,
        event_id: revokedEv?.event_id ?? createdEv.event_id,
        message: revoked
          ? `key ${k.id} is marked revoked but the trail has no key.revoked event`
          : `key ${k.id} was revoked (key.revoked ${revokedEv!.event_id}) but its row says it is not`,
      });
    }
  }
}
