import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { SuggestionEstimate, SuggestionSet } from '@amend/contracts';
import type { ApiClient } from './api-client';
import { parseDecimal, parseInteger } from './arg-parsers';
import { createProgressReporter, type Progressable } from './progress';
import { sleep } from './wait-for-run';

type Print = (s: string) => void;

export interface SuggestCommandsContext {
  client: (cmd: Command) => ApiClient;
  out: Print;
  err: Print;
  setExitCode: (code: number) => void;
  cwd?: string;
  stderr: NodeJS.WritableStream;
  tty: boolean;
  pollIntervalMs?: number;
  progressIntervalMs?: number;
  signal?: AbortSignal;
}

interface SuggestOptions {
  run?: string;
  overturned?: boolean;
  file?: string;
  model?: string;
  judgeModel?: string;
  perPair?: number;
  maxCandidates?: number;
  similarity?: number;
  seed?: number;
  budgetTokens?: number;
  budgetUsd?: number;
  dryRun?: boolean;
  addToDraft?: string;
  wait: boolean;
  json?: boolean;
}

/** `amend constitution suggest NAME --run ID | --file FILE` and `amend suggestions ID`. */
export function addSuggestCommands(program: Command, ctx: SuggestCommandsContext): void {
  const { out, err } = ctx;
  const group = program.commands.find((c) => c.name() === 'constitution') ?? program.command('constitution');

  group
    .command('suggest')
    .description(
      "learn principles the constitution may be missing from labelled pairs (a run's reviews, or a preference file): the cost first, then progress, then the ranking",
    )
    .argument('<name>', 'the constitution (its newest version is the one suggestions are compared with)')
    .option('--run <id>', "learn from this run's reviewed pairs")
    .option('--overturned', 'with --run: only the pairs reviewers swapped')
    .option('--file <file>', 'learn from a preference file: JSON Lines, {"prompt", "chosen", "rejected", "id"?} a line')
    .option('--model <alias>', 'the model that proposes principles (default "default")')
    .option('--judge-model <alias>', 'the model that tests them (default: --model)')
    .option('--per-pair <n>', 'principles proposed per pair (default 3)', parseInteger)
    .option('--max-candidates <n>', 'candidates tested after merging (default 12)', parseInteger)
    .option('--similarity <x>', 'questions at least this similar are merged (default 0.85)', parseDecimal)
    .option('--seed <n>', 'the seed (positions of the answers in the tests)', parseInteger)
    .option('--budget-tokens <n>', 'stop once this many tokens are spent', parseInteger)
    .option('--budget-usd <usd>', 'stop once this much is spent (needs prices in AMEND_MODELS)', parseDecimal)
    .option('--dry-run', 'show what it would cost and stop')
    .option(
      '--add-to-draft <draft>',
      "then add the first suggestion's principle to this draft of the constitution (your team's; made from the version when missing)",
    )
    .option('--no-wait', 'start it, print its id and exit')
    .option('--json', 'print the finished set as JSON')
    .action(async (name: string, opts: SuggestOptions, cmd: Command) => {
      ctx.setExitCode(await suggest(name, opts, ctx.client(cmd)));
    });

  program
    .command('suggestions')
    .description("a suggestion set's progress, or its ranking once finished")
    .argument('<id>', 'suggestion set id')
    .option('--json', 'print it as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const set = await ctx.client(cmd).getSuggestions(id);
      out(opts.json ? JSON.stringify(set, null, 2) : renderSuggestions(set));
    });

  async function suggest(name: string, opts: SuggestOptions, api: ApiClient): Promise<number> {
    if (!!opts.run === !!opts.file) {
      err('give either --run <id> (its reviewed pairs) or --file <pairs.jsonl>');
      return 2;
    }
    if (opts.overturned && !opts.run) {
      err('--overturned goes with --run');
      return 2;
    }
    const body: Record<string, unknown> = {
      ...(opts.run && { run: opts.run, pairs_from: opts.overturned ? 'overturned' : 'reviewed' }),
      ...(opts.model && { model: opts.model }),
      ...(opts.judgeModel && { judge_model: opts.judgeModel }),
      ...(opts.perPair !== undefined && { principles_per_pair: opts.perPair }),
      ...(opts.maxCandidates !== undefined && { max_candidates: opts.maxCandidates }),
      ...(opts.similarity !== undefined && { merge_similarity: opts.similarity }),
      seed: opts.seed ?? Math.floor(Math.random() * 2 ** 31),
      ...((opts.budgetTokens !== undefined || opts.budgetUsd !== undefined) && {
        budget: { ...(opts.budgetTokens !== undefined && { tokens: opts.budgetTokens }), ...(opts.budgetUsd !== undefined && { cost_usd: opts.budgetUsd }) },
      }),
    };
    const file = opts.file === undefined ? undefined : await readFile(resolve(ctx.cwd ?? process.cwd(), opts.file), 'utf8');
    err(renderSuggestionEstimate(await api.estimateSuggestions(name, body, file)));
    if (opts.dryRun) return 0;
    const started = await api.createSuggestions(name, body, file);
    out(`suggestions ${started.id}`);
    if (!opts.wait) {
      err(`follow it with: amend suggestions ${started.id}`);
      return 0;
    }
    const progress = createProgressReporter(ctx.stderr, {
      tty: ctx.tty,
      lineIntervalMs: ctx.progressIntervalMs,
      words: { subject: 'suggestions', unit: 'calls' },
    });
    let set = started;
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.on('SIGINT', onSigint);
    ctx.signal?.addEventListener('abort', onSigint, { once: true });
    try {
      while (!stop.signal.aborted) {
        set = await api.getSuggestions(started.id, stop.signal).catch((x) => {
          if (stop.signal.aborted) return set;
          throw x;
        });
        progress.update(asProgress(set));
        if (finished(set)) break;
        await sleep(ctx.pollIntervalMs ?? 1000, stop.signal);
      }
    } finally {
      process.removeListener('SIGINT', onSigint);
      ctx.signal?.removeEventListener('abort', onSigint);
    }
    progress.stop(asProgress(set));
    if (!finished(set)) {
      err(`stopped waiting; suggestions ${set.id} go on on the server. Follow them: amend suggestions ${set.id}`);
      return 130;
    }
    out(opts.json ? JSON.stringify(set, null, 2) : renderSuggestions(set));
    if (opts.addToDraft && set.status === 'completed' && set.suggestions.length > 0) {
      const d = await api.addSuggestionToDraft(set.id, { rank: 1, draft: opts.addToDraft });
      err(
        `added ${set.suggestions[0].principle.id} to draft ${d.name}#${d.draft} (${d.principles} principles); read it at /v1/constitutions/${d.name}/drafts/${d.draft}`,
      );
    }
    return set.status === 'completed' ? 0 : 1;
  }
}

const finished = (s: SuggestionSet) => s.status !== 'queued' && s.status !== 'running';

/** The set's calls as a run's samples: the bar moves by calls made of calls planned (which shrink once merging is done). */
export function asProgress(s: SuggestionSet): Progressable {
  const total = Math.max(s.progress.calls, s.progress.calls_planned);
  const status = s.status === 'budget_exhausted' ? 'failed' : s.status;
  return {
    id: s.id,
    status,
    counts: { total, pending: total - s.progress.calls, running: 0, completed: s.progress.calls, failed: 0, cancelled: 0 },
  };
}

export function renderSuggestionEstimate(e: SuggestionEstimate): string {
  const cost = e.cost_usd_max === null ? '' : `, at most $${e.cost_usd_max.toFixed(4)}`;
  const budget = e.budget
    ? `; budget ${[e.budget.tokens !== undefined && `${e.budget.tokens} tokens`, e.budget.cost_usd !== undefined && `$${e.budget.cost_usd}`].filter(Boolean).join(', ')}`
    : '';
  return `cost before start: ${e.pairs} pairs, ${e.calls.propose} propose calls, at most ${e.calls.test_max} test calls; at most ${e.tokens_max} tokens${cost}${budget}`;
}

const f2 = (x: number) => x.toFixed(2).padStart(9);

export function renderSuggestions(s: SuggestionSet): string {
  const head = `suggestions ${s.id}: ${s.status} on ${s.constitution.name}@${s.constitution.version}, ${s.pairs} pairs${s.simulated ? ' (simulated)' : ''}`;
  if (s.status === 'queued' || s.status === 'running') return `${head}\n  ${s.progress.stage}: ${s.progress.calls}/${s.progress.calls_planned} calls`;
  const lines = [head];
  if (s.error) lines.push(`  ${s.error}`);
  if (s.proposals !== null) lines.push(`  ${s.proposals} principles proposed, merged into ${s.candidates} candidates, each tested on every pair`);
  if (s.suggestions.length === 0) return lines.join('\n');
  lines.push('rank  agreement  relevance      score  principle (closest existing)');
  for (const x of s.suggestions) {
    const closest = x.closest ? ` (${x.closest.id} ${x.closest.similarity.toFixed(2)})` : '';
    lines.push(`${String(x.rank).padStart(4)}  ${f2(x.agreement)}  ${f2(x.relevance)}  ${f2(x.score)}  ${x.principle.id}: ${x.principle.comparison}${closest}`);
    const shown = x.explains.slice(0, 8);
    if (shown.length) lines.push(`${' '.repeat(6)}explains ${shown.join(', ')}${x.explains.length > shown.length ? `, ... (${x.explains.length})` : ''}`);
  }
  return lines.join('\n');
}
