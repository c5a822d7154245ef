import { randomInt, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import split2 from 'split2';
import { asStoredJson, contentSha256 } from '@amend/audit';
import {
  MAX_SUGGESTION_PAIRS,
  PreferencePairSchema,
  SuggestionOptionsSchema,
  isSuggestionFinished,
  type AddSuggestionToDraft,
  type Config,
  type Draft,
  type ConstitutionRef,
  type CreateSuggestions,
  type SuggestionEstimate,
  type SuggestionSet,
} from '@amend/contracts';
import { ConstitutionSchema, validateConstitution, type Constitution } from '@amend/constitution';
import { ModelRegistry } from '@amend/llm';
import { estimateSuggestions, type LabelledPair } from '@amend/pipeline';
import { CONFIG, ConstitutionCache, SUGGESTIONS_QUEUE, enqueueSuggestion } from '@amend/runtime';
import { Store, type RunPrices, type SuggestionVerify } from '@amend/store';
import { ApiError, bodyTooLarge, constitutionNotFound, notFound, unknownModel } from '../errors/api-error';
import { checkBudget, runPrices } from '../runs/run-spend';
import type { Principal } from '../auth/principal';
import { DraftsService } from '../constitutions/drafts.service';

/** Problems of an upload listed at most, so an answer about a broken file stays readable. */
const MAX_LINE_PROBLEMS = 20;

interface Prepared {
  ref: ConstitutionRef;
  constitution: Constitution;
  pairs: LabelledPair[];
  source: SuggestionSet['source'];
  settings: SuggestionSet['settings'];
  estimate: SuggestionEstimate;
  prices: RunPrices | null;
  budget: CreateSuggestions['budget'] | null;
}

/**
 * Principle suggestions (docs/policy-authors.md#principle-suggestions): the labelled pairs are
 * gathered and checked here (a run's reviews, or a file), the job's cost estimated, and the set
 * stored with its `suggestion.created` event before its one job is queued; the worker's
 * SuggestionEngine does the calls.
 */
@Injectable()
export class SuggestionsService {
  private readonly logger = new Logger('SuggestionsService');

  constructor(
    private readonly store: Store,
    private readonly models: ModelRegistry,
    private readonly constitutions: ConstitutionCache,
    @InjectQueue(SUGGESTIONS_QUEUE) private readonly queue: Queue,
    @Inject(CONFIG) private readonly config: Config,
    private readonly drafts: DraftsService,
  ) {}

  /**
   * One step from a suggestion to a draft: the suggestion's principle appended to the team's draft
   * `body.draft` of the set's constitution (made from the version the set compared with when the
   * team has no such draft), saved as any draft is (validated, a `constitution.draft_saved` event).
   */
  async addToDraft(id: string, body: AddSuggestionToDraft, caller: Principal): Promise<Draft> {
    const set = await this.get(id, caller.team);
    if (set.status !== 'completed') {
      throw new ApiError('suggestion_not_ready', `suggestion set ${id} is ${set.status}; a suggestion can be added once the set is completed`, {
        status: set.status,
      });
    }
    const suggestion = set.suggestions.find((s) => s.rank === body.rank);
    if (!suggestion) {
      throw new ApiError('suggestion_not_ready', `suggestion set ${id} has no suggestion of rank ${body.rank}; it has ${set.suggestions.length}`, {
        rank: body.rank,
        suggestions: set.suggestions.length,
      });
    }
    const name = set.constitution.name;
    let base: Constitution;
    try {
      base = ConstitutionSchema.parse((await this.drafts.get(name, body.draft, caller)).content);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'draft_not_found')) throw err;
      base = await this.constitutions.get(name, set.constitution.version);
    }
    const principleId = body.principle_id ?? suggestion.principle.id;
    if (base.principles.some((p) => p.id === principleId)) {
      throw new ApiError('invalid_request', `the draft ${name}#${body.draft} already has a principle "${principleId}"; give another principle_id`, {
        issues: [{ path: 'principle_id', message: `"${principleId}" is taken in the draft` }],
      });
    }
    const { critique, revision, comparison } = suggestion.principle;
    const content = validateConstitution(
      { ...base, principles: [...base.principles, { id: principleId, critique, revision, comparison, tags: ['suggested'], weight: 1 }] },
      { file: `${name}#${body.draft}` },
    );
    return this.drafts.save(name, body.draft, content, caller);
  }

  async estimate(name: string, body: CreateSuggestions, caller: Principal, lines?: LabelledPair[]): Promise<SuggestionEstimate> {
    return (await this.prepare(name, body, caller, lines)).estimate;
  }

  async create(name: string, body: CreateSuggestions, caller: Principal, lines?: LabelledPair[]): Promise<SuggestionSet> {
    const p = await this.prepare(name, body, caller, lines);
    const id = randomUUID();
    const pairsSha256 = contentSha256(asStoredJson(p.pairs));
    const source = { ...p.source, pairs_sha256: pairsSha256 };
    await this.store.suggestions.create(
      {
        id,
        team: caller.team,
        constitution: p.ref,
        source,
        pairs: p.pairs,
        settings: p.settings,
        estimate: p.estimate,
        budget: p.budget ?? null,
        prices: p.prices,
        calls_planned: p.estimate.calls.max,
        created_by: caller.actor,
      },
      {
        type: 'suggestion.created',
        actor: caller.actor,
        payload: {
          constitution: p.ref,
          source,
          settings: p.settings,
          estimate: p.estimate,
          budget: p.budget ?? null,
          prices: p.prices,
          pairs: p.pairs.length,
          pairs_sha256: pairsSha256,
        },
      },
    );
    // The set is safe in Postgres: a job that never reaches Redis is the reconciler's.
    void enqueueSuggestion(this.queue, id).catch((err) =>
      this.logger.warn(`suggestion ${id}: enqueue failed, the reconciler will retry: ${(err as Error).message}`),
    );
    return this.get(id, caller.team);
  }

  /** The set if `team` may see it (undefined: any team, for auditors); another team's is a 404. */
  async get(id: string, team: string | undefined): Promise<SuggestionSet> {
    const row = await this.store.suggestions.row(id, team);
    if (!row) throw notFound('suggestion', id);
    return toView(row);
  }

  async list(query: { constitution?: string; limit: number }, team: string | undefined) {
    const rows = await this.store.suggestions.list({ ...query, team });
    return { suggestions: rows.map((r) => toView({ ...r, result: null })).map(({ suggestions: _s, ...rest }) => rest) };
  }

  async verify(id: string, team: string | undefined): Promise<SuggestionVerify> {
    await this.get(id, team);
    return this.store.suggestions.verify(id);
  }

  /**
   * A preference file as JSON Lines: one pair a line ({id?, prompt, chosen, rejected}), and
   * optionally a first line with the options (the body's fields but the pairs). Every line is read
   * and its problems listed (up to 20), so one answer names every bad line of a small file.
   */
  async readUpload(source: Readable): Promise<{ options: Record<string, unknown>; pairs: LabelledPair[] }> {
    const limit = this.config.AMEND_MAX_BODY_BYTES * 4;
    let bytes = 0;
    source.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) source.destroy(bodyTooLarge('the preference file', limit, '4 x AMEND_MAX_BODY_BYTES'));
    });
    const lines = source.pipe(split2()) as AsyncIterable<string> & Readable;
    source.on('error', (err) => lines.destroy(err));
    let options: Record<string, unknown> = {};
    const pairs: LabelledPair[] = [];
    const problems: { line: number; message: string }[] = [];
    let no = 0;
    let seen = 0;
    const ids = new Map<string, number>();
    for await (const line of lines) {
      no++;
      if (!line.trim()) continue;
      seen++;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        problems.push({ line: no, message: 'not JSON: each line is one object {"prompt", "chosen", "rejected"}' });
        continue;
      }
      const obj = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
      if (seen === 1 && obj && !('prompt' in obj) && !('chosen' in obj) && !('rejected' in obj)) {
        options = obj;
        continue;
      }
      const parsed = PreferencePairSchema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue.path.length ? `${issue.path.map(String).join('.')}: ` : '';
        problems.push({ line: no, message: `${where}${issue.message}` });
        continue;
      }
      const id = parsed.data.id ?? `line-${no}`;
      const first = ids.get(id);
      if (first !== undefined) {
        problems.push({ line: no, message: `id "${id.slice(0, 200)}" is already used on line ${first}` });
        continue;
      }
      ids.set(id, no);
      pairs.push({ id, prompt: parsed.data.prompt, chosen: parsed.data.chosen, rejected: parsed.data.rejected });
    }
    if (problems.length) {
      throw new ApiError(
        'invalid_request',
        `the preference file has ${problems.length} bad line(s): ` +
          problems
            .slice(0, 3)
            .map((p) => `line ${p.line}: ${p.message}`)
            .join('; ') +
          (problems.length > 3 ? '; ...' : ''),
        { issues: problems.slice(0, MAX_LINE_PROBLEMS).map((p) => ({ path: `line ${p.line}`, line: p.line, message: p.message })), total: problems.length },
      );
    }
    if (pairs.length === 0) {
      throw new ApiError(
        'no_labelled_pairs',
        'the preference file holds no pairs: give one JSON object a line, {"prompt": ..., "chosen": ..., "rejected": ...}',
        {
          source: 'file',
          lines: no,
        },
      );
    }
    if (pairs.length > MAX_SUGGESTION_PAIRS) {
      throw new ApiError('invalid_request', `the preference file has ${pairs.length} pairs; a suggestion job learns from at most ${MAX_SUGGESTION_PAIRS}`, {
        issues: [{ path: 'pairs', message: `at most ${MAX_SUGGESTION_PAIRS} pairs per job` }],
      });
    }
    const checked = SuggestionOptionsSchema.safeParse(options);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new ApiError('invalid_request', `line 1 (the options): ${issue.path.map(String).join('.')}: ${issue.message}`, {
        issues: checked.error.issues.map((i) => ({ path: ['options', ...i.path].map(String).join('.'), message: i.message })),
      });
    }
    return { options, pairs };
  }

  private async prepare(name: string, body: CreateSuggestions, caller: Principal, uploaded?: LabelledPair[]): Promise<Prepared> {
    const row = await this.store.constitutions.resolve(name, undefined);
    if (!row) {
      const all = await this.store.constitutions.all();
      throw constitutionNotFound(name, all.some((c) => c.name === name) ? `every version of "${name}" is deprecated` : `no constitution "${name}"`, all);
    }
    const ref = { name: row.name, version: row.version, sha256: row.sha256 };
    const judgeModel = body.judge_model ?? body.model;
    for (const alias of new Set([body.model, judgeModel])) {
      if (!this.models.aliases().includes(alias)) throw unknownModel(alias, this.models.aliases());
    }
    const prices = runPrices(this.models, [body.model, judgeModel]);
    checkBudget(body.budget, prices, [body.model, judgeModel]);

    let pairs: LabelledPair[];
    let source: Omit<SuggestionSet['source'], 'pairs_sha256'>;
    if (uploaded) {
      pairs = uploaded;
      source = { kind: 'file', run_id: null, pairs_from: null };
    } else if (body.pairs) {
      pairs = body.pairs.map((p, i) => ({ id: p.id ?? `pair-${i}`, prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }));
      source = { kind: 'file', run_id: null, pairs_from: null };
    } else {
      pairs = await this.reviewedPairs(body.run as string, body.pairs_from, caller);
      source = { kind: 'run', run_id: body.run as string, pairs_from: body.pairs_from };
    }

    const seed = body.seed ?? randomInt(0, 2 ** 31 - 1);
    const settings: SuggestionSet['settings'] = {
      model: body.model,
      judge_model: judgeModel,
      principles_per_pair: body.principles_per_pair,
      max_candidates: body.max_candidates,
      merge_similarity: body.merge_similarity,
      max_tokens: body.max_tokens,
      seed,
    };
    const size = estimateSuggestions(pairs, settings);
    const price = (alias: string, prompt: number, completion: number) => {
      const p = prices?.[alias];
      return p ? (prompt * p.prompt + completion * p.completion) / 1000 : null;
    };
    const proposeCost = price(body.model, size.propose.prompt_tokens, size.propose.completion_tokens);
    const testCost = price(judgeModel, size.test.prompt_tokens, size.test.completion_tokens);
    const estimate: SuggestionEstimate = {
      pairs: pairs.length,
      calls: { propose: size.propose.calls, test_max: size.test.calls, max: size.propose.calls + size.test.calls },
      tokens_max: size.propose.prompt_tokens + size.propose.completion_tokens + size.test.prompt_tokens + size.test.completion_tokens,
      cost_usd_max: proposeCost === null || testCost === null ? null : Math.round((proposeCost + testCost) * 1e6) / 1e6,
      budget: body.budget ?? null,
    };
    // A budget the proposals' prompts alone would spend can never see the job finish: refused now rather than stopped later.
    const floorTokens = size.propose.prompt_tokens;
    const floorCost = price(body.model, size.propose.prompt_tokens, 0);
    if (
      (body.budget?.tokens !== undefined && body.budget.tokens < floorTokens) ||
      (body.budget?.cost_usd !== undefined && floorCost !== null && body.budget.cost_usd < floorCost)
    ) {
      throw new ApiError(
        'suggestion_over_budget',
        `the budget is below what the ${pairs.length} propose calls' prompts alone take (about ${floorTokens} tokens${floorCost !== null ? `, $${floorCost.toFixed(6)}` : ''}), ` +
          `so the job could never finish; the estimate's upper bound is ${estimate.tokens_max} tokens. Raise the budget or learn from fewer pairs`,
        { budget: body.budget, floor_tokens: floorTokens, floor_cost_usd: floorCost, estimate },
      );
    }
    return {
      ref,
      constitution: await this.constitutions.get(row.name, row.version),
      pairs,
      source: { ...source, pairs_sha256: '' },
      settings,
      estimate,
      prices,
      budget: body.budget ?? null,
    };
  }

  /**
   * A run's pairs as its reviewers left them: every pair whose latest review kept it (accepted,
   * swapped or edited: the texts after the review, so a swap's chosen is the reviewer's), or with
   * `overturned` only the swapped ones, where the reviewer reversed the judge. Rejected pairs carry
   * no preference and are left out.
   */
  private async reviewedPairs(runId: string, from: 'reviewed' | 'overturned', caller: Principal): Promise<LabelledPair[]> {
    const run = await this.store.runs.row(runId, caller.team);
    if (!run) throw notFound('run', runId);
    const pairs: LabelledPair[] = [];
    for (let cursor: number | undefined; ;) {
      const page = await this.store.reviews.page(runId, { status: 'accepted', limit: 200, cursor });
      for (const { pair, review } of page.items) {
        if (!review || (from === 'overturned' && review.decision !== 'swap')) continue;
        pairs.push({ id: pair.id, prompt: pair.prompt, chosen: review.chosen, rejected: review.rejected });
      }
      if (page.next_cursor === null) break;
      cursor = page.next_cursor;
    }
    if (pairs.length === 0) {
      const counts = await this.store.reviews.counts(runId);
      throw new ApiError(
        'no_labelled_pairs',
        from === 'overturned'
          ? `no reviewer swapped a pair of run ${runId} (${counts.accepted} kept, ${counts.rejected} rejected, ${counts.unreviewed} unreviewed); use "pairs_from": "reviewed" to learn from every kept pair`
          : `run ${runId} has no reviewed pair to learn from (${counts.unreviewed} of ${counts.pairs} unreviewed, ${counts.rejected} rejected); review its pairs first, or upload a preference file`,
        { run_id: runId, pairs_from: from, ...counts },
      );
    }
    if (pairs.length > MAX_SUGGESTION_PAIRS) {
      throw new ApiError('invalid_request', `run ${runId} has ${pairs.length} reviewed pairs; a suggestion job learns from at most ${MAX_SUGGESTION_PAIRS}`, {
        issues: [{ path: 'run', message: `at most ${MAX_SUGGESTION_PAIRS} pairs per job` }],
      });
    }
    return pairs;
  }
}

type Row = NonNullable<Awaited<ReturnType<Store['suggestions']['row']>>>;

function toView(row: Omit<Row, 'pairs' | 'budget'> & { result: unknown }): SuggestionSet {
  const result = (row.result ?? null) as { suggestions?: SuggestionSet['suggestions'] } | null;
  const prices = row.prices as RunPrices | null;
  const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
  return {
    id: row.id,
    team: row.team,
    constitution: { name: row.constitution_name, version: row.constitution_version, sha256: row.constitution_sha256 },
    status: row.status as SuggestionSet['status'],
    source: row.source as SuggestionSet['source'],
    pairs: row.pair_count,
    settings: row.settings as SuggestionSet['settings'],
    estimate: row.estimate as SuggestionEstimate,
    progress: {
      stage: row.stage as SuggestionSet['progress']['stage'],
      calls: row.calls,
      calls_planned: isSuggestionFinished(row.status) ? row.calls : row.calls_planned,
    },
    usage: { prompt_tokens: Number(row.prompt_tokens), completion_tokens: Number(row.completion_tokens), cost_usd: prices ? Number(row.cost_usd) : null },
    proposals: row.proposals,
    candidates: row.candidates,
    suggestions: result?.suggestions ?? [],
    simulated: row.simulated,
    error: row.error,
    created_by: row.created_by,
    created_at: iso(row.created_at) as string,
    finished_at: iso(row.finished_at),
  };
}
