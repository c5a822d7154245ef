import { sql, type Kysely } from 'kysely';
import { AuditVerifier, asStoredJson, contentSha256, suggestionChain, textSha256, type ContentBlob, type VerifyReport } from '@amend/audit';
import type { AuditEventType } from '@amend/contracts';
import type { Database, RunPrices } from './schema';
import { insertAuditEvents, type AuditRepository } from './audit-events';

export interface NewSuggestionSet {
  id: string;
  team: string;
  constitution: { name: string; version: string; sha256: string };
  source: unknown;
  pairs: { id: string; prompt: string; chosen: string; rejected: string }[];
  settings: unknown;
  estimate: unknown;
  budget: { tokens?: number; cost_usd?: number } | null;
  prices: RunPrices | null;
  calls_planned: number;
  created_by: string;
}

export interface SuggestionEvent {
  type: AuditEventType;
  actor: string;
  payload: Record<string, unknown>;
}

/** One model call of a job, as the worker saves it with its event (the checkpoint of a suggestion call). */
export interface SuggestionCallInput {
  seq: number;
  stage: 'propose' | 'test';
  pair_index: number;
  candidate_index: number | null;
  message_refs: string[];
  blobs: ContentBlob[];
  text: string;
  model: string;
  usage: { prompt_tokens: number; completion_tokens: number };
  cost_usd: number;
  finish_reason: string | null;
  simulated: boolean;
  event: SuggestionEvent;
}

export type SuggestionSetRow = Awaited<ReturnType<SuggestionsRepository['row']>> & {};
export type SuggestionCallRow = Awaited<ReturnType<SuggestionsRepository['calls']>>[number];

/** A row that no longer matches the event that committed to it. */
export interface SuggestionRowFailure {
  table: 'suggestion_sets' | 'suggestion_calls';
  key: string;
  field: string;
  why: string;
  event_id: string | null;
}

export interface SuggestionVerify {
  suggestion_id: string;
  ok: boolean;
  verified_at: string;
  chain: VerifyReport;
  rows: { ok: boolean; checked: { suggestion_sets: number; suggestion_calls: number }; failures: SuggestionRowFailure[] };
}

const payloadOf = (e: { payload: unknown }) => (e.payload ?? {}) as Record<string, unknown>;

/**
 * Principle-suggestion jobs (migration 0018): the set row, its calls, and its audit chain
 * (`suggestion:<id>`, locked by the set row). A call is saved with its event, its blobs and the
 * set's spend in one transaction, so what was paid for is what the trail says.
 */
export class SuggestionsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditRepository,
  ) {}

  async create(set: NewSuggestionSet, event: SuggestionEvent): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('suggestion_sets')
        .values({
          id: set.id,
          team: set.team,
          constitution_name: set.constitution.name,
          constitution_version: set.constitution.version,
          constitution_sha256: set.constitution.sha256,
          status: 'queued',
          source: JSON.stringify(set.source),
          pairs: JSON.stringify(set.pairs),
          pair_count: set.pairs.length,
          settings: JSON.stringify(set.settings),
          estimate: JSON.stringify(set.estimate),
          budget: set.budget ? JSON.stringify(set.budget) : null,
          prices: set.prices ? JSON.stringify(set.prices) : null,
          calls_planned: set.calls_planned,
          created_by: set.created_by,
        })
        .execute();
      await insertAuditEvents(tx, [{ run_id: null, sample_id: null, ...event, payload: { suggestion_id: set.id, ...event.payload } }]);
    });
  }

  /** The set if `team` may see it (undefined: any team). */
  async row(id: string, team?: string) {
    let q = this.db.selectFrom('suggestion_sets').selectAll().where('id', '=', id);
    if (team !== undefined) q = q.where('team', '=', team);
    return q.executeTakeFirst();
  }

  /** Sets newest first, without their pairs and results. */
  async list(opts: { team?: string; constitution?: string; limit: number }) {
    let q = this.db
      .selectFrom('suggestion_sets')
      .select([
        'id',
        'team',
        'constitution_name',
        'constitution_version',
        'constitution_sha256',
        'status',
        'stage',
        'source',
        'pair_count',
        'settings',
        'estimate',
        'calls',
        'calls_planned',
        'prompt_tokens',
        'completion_tokens',
        'cost_usd',
        'prices',
        'proposals',
        'candidates',
        'simulated',
        'error',
        'created_by',
        'created_at',
        'finished_at',
      ])
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(opts.limit);
    if (opts.team !== undefined) q = q.where('team', '=', opts.team);
    if (opts.constitution !== undefined) q = q.where('constitution_name', '=', opts.constitution);
    return q.execute();
  }

  calls(id: string) {
    return this.db.selectFrom('suggestion_calls').selectAll().where('suggestion_id', '=', id).orderBy('seq').execute();
  }

  /** Sets a worker should be on but that may have no job (lost from Redis), oldest first. */
  async unfinished(limit = 100): Promise<string[]> {
    const rows = await this.db
      .selectFrom('suggestion_sets')
      .select('id')
      .where('status', 'in', ['queued', 'running'])
      .orderBy('created_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** queued -> running; false when the set is finished (nothing to do). */
  async claim(id: string): Promise<boolean> {
    const r = await this.db
      .updateTable('suggestion_sets')
      .set({ status: 'running' })
      .where('id', '=', id)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Saves one call: blobs, the call row, its event (which locks the set row first) and the set's
   * spend. 'duplicate' when that seq is saved already (another attempt got there first): the
   * caller then reads it back instead of paying twice.
   */
  async saveCall(id: string, call: SuggestionCallInput): Promise<'saved' | 'duplicate'> {
    return this.db.transaction().execute(async (tx) => {
      await tx.selectFrom('suggestion_sets').select('id').where('id', '=', id).forUpdate().execute();
      const existing = await tx.selectFrom('suggestion_calls').select('seq').where('suggestion_id', '=', id).where('seq', '=', call.seq).executeTakeFirst();
      if (existing) return 'duplicate';
      if (call.blobs.length) {
        const unique = [...new Map(call.blobs.map((b) => [b.sha256, b])).values()].sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
        await tx
          .insertInto('content_blobs')
          .values(unique.map((b) => ({ sha256: b.sha256, content: b.json })))
          .onConflict((oc) => oc.column('sha256').doNothing())
          .execute();
      }
      await tx
        .insertInto('suggestion_calls')
        .values({
          suggestion_id: id,
          seq: call.seq,
          stage: call.stage,
          pair_index: call.pair_index,
          candidate_index: call.candidate_index,
          message_refs: call.message_refs,
          text: call.text,
          model: call.model,
          usage: JSON.stringify(call.usage),
          cost_usd: call.cost_usd,
          finish_reason: call.finish_reason,
        })
        .execute();
      await insertAuditEvents(tx, [{ run_id: null, sample_id: null, ...call.event, payload: { suggestion_id: id, ...call.event.payload } }]);
      await tx
        .updateTable('suggestion_sets')
        .set((eb) => ({
          calls: eb('calls', '+', 1),
          prompt_tokens: sql`prompt_tokens + ${call.usage.prompt_tokens}`,
          completion_tokens: sql`completion_tokens + ${call.usage.completion_tokens}`,
          cost_usd: eb('cost_usd', '+', call.cost_usd),
          ...(call.simulated ? { simulated: true } : {}),
        }))
        .where('id', '=', id)
        .execute();
      return 'saved';
    });
  }

  /** The test stage begins: how many candidates survived merging, and the calls now planned. */
  async startTests(id: string, proposals: number, candidates: number, callsPlanned: number): Promise<void> {
    await this.db.updateTable('suggestion_sets').set({ stage: 'test', proposals, candidates, calls_planned: callsPlanned }).where('id', '=', id).execute();
  }

  /** Ends the job with its event in one transaction: completed with its result, or failed / budget_exhausted with why. */
  async finish(
    id: string,
    end: { status: 'completed' | 'failed' | 'budget_exhausted'; result?: unknown; error?: string },
    event: SuggestionEvent,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('suggestion_sets').select('status').where('id', '=', id).forUpdate().executeTakeFirst();
      if (!row || (row.status !== 'queued' && row.status !== 'running')) return false;
      await tx
        .updateTable('suggestion_sets')
        .set({
          status: end.status,
          stage: 'done',
          result: end.result === undefined ? null : JSON.stringify(end.result),
          error: end.error ?? null,
          finished_at: new Date(),
        })
        .where('id', '=', id)
        .execute();
      await insertAuditEvents(tx, [{ run_id: null, sample_id: null, ...event, payload: { suggestion_id: id, ...event.payload } }]);
      return true;
    });
  }

  /**
   * The set's chain recomputed (blobs re-hashed), then its rows held to it: the pairs and settings
   * to `suggestion.created`, every call row to its event (messages, text, stage, pair, candidate),
   * and the result to `suggestion.ranked`.
   */
  async verify(id: string): Promise<SuggestionVerify> {
    const events = await this.audit.chain(suggestionChain(id));
    const verifier = new AuditVerifier();
    for (const e of events) verifier.add(e);
    const chain = verifier.finish();
    const failures: SuggestionRowFailure[] = [];
    const set = await this.row(id);
    const calls = await this.calls(id);
    const fail = (f: Omit<SuggestionRowFailure, 'event_id'> & { event_id?: string | null }) => failures.push({ event_id: null, ...f });
    const created = events.find((e) => e.type === 'suggestion.created');
    if (!set) fail({ table: 'suggestion_sets', key: id, field: 'id', why: 'the set row is missing' });
    else if (!created) fail({ table: 'suggestion_sets', key: id, field: 'id', why: 'no suggestion.created event commits to this set' });
    else {
      const p = payloadOf(created);
      const at = { table: 'suggestion_sets' as const, key: id, event_id: created.event_id };
      if (p.pairs_sha256 !== contentSha256(asStoredJson(set.pairs)))
        fail({ ...at, field: 'pairs', why: 'the stored pairs do not hash to the pairs_sha256 of suggestion.created' });
      if (
        contentSha256(asStoredJson(p.constitution)) !==
        contentSha256({ name: set.constitution_name, version: set.constitution_version, sha256: set.constitution_sha256 })
      )
        fail({ ...at, field: 'constitution', why: 'the constitution is not the one suggestion.created names' });
      if (contentSha256(asStoredJson(p.settings)) !== contentSha256(asStoredJson(set.settings)))
        fail({ ...at, field: 'settings', why: 'the settings are not those suggestion.created holds' });
      if (contentSha256(asStoredJson(p.source)) !== contentSha256(asStoredJson(set.source)))
        fail({ ...at, field: 'source', why: 'the source is not the one suggestion.created names' });
    }
    const callEvents = new Map<number, (typeof events)[number]>();
    for (const e of events) if (e.type === 'principles.proposed' || e.type === 'principle.tested') callEvents.set(Number(payloadOf(e).seq), e);
    for (const c of calls) {
      const e = callEvents.get(c.seq);
      const key = `${id}/${c.seq}`;
      if (!e) {
        fail({ table: 'suggestion_calls', key, field: 'seq', why: 'no event of the chain records this call' });
        continue;
      }
      callEvents.delete(c.seq);
      const p = payloadOf(e);
      const at = { table: 'suggestion_calls' as const, key, event_id: e.event_id };
      const request = (p.request ?? {}) as { messages_sha256?: unknown };
      if (JSON.stringify(request.messages_sha256) !== JSON.stringify(c.message_refs))
        fail({ ...at, field: 'message_refs', why: 'the messages named are not those the event names' });
      if (p.text_sha256 !== textSha256(c.text)) fail({ ...at, field: 'text', why: "the answer's text does not hash to the event's text_sha256" });
      if (p.stage !== c.stage || p.pair !== c.pair_index || (p.candidate ?? null) !== c.candidate_index)
        fail({ ...at, field: 'stage', why: 'the stage, pair or candidate is not what the event says' });
      if (
        JSON.stringify(asStoredJson(p.usage)) !==
        JSON.stringify(asStoredJson({ prompt_tokens: (c.usage as any)?.prompt_tokens, completion_tokens: (c.usage as any)?.completion_tokens }))
      )
        fail({ ...at, field: 'usage', why: "the usage is not the event's" });
    }
    for (const [seq, e] of callEvents)
      fail({ table: 'suggestion_calls', key: `${id}/${seq}`, field: 'seq', why: 'the event records a call whose row is missing', event_id: e.event_id });
    const ranked = events.find((e) => e.type === 'suggestion.ranked');
    if (set && ranked && set.result != null && payloadOf(ranked).result_sha256 !== contentSha256(asStoredJson(set.result))) {
      fail({
        table: 'suggestion_sets',
        key: id,
        field: 'result',
        why: 'the suggestions served do not hash to the result_sha256 of suggestion.ranked',
        event_id: ranked.event_id,
      });
    }
    if (set && set.status === 'completed' && !ranked)
      fail({ table: 'suggestion_sets', key: id, field: 'status', why: 'completed, but no suggestion.ranked event' });
    const rows = { ok: failures.length === 0, checked: { suggestion_sets: set ? 1 : 0, suggestion_calls: calls.length }, failures: failures.slice(0, 100) };
    return { suggestion_id: id, ok: chain.ok && rows.ok, verified_at: new Date().toISOString(), chain, rows };
  }
}
