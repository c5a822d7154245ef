import { SingleBar } from 'cli-progress';
import type { Run } from '@amend/contracts';

/** What a progress bar follows: a run, or anything counted like one (an evaluation's two runs). */
export type Progressable = Pick<Run, 'id' | 'status' | 'counts'> & Partial<Pick<Run, 'batch' | 'usage'>>;

/** How the lines name what moves: `run ... pairs/s` by default. */
export interface ProgressWords {
  subject: string;
  unit: string;
}
const RUN_WORDS: ProgressWords = { subject: 'run', unit: 'pairs' };

/** One observation of a run's counts, at a local time in ms. */
export interface ProgressPoint {
  at: number;
  /** completed + failed + cancelled: samples that will not change any more. */
  done: number;
  completed: number;
  /** Model calls made (usage.calls); absent when the run view has no planned count. */
  calls?: number;
}

export interface ProgressStats {
  total: number;
  done: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Pairs (completed samples) per second over the recent window; null until two points differ in time. */
  pairsPerSecond: number | null;
  /**
   * Model calls made and planned (usage.calls of usage.calls_planned): they move within a sample,
   * where samples only move when one finishes. Null when the run view has no plan.
   */
  calls: { done: number; planned: number } | null;
  /** Tokens (prompt + completion) and cost so far; cost null when the run's models have no prices. */
  tokens: number | null;
  costUsd: number | null;
  /** Seconds until every call (else every sample) is done at the recent rate; null while nothing moves. */
  etaSeconds: number | null;
}

export function doneOf(run: Progressable): number {
  return run.counts.completed + run.counts.failed + run.counts.cancelled;
}

/**
 * Rates over a sliding window rather than since submission: a run that waited in the queue behind
 * another one would otherwise show a rate (and an ETA) dragged down by the wait.
 */
export function progressStats(run: Progressable, history: ProgressPoint[], windowMs = 30_000): ProgressStats {
  const u = run.usage;
  const base = {
    total: run.counts.total,
    done: doneOf(run),
    completed: run.counts.completed,
    failed: run.counts.failed,
    cancelled: run.counts.cancelled,
    calls: u?.calls_planned !== undefined ? { done: u.calls, planned: Math.max(u.calls, u.calls_planned) } : null,
    tokens: u ? u.prompt_tokens + u.completion_tokens : null,
    costUsd: u?.cost_usd ?? null,
  };
  const last = history[history.length - 1];
  if (!last) return { ...base, pairsPerSecond: null, etaSeconds: null };
  const first = history.find((p) => last.at - p.at <= windowMs) ?? last;
  const seconds = (last.at - first.at) / 1000;
  if (seconds <= 0) return { ...base, pairsPerSecond: null, etaSeconds: null };
  const pairsPerSecond = (last.completed - first.completed) / seconds;
  if (base.calls && last.calls !== undefined && first.calls !== undefined) {
    // Calls move within a sample, so a run of long samples gets an ETA before the first one finishes.
    const callsPerSecond = (last.calls - first.calls) / seconds;
    const left = base.calls.planned - base.calls.done;
    const etaSeconds = left <= 0 || base.done >= base.total ? 0 : callsPerSecond > 0 ? left / callsPerSecond : null;
    return { ...base, pairsPerSecond, etaSeconds };
  }
  const donePerSecond = (last.done - first.done) / seconds;
  const remaining = Math.max(0, base.total - base.done);
  const etaSeconds = remaining === 0 ? 0 : donePerSecond > 0 ? remaining / donePerSecond : null;
  return { ...base, pairsPerSecond, etaSeconds };
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** `45/140 calls (32%)`, or '' when the run view has no planned count. */
export function formatCalls(s: Pick<ProgressStats, 'calls'>): string {
  if (!s.calls) return '';
  const pct = s.calls.planned > 0 ? Math.floor((100 * s.calls.done) / s.calls.planned) : 0;
  return `${s.calls.done}/${s.calls.planned} calls (${pct}%)`;
}

/** US dollars with enough digits to see a small run move: $0.000123, $0.0421, $12.35. */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  return `$${usd.toPrecision(3).replace(/0+$/, '').replace(/\.$/, '')}`;
}

/** `12,345 tokens, $0.0421`: what the run has spent so far (no cost without prices); '' before the first call. */
export function formatSpend(s: Pick<ProgressStats, 'tokens' | 'costUsd'>): string {
  if (!s.tokens) return '';
  return `${s.tokens.toLocaleString('en-US')} tokens${s.costUsd !== null ? `, ${formatUsd(s.costUsd)}` : ''}`;
}

export function formatRate(rate: number | null): string {
  if (rate === null) return '--';
  return rate >= 10 ? rate.toFixed(0) : rate.toFixed(1);
}

/**
 * A batch run's wave and its batches' request counts (`wave 1: in_progress 40/100, 2 failed`);
 * null for an online run. Samples finish only at the last wave, so this is what moves meanwhile.
 */
export function formatBatch(run: Progressable): string | null {
  const b = run.batch;
  if (!b) return null;
  if (b.wave === null) return 'wave 0: submitting';
  const batches = b.batches.map((x) => {
    const c = x.request_counts;
    return `${x.status} ${c.completed + c.failed}/${c.total}${c.failed ? `, ${c.failed} failed` : ''}`;
  });
  return `wave ${b.wave}: ${batches.join('; ') || 'planning'}`;
}

/** The one-line form, for logs and pipes where a redrawn bar would be noise. */
export function progressLine(runId: string, status: string, s: ProgressStats, batch: string | null = null, words: ProgressWords = RUN_WORDS): string {
  const pct = s.total > 0 ? Math.floor((100 * s.done) / s.total) : 0;
  const cancelled = s.cancelled > 0 ? `, ${s.cancelled} cancelled` : '';
  const calls = formatCalls(s);
  const spend = formatSpend(s);
  return (
    `${words.subject} ${runId} ${status}: ${s.done}/${s.total} done (${pct}%), ${s.completed} completed, ${s.failed} failed` +
    `${cancelled}${calls ? `, ${calls}` : ''}, ${formatRate(s.pairsPerSecond)} ${words.unit}/s, ETA ${formatDuration(s.etaSeconds)}` +
    `${spend ? `, ${spend}` : ''}${batch ? ` | ${batch}` : ''}`
  );
}

export interface ProgressReporter {
  update(run: Progressable): void;
  /** The run reached its end (or the wait stopped): draw the last state and release the terminal. */
  stop(run?: Progressable): void;
}

export interface ProgressOptions {
  /** Draw a redrawn bar (interactive terminal) or print lines (CI, pipes). */
  tty: boolean;
  /** How often lines are printed in non-TTY mode. */
  lineIntervalMs?: number;
  now?: () => number;
  /** Default: `run` and `pairs`. */
  words?: ProgressWords;
}

/** History kept for the sliding window; older points are dropped. */
const HISTORY_MS = 60_000;

export function createProgressReporter(stream: NodeJS.WritableStream, opts: ProgressOptions): ProgressReporter {
  const now = opts.now ?? Date.now;
  const history: ProgressPoint[] = [];
  const observe = (run: Progressable): ProgressStats => {
    const at = now();
    history.push({ at, done: doneOf(run), completed: run.counts.completed, ...(run.usage?.calls_planned !== undefined && { calls: run.usage.calls }) });
    while (history.length > 2 && at - history[0].at > HISTORY_MS) history.shift();
    return progressStats(run, history);
  };
  const words = opts.words ?? RUN_WORDS;
  return opts.tty ? barReporter(stream, observe, words) : lineReporter(stream, observe, now, opts.lineIntervalMs ?? 5_000, words);
}

function barReporter(stream: NodeJS.WritableStream, observe: (run: Progressable) => ProgressStats, words: ProgressWords): ProgressReporter {
  const bar = new SingleBar({
    stream: stream as NodeJS.WriteStream,
    format: ` {bar} {percentage}% | {value}/{total} {what} | {completed} completed, {failed} failed | {rate} ${words.unit}/s | ETA {eta_text}{spend}{batch}`,
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
  });
  let started = false;
  const draw = (run: Progressable) => {
    const s = observe(run);
    // The bar follows calls when the run view plans them (they move within a sample), else samples.
    const [value, total] = s.calls ? [s.calls.done, s.calls.planned] : [s.done, s.total];
    const spend = formatSpend(s);
    const payload = {
      what: s.calls ? `calls, ${s.done}/${s.total} done` : 'done',
      completed: s.completed,
      failed: s.failed,
      rate: formatRate(s.pairsPerSecond),
      eta_text: formatDuration(s.etaSeconds),
      spend: spend ? ` | ${spend}` : '',
      batch: run.batch ? ` | ${formatBatch(run)}` : '',
    };
    if (!started) {
      bar.start(total, value, payload);
      started = true;
    } else {
      bar.setTotal(total);
      bar.update(value, payload);
    }
  };
  return {
    update: draw,
    stop(run) {
      if (run) draw(run);
      if (started) bar.stop();
    },
  };
}

function lineReporter(
  stream: NodeJS.WritableStream,
  observe: (run: Progressable) => ProgressStats,
  now: () => number,
  intervalMs: number,
  words: ProgressWords,
): ProgressReporter {
  let lastPrinted: number | null = null;
  let lastLine = '';
  const print = (run: Progressable, force: boolean) => {
    const line = progressLine(run.id, run.status, observe(run), formatBatch(run), words);
    const due = lastPrinted === null || now() - lastPrinted >= intervalMs;
    if ((force && line !== lastLine) || due) {
      stream.write(`${line}\n`);
      lastPrinted = now();
      lastLine = line;
    }
  };
  return {
    update: (run) => print(run, false),
    stop(run) {
      if (run) print(run, true);
    },
  };
}
