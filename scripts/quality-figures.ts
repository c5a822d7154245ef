/**
 * The quality figures of bench/RESULTS.md#figures-moved-from-the-readme (docs/ml-teams.md#calls-per-pair links them):
 * one 200-prompt run per mode on the built-in simulator, through the real API, worker, queue and
 * Postgres (its own schema, dropped at the end), each with its quality report and calls per pair.
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register scripts/quality-figures.ts [--prompts 200]
 *
 * A tenth of the prompts carry [[amend:noop]], a tenth [[amend:refuse]] (critique-revise) or
 * [[amend:refuse-draft]] (ai-feedback), so that the report has no-ops and refusals to count.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { Command } from 'commander';
import { isRunFinished, loadConfig, QualityReportSchema, RunSchema, type Run } from '@amend/contracts';
import { createApiApp } from '../apps/api/src/app';
import { createWorkerApp } from '../apps/worker/src/app';
import { renderQualityReport } from '../apps/cli/src/report-render';

const ROOT = join(__dirname, '..');

async function main() {
  const opts = new Command().option('--prompts <n>', 'prompts per run', '200').parse(process.argv).opts();
  const n = Number(opts.prompts);
  const base = readFileSync(join(ROOT, 'examples/prompts.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { prompt: string });
  const schema = `figures_${randomBytes(4).toString('hex')}`;
  const adminKey = `amd_${randomBytes(32).toString('base64url')}`;
  const env = {
    ...process.env,
    LOG_LEVEL: 'warn',
    CONSTITUTIONS_DIR: join(ROOT, 'constitutions'),
    DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    DATABASE_SCHEMA: schema,
    QUEUE_PREFIX: schema,
    AMEND_ADMIN_KEY: adminKey,
    AMEND_MODELS: JSON.stringify({ default: { simulator: true } }),
    PORT: '0',
  };
  const config = loadConfig(env);
  const api = await createApiApp(config);
  await api.listen(0, '127.0.0.1');
  const url = (await api.getUrl()).replace('[::1]', '127.0.0.1');
  const worker = await createWorkerApp(config);
  try {
    const call = async (path: string, init: RequestInit = {}, key: string): Promise<any> => {
      const res = await fetch(url + path, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...init.headers } });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    const { key } = await call('/v1/keys', { method: 'POST', body: JSON.stringify({ role: 'submitter', team: 'default' }) }, adminKey);

    const prompts = (refuseMarker: string) =>
      Array.from({ length: n }, (_, i) => {
        const p = `${base[i % base.length].prompt}${i >= base.length ? ` (variant ${Math.floor(i / base.length)})` : ''}`;
        const marker = i % 10 === 3 ? ' [[amend:noop]]' : i % 10 === 7 ? ` ${refuseMarker}` : '';
        return { id: `q${i}`, prompt: p + marker };
      });

    const runs: { label: string; body: object }[] = [
      { label: 'critique-revise (1 round)', body: { mode: 'critique-revise', prompts: prompts('[[amend:refuse]]') } },
      { label: 'critique-revise, verify: true', body: { mode: 'critique-revise', verify: true, prompts: prompts('[[amend:refuse]]') } },
      { label: 'ai-feedback, 2 candidates', body: { mode: 'ai-feedback', prompts: prompts('[[amend:refuse-draft]]') } },
      { label: 'ai-feedback, 4 candidates, ensemble 2', body: { mode: 'ai-feedback', candidates: 4, ensemble: 2, prompts: prompts('[[amend:refuse-draft]]') } },
    ];
    for (const { label, body } of runs) {
      const started = Date.now();
      const created = RunSchema.parse(
        await call('/v1/runs', { method: 'POST', body: JSON.stringify({ constitution: 'amend-core', seed: 2024, ...body }) }, key),
      );
      let run: Run = created;
      while (!isRunFinished(run.status)) {
        await new Promise((r) => setTimeout(r, 250));
        run = RunSchema.parse(await call(`/v1/runs/${created.id}`, {}, key));
      }
      const report = QualityReportSchema.parse(await call(`/v1/runs/${run.id}/report`, {}, key));
      console.log(
        `\n=== ${label}: ${run.counts.completed}/${run.counts.total} pairs, ${run.usage.calls} calls = ${(run.usage.calls / run.counts.completed).toFixed(1)} calls per pair, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      console.log(renderQualityReport(report));
    }
  } finally {
    await worker.close();
    await api.close();
    const pg = new Client({ connectionString: env.DATABASE_URL });
    await pg.connect();
    await pg.query(`drop schema if exists "${schema}" cascade`);
    await pg.end();
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
