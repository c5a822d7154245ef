import { isRunFinished, type Run } from '@amend/contracts';

export const shortId = (id: string) => id.slice(0, 8);

export function formatNumber(n: number): string {
  return new Intl.NumberFormat('en').format(n);
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function percent(x: number | null | undefined, digits = 0): string {
  return x === null || x === undefined ? '—' : `${(x * 100).toFixed(digits)}%`;
}

export const isActive = (run: Pick<Run, 'status'>) => !isRunFinished(run.status);

/** Samples finished either way: the progress bar's filled part. */
export const finished = (run: Run) => run.counts.completed + run.counts.failed + run.counts.cancelled + (run.counts.budget_exhausted ?? 0);

/**
 * Samples per second since the run started, up to its end (or now). A run's own figure, so the
 * rate of a finished run stays what it was.
 */
export function runRate(run: Run, now = Date.now()): { perSecond: number; tokensPerSecond: number; elapsedMs: number } | null {
  if (!run.started_at) return null;
  const end = run.finished_at ? new Date(run.finished_at).getTime() : now;
  const elapsedMs = end - new Date(run.started_at).getTime();
  if (elapsedMs <= 0) return null;
  const tokens = run.usage.prompt_tokens + run.usage.completion_tokens;
  return { perSecond: (run.counts.completed + run.counts.failed) / (elapsedMs / 1000), tokensPerSecond: tokens / (elapsedMs / 1000), elapsedMs };
}

/** Time left at the current rate, for a run still going. */
export function eta(run: Run, now = Date.now()): number | null {
  const rate = runRate(run, now);
  if (!rate || rate.perSecond <= 0 || !isActive(run)) return null;
  return ((run.counts.pending + run.counts.running) / rate.perSecond) * 1000;
}

export function formatCost(usd: number | undefined): string | null {
  return usd === undefined ? null : `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

/**
 * A prompt's metadata as rows of the pair page, `metadata.<key>` and the value (strings as they
 * are, anything else as JSON), in the order handed in; one `prompt metadata: —` row when it has none.
 */
export function promptMetadataRows(metadata: Record<string, unknown> | null | undefined): [string, string][] {
  const entries = Object.entries(metadata ?? {});
  if (entries.length === 0) return [['prompt metadata', '—']];
  return entries.map(([k, v]) => [`metadata.${k}`, typeof v === 'string' ? v : JSON.stringify(v)]);
}

/** `conversational: 12 lines (4,321 bytes); left out: truncated 3`, or that the export is empty. */
export function downloadSummary(format: string, got: { bytes: number; lines: number; excluded: Record<string, number> | null }): string {
  const left = Object.entries(got.excluded ?? {}).filter(([, n]) => n > 0);
  const out = left.length ? `; left out: ${left.map(([why, n]) => `${why} ${formatNumber(n)}`).join(', ')}` : got.excluded ? '; nothing left out' : '';
  const lines = `${formatNumber(got.lines)} ${got.lines === 1 ? 'line' : 'lines'}`;
  return got.lines === 0 ? `${format}: the export is empty (0 lines)${out}` : `${format}: ${lines} (${formatNumber(got.bytes)} bytes)${out}`;
}
