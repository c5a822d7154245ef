/**
 * What `amend audit verify RUN` costs for a run of 10,000 pairs (issue 22: "a few seconds is the
 * goal"): a real run made by the API and a worker process against the HTTP simulator (so its
 * stage records, blobs, samples and pairs are the ones the service writes), then each part of the
 * verification timed on its own through the store, and the whole through GET /v1/runs/{id}/audit/verify:
 *   - chains: every event re-hashed, chains walked, the seal's Merkle root recomputed, with the
 *     blobs each event names re-hashed (as a bundle is), and without them (chainsOnly, as the server
 *     runs it: the rows part re-hashes each blob once);
 *   - dataset: every pair and review row against its event;
 *   - rows: every stage record, message and response blob, sample, the run, its constitution and keys against the trail.
 * Figures depend heavily on what else the machine runs: print `uptime` beside them.
 * Prints the figures; asserts nothing about time.
 *
 *   npm run bench:verify -- [--pairs 10000] [--repeat 3] [--concurrency 256]
 */
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { Store } from '@amend/store';
import { DATABASE_URL } from './lib/amend';
import { killAllChildren, stopChild } from './lib/proc';
import { startSimulator } from './lib/simulator';
import { startStack } from './lib/stack';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

async function main() {
  const opts = new Command()
    .option('--pairs <n>', 'prompts in the run (one pair each)', '10000')
    .option('--repeat <n>', 'verifications timed', '3')
    .option('--concurrency <n>', 'WORKER_CONCURRENCY while the run is made', '256')
    .parse(process.argv)
    .opts();
  const n = Number(opts.pairs);
  const repeat = Number(opts.repeat);
  const log = (line: string) => console.error(line);
  const simulator = await startSimulator(0);
  const adminKey = `amd_${randomBytes(32).toString('base64url')}`;
  const stack = await startStack({
    simulatorUrl: simulator.url,
    concurrency: Number(opts.concurrency),
    label: 'verify-cost',
    log,
    keyLimits: { prompts_per_run: n },
    env: { AMEND_ADMIN_KEY: adminKey },
  });
  let store: Store | undefined;
  try {
    const prompts = Array.from({ length: n }, (_, i) => ({
      id: `p${i}`,
      prompt: `Question ${i}: how do I keep a ${['basil', 'fern', 'cactus', 'orchid'][i % 4]} alive on a north-facing sill?`,
      metadata: { i },
    }));
    const [makeMs, run] = await time(async () => {
      const created = await stack.createRun({ constitution: 'amend-core', prompts, rounds: 1 }, 120_000);
      return stack.waitCompleted(created.id, 60 * 60_000);
    });
    log(`run ${run.id}: ${run.counts.completed} pairs made in ${(makeMs / 1000).toFixed(0)} s`);
    store = await Store.open({ url: DATABASE_URL, schema: stack.tag, poolSize: 4 });
    const pg = await stack.pg();
    const size = (
      await pg.query(
        `select (select count(*) from audit_events where run_id = $1) as events,
        (select count(*) from stage_records r join samples s on s.id = r.sample_id where s.run_id = $1) as stages,
        (select count(*) from content_blobs) as blobs`,
        [run.id],
      )
    ).rows[0];

    const parts: Record<'chains' | 'chainsOnly' | 'dataset' | 'rows' | 'whole' | 'sample', number[]> = {
      chains: [],
      chainsOnly: [],
      dataset: [],
      rows: [],
      whole: [],
      sample: [],
    };
    const auditor = await createAuditor(stack.base, adminKey);
    const sampleId = (await pg.query(`select id from samples where run_id = $1 order by idx limit 1 offset $2`, [run.id, Math.floor(n / 2)])).rows[0].id;
    for (let i = 0; i < repeat; i++) {
      const [c, chains] = await time(() => store!.audit.verifyRun(run.id, { finished: true }));
      const [co] = await time(() => store!.audit.verifyRun(run.id, { finished: true, chainsOnly: true }));
      parts.chainsOnly.push(co);
      const [d, dataset] = await time(() => store!.audit.verifyDataset(run.id));
      const [r, rows] = await time(() => store!.audit.verifyRows(run.id));
      if (!chains.ok || !dataset.ok || !rows.ok)
        throw new Error(`the run does not verify: ${JSON.stringify({ chains: chains.first_failure, dataset: dataset.failures[0], rows: rows.failures[0] })}`);
      parts.chains.push(c);
      parts.dataset.push(d);
      parts.rows.push(r);
      const [w, res] = await time(() => fetch(`${stack.base}/v1/runs/${run.id}/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } }));
      const body = (await res.json()) as { ok: boolean };
      if (!body.ok) throw new Error('GET .../audit/verify says the run does not verify');
      parts.whole.push(w);
      const [s] = await time(async () => (await fetch(`${stack.base}/v1/samples/${sampleId}`, { headers: { authorization: `Bearer ${auditor}` } })).json());
      parts.sample.push(s);
    }
    const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
    console.log(
      `verify cost, one run of ${n} pairs (critique-revise, 1 round: ${size.stages} stage records, ${size.events} events, ${size.blobs} blobs in the schema)`,
    );
    console.log(`  chains (events re-hashed, blobs re-hashed per event, seal):        ${fmt(parts.chains)}`);
    console.log(`  chains only, blobs left to the rows part (what the server runs):  ${fmt(parts.chainsOnly)}`);
    console.log(`  dataset (every pair and review against its event):                ${fmt(parts.dataset)}`);
    console.log(`  rows (stage records, blobs, samples, run, constitution, keys):    ${fmt(parts.rows)}`);
    console.log(`  GET /v1/runs/{id}/audit/verify, all of it over HTTP:              ${fmt(parts.whole)}`);
    console.log(`  GET /v1/samples/{id} with its per-stage verified marker:          ${fmt(parts.sample)}`);
    console.log(`  Node ${process.version}, ${repeat} repetitions, run made in ${(makeMs / 1000).toFixed(0)} s`);
  } finally {
    await store?.close();
    await stack.close();
    await stopChild(simulator.child, 5_000);
  }
}

/** An auditor key minted with the stack's admin key (the bench stack mints only a submitter). */
async function createAuditor(base: string, adminKey: string): Promise<string> {
  const res = await fetch(`${base}/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ role: 'auditor', team: 'audit', name: 'bench' }),
  });
  if (res.status !== 201) throw new Error(`minting an auditor key: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { key: string }).key;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  killAllChildren();
  process.exit(1);
});
