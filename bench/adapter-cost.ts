/**
 * CPU the model adapter spends per call, in this process, against the echo backend in another:
 * `npx ts-node --transpile-only -r tsconfig-paths/register bench/adapter-cost.ts [--calls 6000] [--concurrency 64]`.
 * Each call sends the anthropic-cai constitution's few-shot prefix and a short conversation, as a
 * critique call does. For A/B of the HTTP client path without Postgres or the queue in the way.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadConstitutionFile } from '@amend/constitution';
import { OpenAICompatibleModel, closeModelAgent } from '@amend/llm';
import { openingMessages } from '../libs/pipeline/src/conversation';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

async function main() {
  const calls = arg('--calls', 6000);
  const concurrency = arg('--concurrency', 64);
  const root = join(__dirname, '..');
  const echo = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(root, 'bench/lib/echo-backend.ts'), '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) => {
    echo.stdout!.on('data', (b: Buffer) => {
      const m = /listening on (\S+)/.exec(b.toString());
      if (m) resolve(m[1]);
    });
  });
  const { constitution } = loadConstitutionFile(join(root, 'constitutions/anthropic-cai/1.1.0.yaml'));
  const model = new OpenAICompatibleModel({ alias: 'default', baseURL: url, model: 'echo' });
  const sampling = { temperature: 0.7, top_p: 1, max_tokens: 512 };
  const request = (i: number) => ({
    alias: 'default',
    messages: [
      ...openingMessages(constitution, [{ role: 'user' as const, content: `Question ${i}: how do I fix a squeaky door?` }]),
      { role: 'assistant' as const, content: `Draft ${i}: oil the hinge.` },
      { role: 'user' as const, content: constitution.principles[0].critique },
    ],
    sampling,
    seed: i,
  });
  // Warm up the connections and the JIT before the window.
  await Promise.all(Array.from({ length: concurrency }, (_, i) => model.complete(request(i) as never)));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls) await model.complete(request(next++) as never);
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  console.log(
    `${calls} calls at C=${concurrency}: ${((cpu.user + cpu.system) / 1000 / calls).toFixed(3)} CPU ms per call (user ${(cpu.user / 1000 / calls).toFixed(3)}), ${((calls / wall) * 1000).toFixed(0)} calls/s`,
  );
  await closeModelAgent();
  echo.kill();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
