import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { checkDatasetFile, renderBundleSummary, verifyBundle, type BundleReport, type DatasetFileReport, type VerifyFailure } from '@amend/audit';
import { KEY_ROLE_NAMES, type RowsVerify, type CreateKey, type Key, type KeyDirectoryEntry, type KeyRoleName } from '@amend/contracts';
import type { ApiClient } from './api-client';
import { parseInteger } from './arg-parsers';
import { downloadToFile } from './download';

type Print = (s: string) => void;

export interface AuditCommandsContext {
  client: (cmd: Command) => ApiClient;
  out: Print;
  err: Print;
  setExitCode: (code: number) => void;
  cwd?: string;
}

/** Exit code of `amend audit verify` when the trail does not verify (1 is for errors: unreachable, 401...). */
export const EXIT_NOT_INTACT = 2;
const SHOWN_FAILURES = 10;

interface ReportLike {
  ok: boolean;
  events: number;
  chains: number;
  sealed: boolean;
  root: string | null;
  computed_root: string | null;
  first_failure: VerifyFailure | null;
  failures: VerifyFailure[];
  failures_total: number;
  /** The server's comparison of the run's pair and review rows with their events. */
  dataset?: {
    ok: boolean;
    pairs: number;
    reviews: number;
    failures: { kind: string; reason: string; id: string | null; message: string }[];
    failures_total: number;
  };
  /** The server's comparison of every row a read path serves with the events that committed to it. */
  rows?: RowsVerify;
}

function describeFailure(f: VerifyFailure): string {
  const what = f.event_id ? `event ${f.event_id}${f.type ? ` (${f.type})` : ''}` : f.type ? `a ${f.type} event` : 'events';
  const where = f.chain ? ` in ${f.chain}${f.seq !== null ? ` at seq ${f.seq}` : ''}` : '';
  return `${f.reason.replace('_', ' ')}: ${what}${where}: ${f.message}`;
}

export function renderVerify(subject: string, r: ReportLike): string {
  const scope = `${r.events} events in ${r.chains} chains, ${r.sealed ? `sealed (root ${r.root})` : 'not sealed'}`;
  const rows =
    (r.dataset ? `; ${r.dataset.pairs} pairs and ${r.dataset.reviews} reviews against their events` : '') + (r.rows ? `; ${checkedRows(r.rows)}` : '');
  const erased = r.rows?.erased_samples
    ? `\n${r.rows.erased_samples} sample(s) erased (content removed, hashes kept):\n${r.rows.erased.map((e) => `  ${e.sample_id} by ${e.by} at ${e.at}: ${e.reason ?? '(no reason)'}`).join('\n')}`
    : '';
  if (r.ok) return `${subject}: intact. ${scope}${rows}${erased}`;
  const lines = [`${subject}: NOT intact. ${scope}${rows}`];
  if (r.first_failure) {
    lines.push(`first: ${describeFailure(r.first_failure)}`);
    const rest = r.failures.slice(1, SHOWN_FAILURES);
    if (rest.length) lines.push('also:', ...rest.map((f) => `  ${describeFailure(f)}`));
    if (r.failures_total > SHOWN_FAILURES) lines.push(`  ... ${r.failures_total - SHOWN_FAILURES} more (--json for the list)`);
  }
  lines.push(...renderRows(r.rows));
  if (r.dataset && !r.dataset.ok) {
    lines.push(
      'dataset rows that differ from the trail:',
      ...r.dataset.failures.slice(0, SHOWN_FAILURES).map((f) => `  ${f.kind} ${f.id ?? '-'}: ${f.reason.replace('_', ' ')}: ${f.message}`),
    );
    if (r.dataset.failures_total > SHOWN_FAILURES) lines.push(`  ... ${r.dataset.failures_total - SHOWN_FAILURES} more (--json for the list)`);
  }
  return lines.join('\n');
}

function checkedRows(r: RowsVerify): string {
  const c = r.checked;
  return `${c.stage_records} stage records, ${c.samples} samples, ${c.content_blobs} message blobs, the run, its constitution, ${c.evaluations ? `${c.evaluations} evaluation report(s), ` : ''}${c.api_keys} acting key(s) against the trail`;
}

/** Each altered row by table, key and field, with what the trail says and who serves it. */
function renderRows(r: RowsVerify | undefined): string[] {
  if (!r || r.ok) return [];
  const lines = ['rows that differ from the trail (table key field: found / the trail says; served by):'];
  for (const f of r.failures.slice(0, SHOWN_FAILURES)) {
    lines.push(
      `  ${f.reason === 'missing' ? 'MISSING ' : ''}${f.table} ${f.key} ${f.field}: ${f.found ?? 'null'} / ${f.expected ?? 'null'}; served by ${f.read_paths.join(', ')}`,
    );
  }
  if (r.failures_total > SHOWN_FAILURES) lines.push(`  ... ${r.failures_total - SHOWN_FAILURES} more (--json for the list)`);
  return lines;
}

function lineReader(path: string) {
  return createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The summary written beside a bundle when none is named: `audit-x.jsonl` -> `audit-x.html`. */
export function defaultSummaryPath(bundle: string): string {
  return bundle.replace(/\.jsonl?$/i, '') + '.html';
}

interface OfflineResult {
  bundle: BundleReport;
  dataset?: DatasetFileReport;
  ok: boolean;
}

/** Checks a bundle (and a dataset file against it) from the files alone, and writes the summary if asked. */
async function verifyOffline(cwd: string, file: string, opts: { dataset?: string; summary?: string }): Promise<OfflineResult> {
  const path = resolve(cwd, file);
  if (!existsSync(path)) throw new Error(`no such file: ${file}`);
  const datasetPath = opts.dataset ? resolve(cwd, opts.dataset) : undefined;
  if (datasetPath && !existsSync(datasetPath)) throw new Error(`no such file: ${opts.dataset}`);
  const { pairs, erasedPairs, ...bundle } = await verifyBundle(lineReader(path), { keepPairs: !!datasetPath });
  const dataset = datasetPath ? await checkDatasetFile(lineReader(datasetPath), pairs ?? new Map(), erasedPairs) : undefined;
  if (opts.summary) {
    const html = renderBundleSummary({
      report: bundle,
      bundleFile: basename(path),
      bundleSha256: await fileSha256(path),
      ...(dataset && { dataset: { file: basename(datasetPath!), report: dataset } }),
    });
    await writeFile(resolve(cwd, opts.summary), html);
  }
  return { bundle, dataset, ok: bundle.ok && (dataset?.ok ?? true) };
}

export function renderBundle(file: string, r: BundleReport, dataset?: { file: string; report: DatasetFileReport }): string {
  const subject = `bundle ${file} (run ${r.run_id}, ${r.run_status}, exported ${r.exported_at})`;
  const lines = renderVerify(subject, { ...r, ok: r.ok }).split('\n');
  // A problem of the file itself (cut short, a line that is not JSON) explains the rest: say it first.
  const ofFile = r.failures.filter((f) => f.chain === null);
  if (ofFile.length) lines.splice(1, 0, ...ofFile.map((f) => `the file: ${f.message}`));
  if (r.bundle_version !== null && r.bundle_version >= 2) {
    const f = r.facts;
    lines.push(
      `  constitutions ${f.constitutions.map((c) => `${c.name}@${c.version}`).join(', ') || 'none'}; ${f.pairs} pairs, ${f.reviews} reviews, ${f.keys.length} keys; global chain ${r.global?.ok ? `intact (${r.global.events} events)` : 'NOT intact'}`,
    );
  } else lines.push('  a version 1 bundle: it holds the events only (no constitution texts, keys, pairs or manifest)');
  if (r.erasures.samples.length) {
    lines.push(
      `${r.erasures.samples.length} sample(s) erased (content removed, hashes kept; ${r.erasures.lines.length} bundle line(s) differ for that reason only):`,
      ...r.erasures.samples.slice(0, SHOWN_FAILURES).map((e) => `  ${e.sample_id} by ${e.by} at ${e.at}: ${e.reason ?? '(no reason)'}`),
    );
  }
  if (!r.evidence.ok) {
    lines.push(
      'evidence that does not match the trail:',
      ...r.evidence.failures
        .slice(0, SHOWN_FAILURES)
        .map((f) => `  ${f.kind}${f.id ? ` ${f.id}` : ''}${f.line !== null ? ` (line ${f.line})` : ''}: ${f.message}`),
    );
    if (r.evidence.failures_total > SHOWN_FAILURES) lines.push(`  ... ${r.evidence.failures_total - SHOWN_FAILURES} more (--json for the list)`);
  }
  if (dataset) {
    const d = dataset.report;
    const formats = Object.entries(d.formats)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    if (d.ok)
      lines.push(
        `dataset ${dataset.file}: every line matches its pair (${d.matched} lines${formats ? `: ${formats}` : ''})${d.erased.length ? `, but ${d.erased.length} line(s) of erased pairs` : ''}`,
      );
    else {
      lines.push(
        `dataset ${dataset.file}: ${d.failures_total} of ${d.lines} lines do NOT match their pair`,
        ...d.failures.slice(0, SHOWN_FAILURES).map((f) => `  ${f.message}`),
      );
      if (d.failures_total > SHOWN_FAILURES) lines.push(`  ... ${d.failures_total - SHOWN_FAILURES} more (--json for the list)`);
    }
    for (const e of d.erased.slice(0, SHOWN_FAILURES))
      lines.push(
        `  line ${e.line} (${e.format}, pair ${e.id}): its sample was erased by ${e.erasure.by} at ${e.erasure.at} (${e.erasure.reason ?? 'no reason'}): not comparable`,
      );
  }
  return lines.join('\n');
}

/**
 * `amend audit ...` for auditors: verify a run on the server, the global chain, or an exported
 * bundle offline (no database, no server: the file carries everything), check a dataset file
 * against a bundle, and export a run's bundle with its one-page summary.
 */
export function addAuditCommands(program: Command, ctx: AuditCommandsContext): void {
  const { out, err } = ctx;
  const cwd = ctx.cwd ?? process.cwd();
  const group = program.command('audit').description("verify and export a run's tamper-evident audit trail (auditor keys)");

  group
    .command('verify')
    .description(`recompute a run's hash chains and seal, the global chain, or a bundle offline; exit 0 intact, ${EXIT_NOT_INTACT} not intact, 1 error`)
    .argument('[run]', 'run id, verified by the server')
    .option('-f, --file <bundle>', 'verify an exported bundle offline instead (amend audit export): no server, no database')
    .option('--dataset <file>', 'with --file: check each line of a dataset file (any export format) against its pair in the bundle')
    .option('--summary <file>', 'with --file: also write the one-page HTML summary of the bundle')
    .option('--global', 'verify the global chain on the server (constitutions published, keys created and revoked)')
    .option('--suggestion <id>', "verify a suggestion set's chain and rows on the server (its calls, pairs and ranking)")
    .option('--json', 'print the full report as JSON')
    .action(
      async (
        runId: string | undefined,
        opts: { file?: string; dataset?: string; summary?: string; global?: boolean; suggestion?: string; json?: boolean },
        cmd: Command,
      ) => {
        if ([!!runId, !!opts.file, !!opts.global, !!opts.suggestion].filter(Boolean).length !== 1) {
          err('give one of: a run id, --file <bundle.jsonl>, --global or --suggestion <id>');
          return ctx.setExitCode(1);
        }
        if ((opts.dataset || opts.summary) && !opts.file) {
          err('--dataset and --summary go with --file <bundle.jsonl>: a dataset is checked against an exported bundle');
          return ctx.setExitCode(1);
        }
        if (opts.file) {
          const result = await verifyOffline(cwd, opts.file, opts);
          if (opts.json) out(JSON.stringify({ ...result.bundle, ...(result.dataset && { dataset_file: result.dataset }) }, null, 2));
          else out(renderBundle(opts.file, result.bundle, result.dataset && { file: opts.dataset!, report: result.dataset }));
          if (opts.summary) err(`summary written to ${opts.summary}`);
          return ctx.setExitCode(result.ok ? 0 : EXIT_NOT_INTACT);
        }
        if (opts.suggestion) {
          const r = await ctx.client(cmd).verifySuggestionAudit(opts.suggestion);
          const text = [
            `suggestions ${r.suggestion_id}: ${r.ok ? 'intact' : 'NOT INTACT'}; ${r.chain.events} events, chain ${r.chain.ok ? 'recomputes' : 'broken'}; ` +
              `${r.rows.checked.suggestion_calls} call rows and the set ${r.rows.ok ? 'match it' : 'do not all match it'}`,
            ...r.chain.failures.map((f) => `  chain: ${JSON.stringify(f)}`),
            ...r.rows.failures.map((f) => `  ${f.table} ${f.key} ${f.field}: ${f.why}`),
          ].join('\n');
          out(opts.json ? JSON.stringify(r, null, 2) : text);
          return ctx.setExitCode(r.ok ? 0 : EXIT_NOT_INTACT);
        }
        if (opts.global) {
          const report = await ctx.client(cmd).verifyGlobalAudit();
          // The global chain has no seal (it never finishes): its report says only whether it recomputes.
          const text = renderVerify('the global chain', report).replace(/, not sealed/, ' (constitutions published and deprecated, keys created and revoked)');
          out(opts.json ? JSON.stringify(report, null, 2) : text);
          return ctx.setExitCode(report.ok ? 0 : EXIT_NOT_INTACT);
        }
        const result = await ctx.client(cmd).verifyRunAudit(runId!);
        out(opts.json ? JSON.stringify(result, null, 2) : renderVerify(`run ${result.run_id} (${result.run_status})`, result));
        ctx.setExitCode(result.ok ? 0 : EXIT_NOT_INTACT);
      },
    );

  group
    .command('export')
    .description(
      "download a run's audit bundle (JSON Lines) for offline verification and archiving, checked offline at once, with its one-page HTML summary beside it",
    )
    .argument('<run>', 'run id')
    .option('-o, --out <file>', 'where to write it (default audit-<run>.jsonl)')
    .option('--summary <file>', "where to write the summary (default: the bundle's name with .html)")
    .option('--no-summary', 'write no summary')
    .action(async (runId: string, opts: { out?: string; summary?: string | false }, cmd: Command) => {
      const file = opts.out ?? `audit-${runId}.jsonl`;
      const path = resolve(cwd, file);
      const copied = await downloadToFile(await ctx.client(cmd).auditExportStream(runId), path);
      const summary = opts.summary === false ? undefined : (opts.summary ?? defaultSummaryPath(file));
      const result = await verifyOffline(cwd, file, { summary });
      err(`${copied.lines} lines written to ${path}${summary ? `, summary to ${resolve(cwd, summary)}` : ''}`);
      out(renderBundle(file, result.bundle));
      err(`check it any time, offline: amend audit verify --file ${file}`);
      ctx.setExitCode(result.ok ? 0 : EXIT_NOT_INTACT);
    });
}

/** A key as admins see it (prefix, limits), or as the key directory gives it to auditors. */
function renderKey(k: Key | KeyDirectoryEntry): string {
  if (!('prefix' in k)) {
    const revoked = k.revoked_at ? `  REVOKED ${k.revoked_at}` : '';
    return `${k.id}  ${k.role.padEnd(9)} ${k.team.padEnd(16)} ${k.name ?? ''}${revoked}`.trimEnd();
  }
  const limits = Object.entries(k.limits)
    .filter(([, v]) => v !== null)
    .map(([name, v]) => `${name}=${v}`)
    .join(' ');
  const revoked = k.revoked_at ? `  REVOKED ${k.revoked_at}` : '';
  return `${k.id}  ${`${k.prefix}...`.padEnd(14)} ${k.role.padEnd(9)} ${k.team.padEnd(16)} ${k.name ?? ''}${limits ? `  ${limits}` : ''}${revoked}`.trimEnd();
}

/** `amend keys ...` for admins: create (the key is printed once), list, revoke. */
export function addKeysCommands(program: Command, ctx: AuditCommandsContext): void {
  const { out, err } = ctx;
  const group = program.command('keys').description('create, list and revoke API keys (admin keys)');

  group
    .command('create')
    .description('create a key with one role and one team; it is printed once, store it now')
    .addOption(new Option('--role <role>', 'what the key may do').choices(KEY_ROLE_NAMES).makeOptionMandatory())
    .requiredOption('--team <team>', 'the team whose runs the key works with (auditors and admins: any team)')
    .option('--name <name>', 'who or what the key is for')
    .option('--rpm <n>', "requests per minute (default: the server's)", parseInteger)
    .option('--concurrent-runs <n>', "runs queued or running at once (default: the server's)", parseInteger)
    .option('--prompts-per-run <n>', "prompts per run (default: the server's)", parseInteger)
    .option('--json', 'print the created key as JSON')
    .action(
      async (
        opts: { role: KeyRoleName; team: string; name?: string; rpm?: number; concurrentRuns?: number; promptsPerRun?: number; json?: boolean },
        cmd: Command,
      ) => {
        const limits = {
          ...(opts.rpm !== undefined ? { requests_per_minute: opts.rpm } : {}),
          ...(opts.concurrentRuns !== undefined ? { concurrent_runs: opts.concurrentRuns } : {}),
          ...(opts.promptsPerRun !== undefined ? { prompts_per_run: opts.promptsPerRun } : {}),
        };
        const body: CreateKey = {
          role: opts.role,
          team: opts.team,
          ...(opts.name ? { name: opts.name } : {}),
          ...(Object.keys(limits).length ? { limits } : {}),
        };
        const created = await ctx.client(cmd).createKey(body);
        if (opts.json) return void out(JSON.stringify(created, null, 2));
        out(created.key);
        err(`${created.role} key for team ${created.team} (id ${created.id}). This is the only time the key is shown; the server keeps its hash.`);
      },
    );

  group
    .command('list')
    .description('list keys (never the keys themselves); auditors get the key directory: names, roles, teams')
    .option('--team <team>', 'only this team')
    .addOption(new Option('--role <role>', 'only this role').choices(KEY_ROLE_NAMES))
    .option('--revoked', 'include revoked keys')
    .option('--json', 'print the list as JSON')
    .action(async (opts: { team?: string; role?: string; revoked?: boolean; json?: boolean }, cmd: Command) => {
      const { keys } = await ctx.client(cmd).listKeys({ team: opts.team, role: opts.role, revoked: opts.revoked ? 'true' : undefined });
      if (opts.json) return void out(JSON.stringify({ keys }, null, 2));
      out(keys.length ? keys.map(renderKey).join('\n') : 'no keys');
    });

  group
    .command('revoke')
    .description('revoke a key: every request with it is refused from now on')
    .argument('<id>', 'key id (amend keys list)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const key = await ctx.client(cmd).revokeKey(id);
      out(`revoked ${key.id} (${key.prefix}..., ${key.role}, team ${key.team}) at ${key.revoked_at}`);
    });
}
