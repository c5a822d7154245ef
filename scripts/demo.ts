/**
 * `npm run demo`: starts the API and a worker in this process, registers the bundled
 * constitutions, submits examples/prompts.jsonl as one run through the CLI (progress bar and
 * all), writes the pairs to a JSONL file, verifies the run's audit trail and exits. Uses the
 * built-in simulator unless AMEND_MODELS points the `default` alias (or DEMO_MODEL) elsewhere.
 * It makes its own keys (an admin key unless AMEND_ADMIN_KEY is set, a submitter and an auditor
 * of team `demo`) and revokes them at the end; with --serve it prints them instead.
 *
 *   npm run demo -- [--constitution amend-core] [--rounds 2 | --mode ai-feedback] [--out out/demo-pairs.jsonl] [--serve] [--batch] [--export DIR]
 *
 * --export DIR: also writes the run in every export format, DIR/{conversational,standard,h4,sft}.jsonl
 * (every pair: `--exclude ''`), and the Hugging Face dataset folder DIR/hf, through the CLI: what
 * scripts/check-trl.py loads with `datasets` and trains a DPOTrainer step on.
 *
 * --batch: the run goes through the Batch API, in waves, against the simulator's Files and
 * Batches API over HTTP (each batch in progress for a second), unless AMEND_MODELS is set.
 */
import 'reflect-metadata';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '@amend/contracts';
import { startSimulatorServer, type SimulatorServer } from '@amend/llm';
import { createApiApp } from '../apps/api/src/app';
import { createWorkerApp } from '../apps/worker/src/app';
import { runCli } from '../apps/cli/src/main';

const ROOT = join(__dirname, '..');

function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer()
      .once('error', () => res(false))
      .once('listening', () => s.close(() => res(true)))
      .listen(port, host);
  });
}

async function main() {
  const opts = new Command()
    .option('--constitution <name>', 'constitution to run', 'amend-core')
    .option('--prompts <file>', 'prompts file', join(ROOT, 'examples/prompts.jsonl'))
    .option('--rounds <n>', 'critique/revision rounds', '2')
    .option('--out <file>', 'where the pairs go', join(ROOT, 'out/demo-pairs.jsonl'))
    .option('--format <format>', 'conversational | standard | h4', 'conversational')
    .option('--mode <mode>', 'critique-revise | ai-feedback', 'critique-revise')
    .option('--serve', 'keep the API and worker running after the demo run', false)
    .option('--batch', "run through the Batch API (the simulator's Files and Batches API unless AMEND_MODELS is set)", false)
    .option('--export <dir>', 'also write every export format and the --hf dataset folder of the run into this folder')
    .parse(process.argv)
    .opts();

  const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn', CONSTITUTIONS_DIR: join(ROOT, 'constitutions'), ...process.env };
  let sim: SimulatorServer | undefined;
  if (opts.batch && !env.AMEND_MODELS) {
    // The Batch API needs an HTTP backend: the simulator's, each batch in progress for a second.
    sim = await startSimulatorServer({ batch: { delayMs: 1_000 } });
    env.AMEND_MODELS = JSON.stringify({ default: { base_url: sim.url, model: 'amend-simulator-1', batch: true } });
    env.BATCH_POLL_MS ??= '250';
    console.log(`Batch API: the simulator's Files and Batches API at ${sim.url}`);
  }
  // With no model configured, the simulator answers with a little latency so the progress is visible.
  env.AMEND_MODELS ??= JSON.stringify({ default: { simulator: true, latency_ms: 300 } });
  // Every route needs a key: without an operator's admin key the demo makes one for itself.
  const ownAdminKey = !env.AMEND_ADMIN_KEY;
  env.AMEND_ADMIN_KEY ||= `amd_${randomBytes(32).toString('base64url')}`;
  const config = loadConfig(env);
  const model = process.env.DEMO_MODEL ?? 'default';
  // The demo should not fail because something else already listens on 3000.
  const port = (await portIsFree(config.PORT, '127.0.0.1')) ? config.PORT : 0;

  console.log(`Amend demo: Postgres ${config.DATABASE_URL}, Redis ${config.REDIS_URL}`);
  const api = await createApiApp(config);
  await api.listen(port, config.HOST);
  const url = (await api.getUrl()).replace('[::1]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1');
  const worker = await createWorkerApp(config);
  console.log(`API at ${url} (OpenAPI at ${url}/docs), worker concurrency ${config.WORKER_CONCURRENCY}`);

  const admin = config.AMEND_ADMIN_KEY!;
  const submitter = await createKey(url, admin, 'submitter');
  const auditor = await createKey(url, admin, 'auditor');
  const io = (key: { key: string }) => ({ stdout: process.stdout, stderr: process.stderr, env: { ...process.env, AMEND_API_KEY: key.key } });

  const out = resolve(opts.out);
  mkdirSync(dirname(out), { recursive: true });
  const code = await runCli(
    [
      '--api',
      url,
      'run',
      resolve(opts.prompts),
      '--constitution',
      opts.constitution,
      ...(opts.mode === 'ai-feedback' ? ['--mode', 'ai-feedback'] : ['--rounds', String(opts.rounds)]),
      '--model',
      model,
      '--format',
      opts.format,
      '--out',
      out,
      ...(opts.batch ? ['--batch'] : []),
    ],
    io(submitter),
  );
  if (code === 0) {
    // What an auditor would do next: recompute the run's hash chains and its seal.
    const runs = (await (await fetch(`${url}/v1/runs?limit=1`, { headers: { authorization: `Bearer ${submitter.key}` } })).json()) as {
      runs: { id: string }[];
    };
    await runCli(['--api', url, 'audit', 'verify', runs.runs[0].id], io(auditor));
    if (opts.export) await exportAll(url, runs.runs[0].id, resolve(opts.export as string), io(submitter));
  }

  if (opts.serve && code === 0) {
    console.log(`\nStill serving at ${url}; Ctrl-C to stop. Keys for curl, the CLI (AMEND_API_KEY) and ${url}/console/:`);
    console.log(`  submitter (team demo): ${submitter.key}\n  auditor:               ${auditor.key}`);
    if (ownAdminKey) console.log(`  admin:                 ${admin}`);
    return;
  }
  // Keys nobody will see again are revoked, so demos do not pile up usable keys in the database.
  for (const k of [submitter, auditor]) await fetch(`${url}/v1/keys/${k.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
  if (ownAdminKey) {
    const me = (await (await fetch(`${url}/v1/keys/me`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { id: string };
    await fetch(`${url}/v1/keys/${me.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
  }
  await worker.close();
  await api.close();
  await sim?.close();
  process.exit(code);
}

/** Every format of the run, and its Hugging Face dataset folder, as a team would download them. */
async function exportAll(url: string, runId: string, dir: string, io: Parameters<typeof runCli>[1]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const cli = (args: string[]) => runCli(['--api', url, ...args], io);
  for (const format of ['conversational', 'standard', 'h4']) {
    await cli(['pairs', runId, '--format', format, '--exclude', '', '--out', join(dir, `${format}.jsonl`)]);
  }
  await cli(['sft', runId, '--exclude', '', '--out', join(dir, 'sft.jsonl')]);
  await cli(['export', runId, '--hf', join(dir, 'hf'), '--exclude', '', '--test-size', '0.25', '--seed', '0']);
  console.log(`Exports in ${dir}: conversational, standard, h4 and sft JSON Lines, and the dataset folder hf/`);
}

/** A key of the demo team, created through the API like any admin would. */
async function createKey(url: string, adminKey: string, role: 'submitter' | 'auditor'): Promise<{ id: string; key: string }> {
  const res = await fetch(`${url}/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ role, team: 'demo', name: `npm run demo (${role})` }),
  });
  if (res.status !== 201) throw new Error(`could not create the demo's ${role} key (${res.status}): ${await res.text()}`);
  return (await res.json()) as { id: string; key: string };
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
