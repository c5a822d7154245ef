/*
 * The figures issue 13 names, measured against an API in its own process (so its RSS is its own):
 * a 100 MB POST without a key (time to 401, RSS growth; one, then four at once, with /health's
 * latency meanwhile) and 300 requests with made-up keys from one address (how many 429).
 * `npx ts-node --transpile-only -r tsconfig-paths/register bench/abuse-figures.ts`
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT, cleanup, randomKey, testEnv, waitFor } from '../test/support/stack';
import { uploadBytes } from '../test/support/upload';
import { runMain } from './lib/workload';
import { freePort } from '../test/support/free-port';

const MB = 1024 * 1024;

function rssMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** POSTs `total` bytes as fast as the socket takes them; the status and when it came (a reset counts as the answer). */
function upload(url: string, total: number, headers: Record<string, string> = {}) {
  return uploadBytes(url, total, headers, { resetIsAnswer: true });
}

async function main() {
  const port = await freePort();
  const env = testEnv('abuse_figures', { PORT: String(port), AMEND_ADMIN_KEY: randomKey(), LOG_LEVEL: 'error' });
  const api = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', join(ROOT, 'apps/api/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await fetch(`${url}/health`)).ok, { timeoutMs: 120_000, what: 'the API' });
    // Warm up: a few ordinary requests, so lazy loading is not counted as growth.
    for (let i = 0; i < 20; i++) await fetch(`${url}/v1/runs`, { headers: { authorization: `Bearer ${env.AMEND_ADMIN_KEY}` } }).then((r) => r.arrayBuffer());
    const pid = api.pid!;
    const before = rssMb(pid);
    const one = await upload(`${url}/v1/runs`, 100 * MB);
    const afterOne = rssMb(pid);
    console.log(
      `100 MB POST without a key: ${one.status} after ${one.ms.toFixed(0)} ms, ${(one.sent / MB).toFixed(0)} MB sent by then; RSS ${before.rss.toFixed(0)} -> ${afterOne.rss.toFixed(0)} MB, peak ${before.hwm.toFixed(0)} -> ${afterOne.hwm.toFixed(0)} MB`,
    );

    let worstHealth = 0;
    let done = false;
    const probe = (async () => {
      while (!done) {
        const t = performance.now();
        await fetch(`${url}/health`)
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
        worstHealth = Math.max(worstHealth, performance.now() - t);
      }
    })();
    const four = await Promise.all([0, 1, 2, 3].map(() => upload(`${url}/v1/runs`, 100 * MB, { authorization: `Bearer ${randomKey()}` })));
    done = true;
    await probe;
    const afterFour = rssMb(pid);
    console.log(
      `4 x 100 MB POST at once with made-up keys: ${four.map((r) => r.status).join(' ')} after ${four.map((r) => r.ms.toFixed(0)).join(', ')} ms; ` +
        `RSS ${afterOne.rss.toFixed(0)} -> ${afterFour.rss.toFixed(0)} MB, peak ${afterFour.hwm.toFixed(0)} MB; slowest /health meanwhile ${worstHealth.toFixed(0)} ms`,
    );

    // 300 made-up keys from one address (failed authentications are counted per address).
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const res = await fetch(`${url}/v1/runs`, { headers: { authorization: `Bearer amd_${randomBytes(32).toString('base64url')}` } });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    console.log(`300 requests with made-up keys: ${[...statuses].map(([s, n]) => `${n} x ${s}`).join(', ')}`);
  } finally {
    api.kill('SIGTERM');
    await new Promise((r) => api.once('exit', r));
    await cleanup(env);
  }
}

runMain(main);
