import { Injectable, Logger } from '@nestjs/common';
import { asStoredJson, contentSha256, messageRefs, responseBlob, textSha256, type ContentMessage } from '@amend/audit';
import type { Budget, ChatMessage } from '@amend/contracts';
import { ModelError, ModelRegistry } from '@amend/llm';
import {
  PipelineError,
  TEST_MAX_TOKENS,
  chosenFirst,
  int31FromKey,
  mergeProposals,
  proposeMessages,
  rankCandidates,
  readProposals,
  readVerdict,
  testMessages,
  testOutcome,
  type LabelledPair,
  type Proposal,
  type TestOutcome,
} from '@amend/pipeline';
import { ConstitutionCache } from '@amend/runtime';
import { Store, callCost, type RunPrices, type SuggestionCallInput, type SuggestionCallRow } from '@amend/store';
import { WORKER_ACTOR } from './sample-orchestrator';

/** Calls of one job in flight at once: enough to keep a model busy, few enough to leave the pool to runs. */
const IN_FLIGHT = 8;
/** A propose answer is text to read; a test answer one letter, asked without sampling noise. */
const PROPOSE_TEMPERATURE = 0.7;

/** The settings a set row holds (SuggestionSetSchema `settings`). */
interface Settings {
  model: string;
  judge_model: string;
  principles_per_pair: number;
  max_candidates: number;
  merge_similarity: number;
  max_tokens: number;
  seed: number;
}

export type SuggestionOutcome = 'completed' | 'failed' | 'budget_exhausted' | 'skipped';

class BudgetReached extends Error {}

/**
 * Runs one principle-suggestion job (docs/policy-authors.md#principle-suggestions): a propose call
 * per pair, the proposals merged into candidates, a test call per candidate and pair, the ranking.
 * Every call is saved with its audit event as it ends, and a retried job (a crash, a transient
 * error) resumes at the first call not saved: call seq k is always the same call, since the
 * candidates are merged from the saved proposals. seq 0..P-1 propose pair k; then P + c*P + p
 * tests candidate c on pair p.
 */
@Injectable()
export class SuggestionEngine {
  private readonly logger = new Logger('SuggestionEngine');

  constructor(
    private readonly store: Store,
    private readonly models: ModelRegistry,
    private readonly constitutions: ConstitutionCache,
  ) {}

  async process(id: string, signal?: AbortSignal): Promise<SuggestionOutcome> {
    if (!(await this.store.suggestions.claim(id))) return 'skipped';
    const set = await this.store.suggestions.row(id);
    if (!set) return 'skipped';
    const settings = set.settings as Settings;
    const pairs = set.pairs as LabelledPair[];
    const budget = set.budget as Budget | null;
    const prices = set.prices as RunPrices | null;
    const saved = new Map<number, SuggestionCallRow>((await this.store.suggestions.calls(id)).map((c) => [c.seq, c]));
    const spent = { tokens: Number(set.prompt_tokens) + Number(set.completion_tokens), cost: Number(set.cost_usd) };
    const P = pairs.length;

    const call = async (
      seq: number,
      stage: 'propose' | 'test',
      pair: number,
      candidate: number | null,
      messages: ChatMessage[],
      alias: string,
      extra: Record<string, unknown>,
    ) => {
      const have = saved.get(seq);
      if (have) return have.text;
      if (budget && ((budget.tokens !== undefined && spent.tokens >= budget.tokens) || (budget.cost_usd !== undefined && spent.cost >= budget.cost_usd))) {
        throw new BudgetReached();
      }
      const result = await this.models.get(alias).complete(
        {
          alias,
          messages,
          sampling:
            stage === 'propose'
              ? { temperature: PROPOSE_TEMPERATURE, top_p: 1, max_tokens: settings.max_tokens }
              : { temperature: 0, top_p: 1, max_tokens: TEST_MAX_TOKENS },
          seed: int31FromKey(`${settings.seed}:suggestion:${seq}`),
        },
        signal,
      );
      const { messages: sent, ...params } = result.request as { messages?: ContentMessage[] } & Record<string, unknown>;
      const content = messageRefs(sent ?? messages);
      const response = result.response == null ? null : responseBlob(result.response);
      if (response) content.blobs.push(response);
      const cost = callCost(prices, alias, result.usage);
      const input: SuggestionCallInput = {
        seq,
        stage,
        pair_index: pair,
        candidate_index: candidate,
        message_refs: content.refs,
        blobs: content.blobs,
        text: result.text,
        model: result.model,
        usage: result.usage,
        cost_usd: cost,
        finish_reason: result.finish_reason,
        simulated: result.simulated,
        event: {
          type: stage === 'propose' ? 'principles.proposed' : 'principle.tested',
          actor: WORKER_ACTOR,
          payload: {
            seq,
            stage,
            pair,
            candidate,
            request: { ...params, messages_sha256: content.refs },
            ...(response ? { response_sha256: response.sha256 } : { response: null }),
            text_sha256: textSha256(result.text),
            finish_reason: result.finish_reason,
            model: result.model,
            alias,
            usage: result.usage,
            cost_usd: cost,
            latency_ms: result.latency_ms,
            attempts: result.attempts,
            simulated: result.simulated,
            ...extra,
          },
        },
      };
      if ((await this.store.suggestions.saveCall(id, input)) === 'duplicate') {
        // Another attempt saved it first: its answer is the one the trail has.
        const row = (await this.store.suggestions.calls(id)).find((c) => c.seq === seq);
        return row?.text ?? result.text;
      }
      spent.tokens += result.usage.prompt_tokens + result.usage.completion_tokens;
      spent.cost += cost;
      return result.text;
    };

    try {
      const proposeTexts = await pool(P, async (p) => call(p, 'propose', p, null, proposeMessages(pairs[p], settings.principles_per_pair), settings.model, {}));
      const proposals: Proposal[] = proposeTexts.flatMap((text, p) => readProposals(text, settings.principles_per_pair).map((pr) => ({ ...pr, pair: p })));
      const candidates = mergeProposals(proposals, settings.merge_similarity, settings.max_candidates);
      await this.store.suggestions.startTests(id, proposals.length, candidates.length, P + candidates.length * P);
      const outcomes: TestOutcome[][] = candidates.map(() => new Array<TestOutcome>(P));
      await pool(candidates.length * P, async (k) => {
        const c = Math.floor(k / P);
        const p = k % P;
        const pair = pairs[p];
        const aFirst = chosenFirst(settings.seed, p, c);
        const messages = testMessages(
          pair.prompt,
          candidates[c].principle.comparison,
          aFirst ? pair.chosen : pair.rejected,
          aFirst ? pair.rejected : pair.chosen,
        );
        const text = await call(P + c * P + p, 'test', p, c, messages, settings.judge_model, { chosen_position: aFirst ? 'A' : 'B' });
        outcomes[c][p] = testOutcome(readVerdict(text), aFirst);
      });
      const constitution = await this.constitutions.get(set.constitution_name, set.constitution_version);
      const suggestions = rankCandidates({ candidates, pairs, outcomes, existing: constitution.principles });
      const result = { proposals: proposals.length, candidates: candidates.length, suggestions };
      await this.store.suggestions.finish(
        id,
        { status: 'completed', result },
        {
          type: 'suggestion.ranked',
          actor: WORKER_ACTOR,
          payload: {
            result_sha256: contentSha256(asStoredJson(result)),
            proposals: proposals.length,
            candidates: candidates.length,
            ranking: suggestions.map((s) => ({ id: s.principle.id, agreement: s.agreement, relevance: s.relevance, score: s.score })),
          },
        },
      );
      return 'completed';
    } catch (err) {
      if (err instanceof BudgetReached) {
        await this.store.suggestions.finish(
          id,
          { status: 'budget_exhausted', error: 'the budget was reached before every call was made' },
          { type: 'suggestion.budget_exhausted', actor: WORKER_ACTOR, payload: { budget, spent_tokens: spent.tokens, spent_cost_usd: spent.cost } },
        );
        return 'budget_exhausted';
      }
      const reason = permanent(err);
      if (reason === null) throw err;
      await this.fail(id, reason);
      return 'failed';
    }
  }

  /** Ends the job as failed with its reason (a permanent model error, or retries exhausted). */
  async fail(id: string, reason: string): Promise<void> {
    this.logger.warn({ suggestion_id: id, reason }, 'suggestion job failed');
    await this.store.suggestions.finish(id, { status: 'failed', error: reason }, { type: 'suggestion.failed', actor: WORKER_ACTOR, payload: { reason } });
  }
}

function permanent(err: unknown): string | null {
  if (err instanceof PipelineError || (err instanceof ModelError && err.kind === 'permanent')) return `${err.code}: ${err.message}`;
  return null;
}

/** Runs work(0..n-1) with at most IN_FLIGHT at once; answers the results in order. The first error stops new work and is thrown. */
async function pool<T>(n: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  let failed: unknown = null;
  const lane = async () => {
    while (failed === null && next < n) {
      const i = next++;
      try {
        out[i] = await work(i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n) }, lane));
  if (failed !== null) throw failed;
  return out;
}
