import type { ErrorCode, PairSearchHit, Run, Sample } from '@amend/contracts';
import { ErrorAnswer, ConstitutionList } from './api-client';
import { doneOf, formatBatch, formatDuration, formatUsd } from './progress';

/** Human-readable text for what the CLI prints. Pure: values in, strings out. */

const n = (v: number) => v.toLocaleString('en-US');

/** Constitution file errors: the message already lists each issue with its position and fix. */
const SELF_DESCRIBING: ReadonlySet<string> = new Set<ErrorCode>([
  'constitution_invalid',
  'constitution_syntax',
  'constitution_layout',
  'constitution_unreadable',
]);

export function formatError(err: unknown): string {
  if (err instanceof ErrorAnswer) {
    const status = err.status === null ? '' : ` (HTTP ${err.status})`;
    const details = SELF_DESCRIBING.has(err.code) ? '' : formatDetails(err.details);
    return `error: ${err.code}${status}: ${err.message}${details}`;
  }
  if (err instanceof Error) return `error: ${err.message}`;
  return `error: ${String(err)}`;
}

/** Validation details arrive as a list of `{path, message}` issues; anything else is shown as JSON. */
function formatDetails(details: unknown): string {
  if (details === undefined || details === null) return '';
  const list = Array.isArray(details)
    ? details
    : typeof details === 'object' && Array.isArray((details as { issues?: unknown }).issues)
      ? (details as { issues: unknown[] }).issues
      : null;
  if (list) {
    const lines = list.map((d) => {
      if (typeof d === 'string') return d;
      const issue = d as { path?: unknown; message?: unknown };
      if (typeof issue?.message === 'string') {
        const path = Array.isArray(issue.path) ? issue.path.join('.') : typeof issue.path === 'string' ? issue.path : '';
        return path ? `${path}: ${issue.message}` : issue.message;
      }
      return JSON.stringify(d);
    });
    return lines.map((l) => `\n  - ${l}`).join('');
  }
  if (typeof details === 'string') return `\n  ${details}`;
  return `\n${JSON.stringify(details, null, 2)
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}`;
}

export function constitutionLabel(run: Run): string {
  return `${run.constitution.name}@${run.constitution.version}`;
}

export function formatCounts(run: Run): string {
  const c = run.counts;
  return (
    `${n(doneOf(run))}/${n(c.total)} done: ${n(c.completed)} completed, ${n(c.failed)} failed, ` +
    `${n(c.cancelled)} cancelled, ${n(c.running)} running, ${n(c.pending)} pending`
  );
}

/**
 * Calls (`35 of 140 model calls` while some are still planned), tokens and cost. The cost is the
 * API's usage.cost_usd, present when AMEND_MODELS gives the run's models prices.
 */
export function formatUsage(run: Run): string {
  const u = run.usage;
  const calls = u.calls_planned !== undefined && u.calls_planned > u.calls ? `${n(u.calls)} of ${n(u.calls_planned)} model calls` : `${n(u.calls)} model calls`;
  const cost = u.cost_usd !== undefined ? `cost ${formatUsd(u.cost_usd)}` : 'cost not known (no prices for these models in AMEND_MODELS)';
  return `${calls}, ${n(u.prompt_tokens)} prompt tokens, ${n(u.completion_tokens)} completion tokens (${n(u.prompt_tokens + u.completion_tokens)} tokens), ${cost}`;
}

export function formatFailures(run: Run): string[] {
  return run.failures.map((f) => `${String(f.count).padStart(6)} × ${f.reason}`);
}

/** The mode with the options that shape it: rounds, or candidates and the judge's settings. */
export function modeLabel(run: Run): string {
  const judge = [
    run.ensemble !== undefined && run.ensemble > 1 ? `ensemble ${run.ensemble}` : '',
    run.cot ? 'chain-of-thought' : '',
    run.min_margin ? `min_margin ${run.min_margin}` : '',
  ].filter(Boolean);
  if (run.mode === 'ai-feedback') return [`ai-feedback, ${run.candidates ?? 2} candidates`, ...judge].join(', ');
  const rounds = `${run.mode}, ${run.rounds} round${run.rounds === 1 ? '' : 's'}`;
  return run.verify ? [rounds, 'verified by the feedback model', ...judge].join(', ') : rounds;
}

export function elapsed(run: Run): string | null {
  if (!run.started_at) return null;
  const end = run.finished_at ? Date.parse(run.finished_at) : Date.now();
  const start = Date.parse(run.started_at);
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return formatDuration((end - start) / 1000);
}

export function renderRunStatus(run: Run): string {
  const rows: [string, string][] = [
    ['run', run.id],
    ['status', run.status],
    ['constitution', `${constitutionLabel(run)} (sha256 ${run.constitution.sha256})`],
    ['mode', `${modeLabel(run)}, seed ${run.seed}`],
    [
      'model',
      `${run.model}${run.feedback_model ? `, feedback ${run.feedback_model}` : ''}` +
        `${run.simulated ? ' (built-in simulator: outputs are not from a real model)' : ''}`,
    ],
    ['sampling', `temperature ${run.sampling.temperature}, top_p ${run.sampling.top_p}, max_tokens ${run.sampling.max_tokens}`],
    ['samples', formatCounts(run)],
    ['usage', formatUsage(run)],
    ...(run.batch
      ? ([['batch', `${formatBatch(run)} (${run.batch.totals.batches} batches, ${run.batch.totals.requests} requests so far)`]] as [string, string][])
      : []),
    ['created', run.created_at],
  ];
  if (run.started_at) rows.push(['started', run.started_at]);
  if (run.finished_at) rows.push(['finished', run.finished_at]);
  const took = elapsed(run);
  if (took) rows.push([run.finished_at ? 'took' : 'running for', took]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (run.stopped) lines.push(`stopped  ${run.stopped.message} (${run.stopped.samples_stopped} samples cancelled)`);
  const failures = formatFailures(run);
  if (failures.length) lines.push('failures', ...failures);
  return lines.join('\n');
}

export function renderRunsTable(runs: Run[], nextCursor: string | null): string {
  if (runs.length === 0) return 'no runs';
  const head = ['ID', 'STATUS', 'CONSTITUTION', 'DONE', 'FAILED', 'CREATED'];
  const rows = runs.map((r) => [r.id, r.status, constitutionLabel(r), `${doneOf(r)}/${r.counts.total}`, String(r.counts.failed), r.created_at]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(head), ...rows.map(line)];
  if (nextCursor) out.push('', `more runs: amend runs --cursor ${nextCursor}`);
  return out.join('\n');
}

export function renderSample(sample: Sample, opts: { messages?: boolean } = {}): string {
  const u = sample.usage;
  const out = [
    `sample   ${sample.id}${sample.external_id ? ` (id "${sample.external_id}")` : ''}`,
    `run      ${sample.run_id}, prompt #${sample.index + 1}`,
    `status   ${sample.status}, next stage: ${sample.stage}`,
  ];
  if (sample.failure_reason) out.push(`failure  ${sample.failure_reason}`);
  out.push(`usage    ${n(u.calls)} calls, ${n(u.prompt_tokens)} prompt + ${n(u.completion_tokens)} completion tokens`);
  if (sample.metadata && Object.keys(sample.metadata).length) out.push(`metadata ${JSON.stringify(sample.metadata)}`);
  const v = sample.verification;
  if (v) out.push(`trail    ${verificationLine(v)}`);
  out.push('', '── prompt', indent(v?.status === 'erased' ? '(erased)' : sample.prompt));
  for (const stage of [...sample.stages].sort((a, b) => a.seq - b.seq)) {
    const round = stage.stage === 'draft' ? '' : ` round ${stage.round}`;
    const principle = stage.principle_id ? ` · principle ${stage.principle_id}` : '';
    const sim = stage.simulated ? ' (simulated)' : '';
    // The marker the read path computed: what is shown is what the trail committed to (or why not).
    const mark = stage.verified === undefined ? '' : stage.verified ? ' · ✓ verified' : v?.status === 'erased' ? ' · erased' : ' · ✗ NOT VERIFIED';
    out.push(
      '',
      `── ${stage.stage}${round}${principle} · ${stage.model}${sim} · ` +
        `${stage.usage.prompt_tokens}+${stage.usage.completion_tokens} tokens · ${Math.round(stage.latency_ms)} ms${mark}`,
    );
    if (opts.messages) {
      for (const m of stage.messages) out.push(`  [${m.role}]`, indent(m.content, 4));
      out.push('  [response]');
      out.push(indent(stage.text, 4));
    } else {
      // The request is the last message sent; earlier ones repeat the conversation so far.
      const request = stage.messages[stage.messages.length - 1];
      if (request && stage.stage !== 'draft') out.push(`  asked: ${oneLine(request.content)}`);
      out.push(indent(stage.text));
    }
  }
  return out.join('\n');
}

/** One line on whether what is shown is what the audit trail committed to. */
export function verificationLine(v: NonNullable<Sample['verification']>): string {
  switch (v.status) {
    case 'verified':
      return 'verified: every stage and the prompt are what the audit trail recorded';
    case 'erased':
      return `erased by ${v.erasure?.by ?? 'unknown'} at ${v.erasure?.at ?? '?'}${v.erasure?.reason ? ` (${v.erasure.reason})` : ''}; the trail keeps its hashes`;
    case 'altered':
      return `ALTERED: ${v.altered.join(', ')} differ from the audit trail (amend audit verify on the run names every row)`;
  }
}

export function renderConstitutions(list: ConstitutionList): string {
  if (list.constitutions.length === 0) return 'no constitutions';
  const out: string[] = [];
  for (const c of list.constitutions) {
    out.push(`${c.name} (latest ${c.latest ?? 'none: every version is deprecated'})`);
    for (const v of c.versions) {
      const deprecated = v.deprecated ? '  (deprecated)' : '';
      out.push(`  ${v.version.padEnd(10)} ${v.sha256.slice(0, 12)}${v.title ? `  ${v.title}` : ''}${deprecated}`);
    }
  }
  return out.join('\n');
}

function indent(text: string, by = 2): string {
  const pad = ' '.repeat(by);
  return text
    .split('\n')
    .map((l) => (l ? pad + l : l))
    .join('\n');
}

function oneLine(text: string, max = 160): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** One pair a search found: ids, sample, review status and flags, the prompt, and the matched passages. */
export function renderSearchHit(hit: PairSearchHit): string {
  const flags = hit.flags.length ? `  [${hit.flags.join(',')}]` : '';
  const prompt = hit.prompt.replace(/\s+/g, ' ');
  const head = `${hit.id}  run ${hit.run_id.slice(0, 8)}  #${hit.sample_index + 1}  ${hit.review_status}${flags}  ${prompt.length > 100 ? `${prompt.slice(0, 99)}…` : prompt}`;
  return hit.snippet ? `${head}\n    ${hit.snippet.replace(/\s+/g, ' ')}` : head;
}
