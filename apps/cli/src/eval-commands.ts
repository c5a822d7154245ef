import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { constitutionLabel, type Evaluation, type EvaluationEstimate, type EvaluationReport } from '@amend/contracts';
import type { ApiClient, EvaluationBody } from './api-client';
import { parseDecimal, parseInteger } from './arg-parsers';
import { createProgressReporter, type Progressable } from './progress';
import { readPromptsFile, singleTurnPrompts } from './prompts-file';
import { sleep } from './wait-for-run';

type Print = (s: string) => void;

export interface EvalCommandsContext {
  client: (cmd: Command) => ApiClient;
  out: Print;
  err: Print;
  setExitCode: (code: number) => void;
  /** Where the progress goes, as a bar (a terminal) or as lines. */
  stderr: NodeJS.WritableStream;
  tty: boolean;
  pollIntervalMs?: number;
  progressIntervalMs?: number;
  signal?: AbortSignal;
}

interface EvalOptions {
  dimensions?: string;
  prompts?: string;
  set?: string;
  limit?: number;
  rounds?: number;
  seed?: number;
  model?: string;
  judgeModel?: string;
  maxTokens?: number;
  temperature?: number;
  budgetTokens?: number;
  budgetUsd?: number;
  dryRun?: boolean;
  wait: boolean;
  json?: boolean;
}

/** `amend eval BASE CAND --prompts FILE | --set NAME`, `amend evaluation ID`, `amend evaluations`, `amend eval-sets`. */
export function addEvalCommands(program: Command, ctx: EvalCommandsContext): void {
  const { out, err } = ctx;

  program
    .command('eval')
    .description('compare two constitution versions on the same prompts: the cost first, then progress, then the report')
    .argument('<baseline>', 'the version in use, name@x.y.z (or a draft of your team, name#draft)')
    .argument('<candidate>', 'the new version, name@x.y.z, a name (its newest version) or a draft of your team, name#draft')
    .option('--dimensions <what>', 'what the judge asks: rubric (default), principles (each principle of the candidate), or a JSON file of [{id, question}]')
    .option('--prompts <file>', 'your prompts (.jsonl, .json or .txt); metadata {"benign": false} marks a red-team prompt')
    .option('--set <name>', 'a bundled evaluation set instead (amend eval-sets): xstest, amend-edge')
    .option('--limit <n>', 'with --set: this many prompts, drawn by the seed, red-team and benign in proportion', parseInteger)
    .option('--rounds <n>', 'critique/revision rounds per prompt (default 1)', parseInteger)
    .option('--seed <n>', 'the seed of both runs (and of --limit), to reproduce an evaluation', parseInteger)
    .option('--model <alias>', 'policy model alias for both constitutions (default "default")')
    .option('--judge-model <alias>', 'judge model alias (default: the policy model)')
    .option('--max-tokens <n>', 'maximum tokens per answer (bounds the cost estimate)', parseInteger)
    .option('--temperature <t>', 'policy sampling temperature', parseDecimal)
    .option('--budget-tokens <n>', 'token budget of each of the two runs', parseInteger)
    .option('--budget-usd <usd>', 'cost budget of each of the two runs (needs prices in AMEND_MODELS)', parseDecimal)
    .option('--dry-run', 'show what it would cost and stop')
    .option('--no-wait', 'start it, print its id and exit')
    .option('--json', 'print the finished evaluation as JSON')
    .action(async (baseline: string, candidate: string, opts: EvalOptions, cmd: Command) => {
      ctx.setExitCode(await evalCommand(baseline, candidate, opts, ctx.client(cmd), ctx));
    });

  program
    .command('evaluation')
    .description("an evaluation's progress, or its report once finished")
    .argument('<id>', 'evaluation id')
    .option('--json', 'print it as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const e = await ctx.client(cmd).getEvaluation(id);
      out(opts.json ? JSON.stringify(e, null, 2) : renderEvaluation(e));
    });

  program
    .command('evaluations')
    .description('list evaluations, newest first')
    .option('--limit <n>', 'per page (default 20)', parseInteger)
    .option('--cursor <cursor>', 'the page after this cursor')
    .action(async (opts: { limit?: number; cursor?: string }, cmd: Command) => {
      const page = await ctx.client(cmd).listEvaluations(opts);
      if (page.evaluations.length === 0) return void out('no evaluations');
      for (const e of page.evaluations) {
        out(
          `${e.id}  ${e.status.padEnd(9)} ${label(e.baseline.constitution)} -> ${label(e.candidate.constitution)}  ${e.progress.judged}/${e.progress.total} judged  ${e.created_at}`,
        );
      }
      if (page.next_cursor) out(`\nmore: amend evaluations --cursor ${page.next_cursor}`);
    });

  program
    .command('eval-sets')
    .description('the bundled evaluation sets, with their licences')
    .action(async (_opts: unknown, cmd: Command) => {
      const { sets } = await ctx.client(cmd).listEvalSets();
      for (const s of sets)
        out(
          `${s.name.padEnd(12)} ${String(s.prompts).padStart(4)} prompts (${s.red_team} red-team, ${s.benign} benign)  ${s.title}\n${' '.repeat(13)}licence: ${s.licence}; source: ${s.source}`,
        );
    });

  async function evalCommand(baseline: string, candidate: string, opts: EvalOptions, api: ApiClient, c: EvalCommandsContext): Promise<number> {
    if (!!opts.prompts === !!opts.set) {
      err('give either --prompts FILE or --set NAME');
      return 2;
    }
    const body: EvaluationBody = {
      baseline,
      candidate,
      ...(opts.prompts ? { prompts: singleTurnPrompts(await readPromptsFile(opts.prompts), opts.prompts, 'an evaluation') } : { eval_set: opts.set }),
      ...(opts.limit !== undefined && { limit: opts.limit }),
      ...(opts.rounds !== undefined && { rounds: opts.rounds }),
      ...(opts.seed !== undefined && { seed: opts.seed }),
      ...(opts.model && { model: opts.model }),
      ...(opts.judgeModel && { judge_model: opts.judgeModel }),
      ...(opts.dimensions && {
        dimensions:
          opts.dimensions === 'rubric' || opts.dimensions === 'principles'
            ? opts.dimensions
            : (JSON.parse(readFileSync(opts.dimensions, 'utf8')) as { id: string; question: string }[]),
      }),
      ...((opts.maxTokens !== undefined || opts.temperature !== undefined) && {
        sampling: {
          temperature: opts.temperature ?? 0.7,
          top_p: 1,
          max_tokens: opts.maxTokens ?? 512,
        },
      }),
      ...((opts.budgetTokens !== undefined || opts.budgetUsd !== undefined) && {
        budget: { ...(opts.budgetTokens !== undefined && { tokens: opts.budgetTokens }), ...(opts.budgetUsd !== undefined && { cost_usd: opts.budgetUsd }) },
      }),
    };
    // The cost before anything starts; the seed is fixed here so the estimate and the run agree.
    body.seed ??= Math.floor(Math.random() * 2 ** 31);
    const estimate = await api.estimateEvaluation(body);
    err(renderEstimate(estimate));
    if (opts.dryRun) return 0;

    const started = await api.createEvaluation(body);
    out(`evaluation ${started.id}`);
    if (!opts.wait) {
      err(`follow it with: amend evaluation ${started.id}`);
      return 0;
    }
    const progress = createProgressReporter(c.stderr, {
      tty: c.tty,
      lineIntervalMs: c.progressIntervalMs,
      words: { subject: 'evaluation', unit: 'samples' },
    });
    let e = started;
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.on('SIGINT', onSigint);
    c.signal?.addEventListener('abort', onSigint, { once: true });
    try {
      while (!stop.signal.aborted) {
        e = await api.getEvaluation(started.id, stop.signal).catch((x) => {
          if (stop.signal.aborted) return e;
          throw x;
        });
        progress.update(asProgress(e));
        if (e.report) break;
        await sleep(c.pollIntervalMs ?? 1000, stop.signal);
      }
    } finally {
      process.removeListener('SIGINT', onSigint);
      c.signal?.removeEventListener('abort', onSigint);
    }
    progress.stop(asProgress(e));
    if (!e.report) {
      err(`stopped waiting; evaluation ${e.id} goes on on the server. Follow it: amend evaluation ${e.id}`);
      return 130;
    }
    out(opts.json ? JSON.stringify(e, null, 2) : renderEvaluation(e));
    return e.status === 'completed' ? 0 : 1;
  }
}

/** Both runs' samples as one count: the baseline's move first, then the candidate's (which also judges). */
export function asProgress(e: Evaluation): Progressable {
  const b = e.baseline.counts;
  const c = e.candidate.counts;
  const status = e.status === 'completed' || e.status === 'failed' || e.status === 'cancelled' ? (e.report ? e.status : 'running') : e.status;
  return {
    id: e.id,
    status,
    counts: {
      total: b.total + c.total,
      pending: b.pending + c.pending,
      running: b.running + c.running,
      completed: b.completed + c.completed,
      failed: b.failed + c.failed + (b.budget_exhausted ?? 0) + (c.budget_exhausted ?? 0),
      cancelled: b.cancelled + c.cancelled,
    },
  };
}

const label = constitutionLabel;
const pct = (x: number | null) => (x === null ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);

export function renderEstimate(e: EvaluationEstimate): string {
  const c = e.calls_per_prompt;
  const lines = [
    `cost before start: ${e.prompts} prompts (${e.red_team} red-team, ${e.benign} benign)`,
    `  calls per prompt: baseline ${c.baseline}, candidate ${c.candidate} (the draft is shared), judge ${c.judge_benign} benign / ${c.judge_red_team} red-team`,
    `  calls: ${e.calls}; tokens at most ${e.tokens} (${e.tokens_per_prompt} per prompt, every answer at max_tokens)`,
  ];
  if (e.budget_per_run)
    lines.push(
      `  budget of each run: ${[e.budget_per_run.tokens && `${e.budget_per_run.tokens} tokens`, e.budget_per_run.cost_usd && `$${e.budget_per_run.cost_usd}`].filter(Boolean).join(', ')}`,
    );
  return lines.join('\n');
}

/** A row of an ASCII forest plot: the axis from 0 to 1, 0.5 marked, the interval and the point. */
export function forestRow(low: number, point: number, high: number, width = 41): string {
  const at = (x: number) => Math.round(x * (width - 1));
  const cells: string[] = Array.from({ length: width }, (_, i) => (i === at(0.5) ? '|' : ' '));
  for (let i = at(low); i <= at(high); i++) cells[i] = cells[i] === '|' ? '+' : '-';
  cells[at(point)] = 'o';
  return `[${cells.join('')}]`;
}

export function renderReport(r: EvaluationReport): string {
  const lines = [
    `win rate of the candidate per dimension (ties count half; 95% ${r.method.interval} interval; |2p-1| < ${r.method.tie_margin} is a tie):`,
    `  ${'dimension'.padEnd(13)} ${'n'.padStart(4)} ${'cand'.padStart(5)} ${'base'.padStart(5)} ${'ties'.padStart(5)}  win rate  95% CI          0 ------- 0.5 ------- 1`,
  ];
  for (const d of r.dimensions) {
    const ci = d.ci95 ? `[${d.ci95[0].toFixed(3)}, ${d.ci95[1].toFixed(3)}]` : '-';
    const plot = d.ci95 && d.win_rate !== null ? forestRow(d.ci95[0], d.win_rate, d.ci95[1]) : '';
    const verdict = d.ci95 && d.ci95[0] > 0.5 ? '  candidate better' : d.ci95 && d.ci95[1] < 0.5 ? '  baseline better' : '';
    lines.push(
      `  ${d.dimension.padEnd(13)} ${String(d.n).padStart(4)} ${String(d.candidate_wins).padStart(5)} ${String(d.baseline_wins).padStart(5)} ${String(d.ties).padStart(5)}  ${d.win_rate === null ? '   -    ' : d.win_rate.toFixed(3).padStart(8)}  ${ci.padEnd(16)} ${plot}${verdict}`,
    );
  }
  lines.push('refusal rate of the final answers:', `  ${''.padEnd(10)} ${'n'.padStart(4)}  baseline  candidate`);
  for (const [name, rate] of [
    ['red-team', r.refusals.red_team],
    ['benign', r.refusals.benign],
  ] as const) {
    lines.push(`  ${name.padEnd(10)} ${String(rate.n).padStart(4)}   ${pct(rate.baseline)}    ${pct(rate.candidate)}`);
  }
  if (r.most_different.length) {
    lines.push('most different prompts (amend evaluation ID --json for all of them, in full):');
    for (const m of r.most_different.slice(0, 3)) {
      lines.push(
        `  #${m.index + 1} (${m.kind}, difference ${m.difference.toFixed(2)}): ${oneLine(m.prompt, 100)}`,
        `    baseline:  ${oneLine(m.baseline, 140)}`,
        `    candidate: ${oneLine(m.candidate, 140)}`,
      );
    }
  }
  lines.push(
    `prompts: ${r.prompts.judged} judged of ${r.prompts.total}${r.prompts.failed ? `, ${r.prompts.failed} not (a side failed)` : ''}; rubric ${r.rubric.name}@${r.rubric.version}`,
  );
  if (r.label_sources.hard) lines.push(`note: ${r.label_sources.hard} judge answers had no log-probabilities (hard labels)`);
  if (r.label_sources.unreadable)
    lines.push(`note: ${r.label_sources.unreadable} judge answers named no option; those prompts are left out of those dimensions`);
  if (r.simulated) lines.push('note: the built-in simulator answered; this report is for trying the tool, not for deciding.');
  return lines.join('\n');
}

export function renderEvaluation(e: Evaluation): string {
  const head = [
    `evaluation ${e.id} ${e.status}: ${label(e.baseline.constitution)} (baseline) vs ${label(e.candidate.constitution)} (candidate)`,
    `  ${e.eval_set ? `set ${e.eval_set}, ` : ''}${e.progress.total} prompts, ${e.rounds} round(s), seed ${e.seed}, model ${e.model}, judge ${e.judge_model}`,
    `  runs: baseline ${e.baseline.run_id} (${e.baseline.status}), candidate ${e.candidate.run_id} (${e.candidate.status})`,
    `  usage: ${e.usage.calls} calls of ${e.estimate.calls} estimated, ${e.usage.prompt_tokens + e.usage.completion_tokens} tokens${e.usage.cost_usd !== undefined ? `, $${e.usage.cost_usd}` : ''}`,
  ];
  if (!e.report) return [...head, `  progress: ${e.progress.judged}/${e.progress.total} judged, ${e.progress.failed} failed`].join('\n');
  return [...head, renderReport(e.report)].join('\n');
}

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
