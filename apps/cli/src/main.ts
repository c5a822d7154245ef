import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  DEFAULT_EXCLUDE,
  HubBranchSchema,
  isHubRepoId,
  JUDGES,
  PAIR_FLAGS,
  PAIR_FORMATS,
  PairFormat,
  REVIEW_FILTERS,
  RUN_MODES,
  RUN_STATUSES,
  RunStatus,
  SAMPLE_STATUSES,
  SampleStatus,
} from '@amend/contracts';
import { ApiClient, type ExportFilters, type ExportStream } from './api-client';
import { addConstitutionCommands } from './constitution-commands';
import { addAuditCommands, addKeysCommands } from './audit-commands';
import { addEvalCommands } from './eval-commands';
import { addSuggestCommands } from './suggest-commands';
import { addReviewCommands } from './review-commands';
import { parseApiUrl, parseInteger, parseDecimal } from './arg-parsers';
import { copyStream, downloadToFile } from './download';
import { exportCommand, type ExportFlags } from './export-command';
import { EXIT_EMPTY, PAIRS, SFT_RECORDS, exportSummary, leftOut, type Noun } from './export-summary';
import { createProgressReporter } from './progress';
import { readPromptsFile } from './prompts-file';
import {
  constitutionLabel,
  elapsed,
  formatCounts,
  formatError,
  formatFailures,
  formatUsage,
  renderConstitutions,
  renderRunStatus,
  renderRunsTable,
  renderSample,
  renderSearchHit,
} from './render';
import { buildCreateRunBody, type RunFlags } from './run-request';
import { renderQualityReport } from './report-render';
import { waitForRun } from './wait-for-run';

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

/** Where the CLI reads and writes; the defaults are the process's own. Tests drive it in-process. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  /** Aborting it stops `amend run` from waiting, as Ctrl-C does. */
  signal?: AbortSignal;
  /** How often `amend run` polls the run (default 500 ms). */
  pollIntervalMs?: number;
  /** How often a progress line is printed when stderr is not a terminal (default 5 s). */
  progressIntervalMs?: number;
  /** Draw a progress bar; by default when stderr is a terminal. */
  tty?: boolean;
  /** Where relative paths of `amend constitution` commands resolve from (default: the process's cwd). */
  cwd?: string;
}

/** Exit code after Ctrl-C, as shells report a process ended by SIGINT. */
const EXIT_INTERRUPTED = 130;

/** Runs the `amend` command line and resolves to its exit code; never calls process.exit. */
export async function runCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const env = io.env ?? process.env;
  const out = (s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  const err = (s: string) => io.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
  let exitCode = 0;

  const program = new Command('amend')
    .description('Amend: submit constitutional-AI critique-and-revise runs and download their preference pairs.')
    .addOption(new Option('--api <url>', `Amend API base URL (env AMEND_URL, default ${DEFAULT_API_URL})`).argParser(parseApiUrl))
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', '\nEnvironment:\n  AMEND_URL      API base URL, like --api\n  AMEND_API_KEY  sent as "Authorization: Bearer <key>"');

  // Program options are recognised after subcommands too, so a root --version would swallow the
  // constitution version of `amend constitution import-h4 --version 1.0.0`.
  if (!argv.includes('constitution')) program.version(packageVersion(), '-V, --version');

  const client = (cmd: Command): ApiClient => {
    const globals = cmd.optsWithGlobals<{ api?: string }>();
    const baseUrl = globals.api ?? (env.AMEND_URL ? parseEnvUrl(env.AMEND_URL) : DEFAULT_API_URL);
    return new ApiClient({ baseUrl, apiKey: env.AMEND_API_KEY || undefined, fetch: io.fetch });
  };

  program
    .command('run')
    .description('submit a prompts file as a run, follow its progress, then download its pairs')
    .argument('<file>', 'prompts: .jsonl (a JSON string or {"id"?, "prompt", "metadata"?} a line), .json (an array) or .txt (one prompt a line)')
    .requiredOption('-c, --constitution <name[@x.y.z]>', 'constitution, latest version unless pinned')
    .option('--rounds <n>', 'critique/revision rounds per prompt (server default 1)', parseInteger)
    .option('--seed <n>', 'seed for principle sampling, to reproduce a run', parseInteger)
    .option('--model <alias>', 'policy model alias configured on the server (AMEND_MODELS)')
    .option('--feedback-model <alias>', 'feedback model alias for judgements')
    .option('--feedback-models <aliases>', 'a panel of judges instead: 2..5 comma-separated aliases, each asked every comparison')
    .addOption(
      new Option('--judge <judge>', 'ai-feedback or --verify: letter (log-probabilities) or ratings (1-5 as JSON, no log-probabilities needed)').choices(
        JUDGES,
      ),
    )
    .addOption(new Option('--mode <mode>', 'pipeline mode').choices(RUN_MODES))
    .option('--candidates <n>', 'ai-feedback: responses sampled per prompt, 2..4 (server default 2)', parseInteger)
    .option('--ensemble <n>', 'ai-feedback or --verify: comparison principles averaged per label (default 1)', parseInteger)
    .option('--cot', 'ai-feedback or --verify: the feedback model reasons first; labels clamped to [0.4, 0.6]')
    .option('--verify', 'critique-revise: the feedback model judges draft against revision; pairs it does not back are flagged')
    .option('--batch', "through the provider's Batch API at batch prices, in waves (needs a model alias with batch: true)")
    .option('--min-margin <m>', 'flag pairs whose judged margin p(chosen) - p(rejected) is below this (default 0)', parseDecimal)
    .option('--temperature <t>', 'sampling temperature', parseDecimal)
    .option('--top-p <p>', 'nucleus sampling top_p', parseDecimal)
    .option('--max-tokens <n>', 'maximum tokens per model answer', parseInteger)
    .option('-o, --out <file>', 'where to write the pairs (default pairs-<run id>.jsonl)')
    .addOption(new Option('--format <format>', 'pairs format').choices(PAIR_FORMATS).default('conversational'))
    .option('--idempotency-key <key>', 'submitting again with the same key and file returns the same run')
    .option('--no-wait', 'print the run id and exit without waiting')
    .action(async (file: string, opts: RunCommandOptions, cmd: Command) => {
      exitCode = await runCommand(file, opts, client(cmd), io, { out, err });
    });

  program
    .command('status')
    .description("show a run's status, counts, usage and failure reasons")
    .argument('<run>', 'run id')
    .option('--json', 'print the run as JSON')
    .action(async (runId: string, opts: { json?: boolean }, cmd: Command) => {
      const run = await client(cmd).getRun(runId);
      out(opts.json ? JSON.stringify(run, null, 2) : renderRunStatus(run));
    });

  program
    .command('pairs')
    .description("stream a run's preference pairs as JSON Lines (also while it runs)")
    .argument('<run>', 'run id')
    .addOption(new Option('--format <format>', 'pairs format').choices(PAIR_FORMATS).default('conversational'))
    .option(
      '--exclude <flags>',
      `leave out pairs with any of these flags (default ${DEFAULT_EXCLUDE.pairs.join(',')}; '' keeps all; comma-separated: ${PAIR_FLAGS.join(', ')})`,
    )
    .addOption(new Option('--reviewed <which>', 'only pairs a reviewer accepted, swapped or edited').choices(['accepted']))
    .addOption(consensusOption())
    .option('--min-agreement <share>', 'with --consensus: leave out pairs whose majority share is below this (0..1)', parseShare)
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (runId: string, opts: { format: PairFormat; out?: string } & ExportFilters, cmd: Command) => {
      const stream = await client(cmd).pairsStream(runId, opts.format, opts);
      exitCode = await emit(stream, opts.out, PAIRS, io, err);
    });

  program
    .command('search')
    .description("search your team's pairs by the words of prompt, chosen, rejected and critiques, with filters (GET /v1/pairs)")
    .argument('[q]', 'words to find (web search syntax: "a phrase", -word, or); leave out to list pairs newest first')
    .option('--run <run>', "only this run's pairs")
    .option('--flag <flags>', `only pairs with every one of these flags (comma-separated: ${PAIR_FLAGS.join(', ')})`)
    .option('--principle <id>', 'only pairs whose critiques used this principle')
    .addOption(new Option('--review-status <status>', "by the pair's latest review").choices(REVIEW_FILTERS))
    .option('--metadata <key=value>', 'only pairs whose prompt metadata has key = value (repeatable)', collectPair, [] as [string, string][])
    .option('--limit <n>', 'pairs per page (server default 20, at most 100)', parseInteger)
    .option('--cursor <cursor>', 'the page after this cursor (same search)')
    .option('--all', 'follow every page to the end')
    .option('--json', 'print the answers as JSON (with --all, one page per line)')
    .action(
      async (
        q: string | undefined,
        opts: {
          run?: string;
          flag?: string;
          principle?: string;
          reviewStatus?: string;
          metadata: [string, string][];
          limit?: number;
          cursor?: string;
          all?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const api = client(cmd);
        const query: Record<string, string | number | undefined> = {
          q,
          run: opts.run,
          flag: opts.flag,
          principle: opts.principle,
          review_status: opts.reviewStatus,
          limit: opts.limit,
          ...Object.fromEntries(opts.metadata.map(([k, v]) => [`metadata.${k}`, v])),
        };
        let cursor = opts.cursor;
        let shown = 0;
        for (;;) {
          const page = await api.searchPairs({ ...query, cursor });
          if (opts.json) out(opts.all ? JSON.stringify(page) : JSON.stringify(page, null, 2));
          else for (const hit of page.pairs) out(renderSearchHit(hit));
          shown += page.pairs.length;
          cursor = page.next_cursor ?? undefined;
          if (!cursor || !opts.all) break;
        }
        if (opts.json) return;
        if (shown === 0) return void out('no pairs found');
        if (cursor) out(`\nmore pairs: add --cursor ${cursor} (or --all)`);
      },
    );

  program
    .command('sft')
    .description("stream a run's SFT records (prompt + final revision, reviews applied) as JSON Lines")
    .argument('<run>', 'run id')
    .option(
      '--exclude <flags>',
      `leave out pairs with any of these flags (default ${DEFAULT_EXCLUDE.sft.join(',')}; '' keeps all; comma-separated: ${PAIR_FLAGS.join(', ')})`,
    )
    .addOption(new Option('--reviewed <which>', 'only pairs a reviewer accepted, swapped or edited').choices(['accepted']))
    .addOption(consensusOption())
    .option('--min-agreement <share>', 'with --consensus: leave out pairs whose majority share is below this (0..1)', parseShare)
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (runId: string, opts: { out?: string } & ExportFilters, cmd: Command) => {
      const stream = await client(cmd).sftStream(runId, opts);
      exitCode = await emit(stream, opts.out, SFT_RECORDS, io, err);
    });

  program
    .command('export')
    .description(
      "write a run's pairs as a Hugging Face dataset folder (train/test JSON Lines, manifest.json, README.md dataset card), or push that folder to the Hub",
    )
    .argument('<run>', 'run id')
    .option('--hf <dir>', 'the folder to write (created if missing)')
    .option('--hub <owner/name>', 'push the folder to this Hugging Face dataset repository (created if missing) with the token in HF_TOKEN', parseHubRepo)
    .option('--private', 'with --hub: a repository this push creates is private')
    .option('--branch <branch>', 'with --hub: the branch to push to (created from main if missing)', parseHubBranch, 'main')
    .option('--test-size <share>', 'share of pairs in the test split, 0..1', parseShare, 0.1)
    .option('--seed <n>', 'seed of the split', parseInteger, 0)
    .addOption(new Option('--format <format>', 'pairs format').choices(PAIR_FORMATS).default('conversational'))
    .option(
      '--exclude <flags>',
      `leave out pairs with any of these flags (default ${DEFAULT_EXCLUDE.pairs.join(',')}; '' keeps all; comma-separated: ${PAIR_FLAGS.join(', ')})`,
    )
    .addOption(new Option('--reviewed <which>', 'only pairs a reviewer accepted, swapped or edited').choices(['accepted']))
    .option('--license <id>', 'the license field of the dataset card', 'other')
    .addHelpText(
      'after',
      '\nEnvironment:\n  HF_TOKEN     a Hugging Face write token, for --hub (never printed)\n  HF_ENDPOINT  the Hub address (default https://huggingface.co)',
    )
    .action(async (runId: string, opts: ExportFlags, cmd: Command) => {
      exitCode = await exportCommand(runId, opts, client(cmd), env, out, err);
    });

  program
    .command('report')
    .description("a run's quality report: no-op revisions, length ratio, refusals and refusal drift, judge agreement and position bias")
    .argument('<run>', 'run id')
    .option('--json', 'print the report as JSON')
    .action(async (runId: string, opts: { json?: boolean }, cmd: Command) => {
      const api = client(cmd);
      const report = await api.getReport(runId);
      if (opts.json) {
        out(JSON.stringify(report, null, 2));
        return;
      }
      // What the pairs cost, beside what they are worth: the report itself has no usage.
      const run = await api.getRun(runId);
      out(`${renderQualityReport(report)}\nusage: ${formatUsage(run)}`);
    });

  program
    .command('runs')
    .description('list runs, newest first')
    .addOption(new Option('--status <status>', 'only runs in this status').choices(RUN_STATUSES))
    .option('--limit <n>', 'runs per page (server default 50)', parseInteger)
    .option('--cursor <cursor>', 'the page after this cursor')
    .option('--json', 'print the page as JSON')
    .action(async (opts: { status?: RunStatus; limit?: number; cursor?: string; json?: boolean }, cmd: Command) => {
      const page = await client(cmd).listRuns({ status: opts.status, limit: opts.limit, cursor: opts.cursor });
      out(opts.json ? JSON.stringify(page, null, 2) : renderRunsTable(page.runs, page.next_cursor));
    });

  program
    .command('samples')
    .description("list a run's samples with their stage and failure reason")
    .argument('<run>', 'run id')
    .addOption(new Option('--status <status>', 'only samples in this status').choices(SAMPLE_STATUSES))
    .option('--limit <n>', 'samples per page (server default 100)', parseInteger)
    .option('--cursor <n>', 'the page after this cursor', parseInteger)
    .option('--json', 'print the page as JSON')
    .action(async (runId: string, opts: { status?: SampleStatus; limit?: number; cursor?: number; json?: boolean }, cmd: Command) => {
      const page = await client(cmd).listSamples(runId, { status: opts.status, limit: opts.limit, cursor: opts.cursor });
      if (opts.json) return void out(JSON.stringify(page, null, 2));
      if (page.samples.length === 0) return void out('no samples');
      for (const s of page.samples) {
        const reason = s.failure_reason ? `  ${s.failure_reason}` : '';
        out(`${s.id}  #${String(s.index + 1).padEnd(6)} ${s.status.padEnd(9)} ${s.stage.padEnd(9)}${reason}`.trimEnd());
      }
      if (page.next_cursor !== null) out(`\nmore samples: amend samples ${runId} --cursor ${page.next_cursor}`);
    });

  program
    .command('cancel')
    .description('cancel the pending samples of a run; pairs made so far stay exportable')
    .argument('<run>', 'run id')
    .action(async (runId: string, _opts: unknown, cmd: Command) => {
      const run = await client(cmd).cancelRun(runId);
      out(`run ${run.id} is ${run.status}: ${formatCounts(run)}`);
    });

  program
    .command('sample')
    .description('show one sample stage by stage: what each model call was asked and answered')
    .argument('<sample>', 'sample id')
    .option('--messages', 'show every message sent, not only the last request')
    .option('--json', 'print the sample as JSON')
    .action(async (sampleId: string, opts: { messages?: boolean; json?: boolean }, cmd: Command) => {
      const sample = await client(cmd).getSample(sampleId);
      out(opts.json ? JSON.stringify(sample, null, 2) : renderSample(sample, { messages: opts.messages }));
    });

  program
    .command('constitutions')
    .description('list the constitutions and their published versions')
    .option('--json', 'print the list as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await client(cmd).listConstitutions();
      out(opts.json ? JSON.stringify(list, null, 2) : renderConstitutions(list));
    });

  addConstitutionCommands(program, { client, out, err, setExitCode: (code) => (exitCode = code), cwd: io.cwd });
  addAuditCommands(program, { client, out, err, setExitCode: (code) => (exitCode = code), cwd: io.cwd });
  addKeysCommands(program, { client, out, err, setExitCode: (code) => (exitCode = code), cwd: io.cwd });
  addReviewCommands(program, { client, out, err, setExitCode: (code) => (exitCode = code), cwd: io.cwd });
  addEvalCommands(program, {
    client,
    out,
    err,
    setExitCode: (code) => (exitCode = code),
    stderr: io.stderr,
    tty: io.tty ?? (io.stderr as { isTTY?: boolean }).isTTY === true,
    pollIntervalMs: io.pollIntervalMs,
    progressIntervalMs: io.progressIntervalMs,
    signal: io.signal,
  });

  addSuggestCommands(program, {
    client,
    out,
    err,
    setExitCode: (code) => (exitCode = code),
    cwd: io.cwd,
    stderr: io.stderr,
    tty: io.tty ?? (io.stderr as { isTTY?: boolean }).isTTY === true,
    pollIntervalMs: io.pollIntervalMs,
    progressIntervalMs: io.progressIntervalMs,
    signal: io.signal,
  });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    err(formatError(e));
    return 1;
  }
}

/** The run's own flags plus how `amend run` waits and downloads. */
interface RunCommandOptions extends RunFlags {
  out?: string;
  format: PairFormat;
  idempotencyKey?: string;
  wait: boolean;
}

type Print = (s: string) => void;

async function runCommand(file: string, opts: RunCommandOptions, api: ApiClient, io: CliIo, { out, err }: { out: Print; err: Print }): Promise<number> {
  const prompts = await readPromptsFile(file);
  const body = buildCreateRunBody(opts, prompts);
  const submitted = await api.createRun(body, { idempotencyKey: opts.idempotencyKey });

  if (!opts.wait) {
    out(submitted.id);
    err(`run ${submitted.id} ${submitted.status}; follow it with: amend status ${submitted.id}`);
    return 0;
  }
  // From here on Ctrl-C stops the wait, not the process: set up before the run id is printed,
  // so whoever reacts to the id (a user, a script) can interrupt cleanly.
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.on('SIGINT', onSigint);
  const onOuterAbort = () => stop.abort();
  io.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (io.signal?.aborted) stop.abort();

  const progress = createProgressReporter(io.stderr, {
    tty: io.tty ?? (io.stderr as { isTTY?: boolean }).isTTY === true,
    lineIntervalMs: io.progressIntervalMs,
  });
  let waited;
  try {
    out(`run ${submitted.id}`);
    err(
      `${prompts.length} prompts, constitution ${constitutionLabel(submitted)} ` +
        `(sha256 ${submitted.constitution.sha256.slice(0, 12)}), model ${submitted.model}` +
        `${submitted.simulated ? ' (built-in simulator)' : ''}`,
    );
    waited = await waitForRun(api, submitted.id, {
      intervalMs: io.pollIntervalMs ?? 500,
      signal: stop.signal,
      onUpdate: (run) => progress.update(run),
      onRetry: (e, attempt) => err(`(poll failed, retrying ${attempt}: ${e.message})`),
    });
  } finally {
    process.removeListener('SIGINT', onSigint);
    io.signal?.removeEventListener('abort', onOuterAbort);
  }
  progress.stop(waited.run ?? undefined);

  const id = submitted.id;
  if (waited.kind === 'interrupted') {
    err(
      [
        `stopped waiting; run ${id} goes on on the server.`,
        `  follow it:      amend status ${id}`,
        `  get its pairs:  amend pairs ${id} --format ${opts.format} --out ${opts.out ?? `pairs-${id}.jsonl`}`,
        `  stop it:        amend cancel ${id}`,
      ].join('\n'),
    );
    return EXIT_INTERRUPTED;
  }

  const run = waited.run;
  const took = elapsed(run);
  out(`run ${id} ${run.status}${took ? ` in ${took}` : ''}: ${formatCounts(run)}`);
  out(`usage: ${formatUsage(run)}`);
  const failures = formatFailures(run);
  if (failures.length) out(['failures:', ...failures].join('\n'));

  const path = opts.out ?? `pairs-${id}.jsonl`;
  const stream = await api.pairsStream(id, opts.format);
  const copied = await downloadToFile(stream.body, path);
  const left = leftOut(stream.excluded, `amend pairs ${id} --exclude= keeps them`);
  out(`pairs: ${copied.lines} written to ${path} (format ${opts.format})${copied.lines === 0 ? ': the export is empty' : ''}${left ? `; ${left}` : ''}`);
  if (run.simulated) out('note: the built-in simulator answered; these pairs are for trying the pipeline, not for training.');
  if (run.status !== 'completed') return 1;
  return copied.lines === 0 ? EXIT_EMPTY : 0;
}

/**
 * Writes an export to a file, or to stdout, and says on stderr how many lines and what was left
 * out; an empty export exits EXIT_EMPTY. A reader that goes away (`| head`) is not an error.
 */
async function emit(stream: ExportStream, path: string | undefined, noun: Noun, io: CliIo, err: Print): Promise<number> {
  let lines: number;
  if (path) lines = (await downloadToFile(stream.body, path)).lines;
  else {
    try {
      lines = (await copyStream(stream.body, io.stdout)).lines;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return 0;
      throw e;
    }
  }
  err(exportSummary(lines, noun, stream.excluded, { to: path }));
  return lines === 0 ? EXIT_EMPTY : 0;
}

/** `--metadata key=value`, repeatable: each adds one [key, value]. */
function collectPair(value: string, previous: [string, string][]): [string, string][] {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('expected key=value, e.g. split=train');
  return [...previous, [value.slice(0, at), value.slice(at + 1)]];
}

/** `--consensus majority`: each pair as its reviewers' majority decided (docs/ml-teams.md#consensus-export). */
function consensusOption(): Option {
  return new Option('--consensus <rule>', "each pair as its reviewers' majority decided; ties, rejected and unreviewed pairs left out").choices(['majority']);
}

function parseShare(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a share from 0 to 1, e.g. 0.1');
  return n;
}

function parseHubRepo(value: string): string {
  if (!isHubRepoId(value)) throw new InvalidArgumentError('expected OWNER/NAME, a Hugging Face dataset repository id (letters, digits, -, _, .)');
  return value;
}

function parseHubBranch(value: string): string {
  const parsed = HubBranchSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0].message);
  return parsed.data;
}

function parseEnvUrl(value: string): string {
  try {
    return parseApiUrl(value);
  } catch (e) {
    throw new Error(`AMEND_URL: ${(e as Error).message}`, { cause: e });
  }
}

/** The repo's package.json, found from here whether running from source or from dist/. */
function packageVersion(): string {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'amend' && pkg.version) return pkg.version;
      } catch {
        // not ours; keep looking
      }
    }
  }
  return '0.0.0';
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
