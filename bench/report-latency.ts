/*
 * How long GET /v1/runs/{id}/report takes for a run of long outputs, and how long /health waits
 * meanwhile (the API's event loop): while the run goes on, the first time after it finished, and
 * again. `npx ts-node --transpile-only -r tsconfig-paths/register bench/report-latency.ts [pairs] [chars]`
 * (defaults 4 pairs of ~50,000-character drafts and revisions, on the gated simulator of the tests).
 */
import { performance } from 'node:perf_hooks';
import { cleanup, json, startStack, testEnv, waitFor } from '../test/support/stack';
import { startGatedModel } from '../test/support/gated-model';
import { runMain } from './lib/workload';

const PAIRS = Number(process.argv[2] ?? 4);
const CHARS = Number(process.argv[3] ?? 50_000);
const HOLD = 'HOLD-bench';

async function main() {
  const model = await startGatedModel({ holdToken: HOLD, pad: CHARS });
  const env = testEnv('report_latency', {
    AMEND_MODELS: JSON.stringify({ default: { simulator: true }, long: { base_url: model.url, model: 'long-sim', max_attempts: 1 } }),
  });
  const stack = await startStack(env);
  try {
    const prompts = Array.from({ length: PAIRS }, (_, i) => `Prompt ${i}: how do I plan a long hike?`);
    prompts.push(`One more: how do I plan a long hike? ${HOLD}`);
    const res = await stack.fetch('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ constitution: 'amend-core', model: 'long', prompts }),
    });
    if (res.status !== 202) throw new Error(`run not created (${res.status}): ${await res.text()}`);
    const { id } = await json(res);
    const counts = async () => (await json(await stack.fetch(`/v1/runs/${id}`))) as { status: string; counts: { completed: number } };
    await waitFor(async () => (await counts()).counts.completed === PAIRS, { timeoutMs: 300_000, what: 'pairs' });
    const timed = async (what: string) => {
      let done = false;
      let worst = 0;
      let probes = 0;
      const t0 = performance.now();
      const report = stack.fetch(`/v1/runs/${id}/report`).then(async (r) => {
        const text = await r.text();
        done = true;
        return text;
      });
      // /health, one after another while the report is computed: the longest wait is how long the API kept everyone else waiting.
      const probe = (async () => {
        while (!done) {
          const t = performance.now();
          // A reset keep-alive connection (the server's idle timer fired behind a blocked loop) counts as a wait too.
          await fetch(`${stack.url}/health`)
            .then((r) => r.arrayBuffer())
            .catch(() => undefined);
          worst = Math.max(worst, performance.now() - t);
          probes++;
        }
      })();
      const body = await report;
      const ms = performance.now() - t0;
      await probe;
      console.log(`${what}: report ${ms.toFixed(0)} ms; /health during it: ${probes} probes, slowest ${worst.toFixed(0)} ms; ${body.length} bytes`);
    };
    console.log(`${PAIRS} pairs of ~${CHARS} characters, status ${(await counts()).status}`);
    await timed('running');
    await timed('running, again');
    model.release();
    await waitFor(async () => ['completed', 'failed'].includes((await counts()).status), { timeoutMs: 600_000, what: 'finish' });
    await timed('finished, first');
    await timed('finished, second');
    await timed('finished, third');
  } finally {
    await model.close();
    await stack.close();
    await cleanup(env);
  }
}

runMain(main);
