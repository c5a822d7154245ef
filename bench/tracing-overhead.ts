/**
 * What tracing costs a model call's stage, off and on (docs/operators.md#traces):
 *
 *   npx ts-node --transpile-only -r tsconfig-paths/register bench/tracing-overhead.ts [--calls 20000] [--repeat 5]
 *
 * Each measurement walks `--calls` stages the way the worker does (sample-orchestrator.ts: a
 * stage span around the call, a `chat {model}` span around the in-process simulator's answer, the
 * judge's event) with tracing off (TRACING_OFF: one flag tested, nothing built) and on (the SDK,
 * a batch span processor, protobuf over HTTP to a local receiver that reads and drops the body),
 * and against the bare call. Prints microseconds per stage, the fastest of `--repeat` tries, and
 * what loading the SDK costs the first process that turns tracing on. No Redis or Postgres.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type ChatMessage } from '@amend/contracts';
import { SimulatorModel } from '@amend/llm';
import type { ChatRequest } from '@amend/pipeline';
import { TRACING_OFF, createTracing, genAiTarget, type Tracing } from '@amend/runtime';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const CALLS = arg('calls', 20_000);
const REPEAT = arg('repeat', 5);

const model = new SimulatorModel({});
const messages: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Explain tides to a child.' },
];
const request: ChatRequest = { alias: 'default', messages, sampling: { temperature: 0.7, top_p: 1, max_tokens: 256 }, seed: 42 };

const cannedAnswer = model.complete(request);
/** A model that answers at once with a canned result: what is left is the wrapper's own cost. */
const instant = { complete: () => cannedAnswer };

/** One stage as the orchestrator runs it: the flag, the stage span, the call's span, the work. */
async function stage(tracing: Tracing, seq: number, m: { complete(r: ChatRequest): Promise<unknown> } = model): Promise<void> {
  const work = async () => {
    const result = tracing.enabled
      ? await tracing.modelCall({ alias: request.alias, stage: 'draft', seq, request }, () => m.complete(request) as ReturnType<typeof model.complete>)
      : await m.complete(request);
    if (tracing.enabled) tracing.evaluation({ name: 'harmless', score: 0.7, label: 'A', labelSource: 'soft' });
    return result;
  };
  if (tracing.enabled) await tracing.span('stage draft', { attributes: { 'amend.stage': 'draft', 'amend.seq': seq } }, work);
  else await work();
}

/** Microseconds per call of each path: the paths take turns within every try (the machine's load hits them alike), the fastest try kept. */
async function timeAll(paths: ((i: number) => Promise<unknown>)[]): Promise<number[]> {
  const best = paths.map(() => Infinity);
  for (let r = 0; r < REPEAT; r++) {
    for (const [p, run] of paths.entries()) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < CALLS; i++) await run(i);
      best[p] = Math.min(best[p], Number(process.hrtime.bigint() - started) / 1e3 / CALLS);
    }
  }
  return best;
}

async function main() {
  let received = 0;
  let bytes = 0;
  const sink = createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

  const loadedBefore = Object.keys(require.cache).filter((k) => k.includes('@opentelemetry/sdk-trace')).length;
  const off = createTracing(loadConfig({}), 'bench', genAiTarget({ describe: () => ({}) }));
  const loadedOff = Object.keys(require.cache).filter((k) => k.includes('@opentelemetry/sdk-trace')).length;
  const loadStart = process.hrtime.bigint();
  const on = createTracing(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: url }), 'bench', genAiTarget({ describe: () => ({}) }));
  const loadMs = Number(process.hrtime.bigint() - loadStart) / 1e6;

  // Warm up every path once, so the JIT has seen them before the clock runs.
  for (let i = 0; i < 2_000; i++) {
    await model.complete(request);
    await stage(off, i);
    await stage(on, i);
  }
  const [bare, offUs, onUs] = await timeAll([() => model.complete(request), (i) => stage(off, i), (i) => stage(on, i)]);
  const [bareI, offI, onI] = await timeAll([() => instant.complete(), (i) => stage(off, i, instant), (i) => stage(on, i, instant)]);
  await on.shutdown();
  sink.close();

  const row = (name: string, us: number) =>
    `${name.padEnd(34)} ${us.toFixed(2).padStart(8)} µs/stage  ${(us - bare >= 0 ? '+' : '') + (us - bare).toFixed(2)} µs`;
  console.log(`tracing overhead: ${CALLS} stages per try, fastest of ${REPEAT}, in-process simulator as the model`);
  console.log(row('bare call (no wrapper)', bare));
  console.log(row('tracing off (TRACING_OFF)', offUs));
  console.log(row('tracing on (2 spans + 1 event)', onUs));
  const rowI = (name: string, us: number) => `${name.padEnd(34)} ${(us * 1000).toFixed(0).padStart(8)} ns/stage  +${((us - bareI) * 1000).toFixed(0)} ns`;
  console.log('the same with a model that answers at once (the wrappers alone):');
  console.log(rowI('bare call', bareI));
  console.log(rowI('tracing off', offI));
  console.log(rowI('tracing on', onI));
  console.log(`SDK modules loaded: ${loadedBefore} before, ${loadedOff} with tracing off, loading it for tracing on took ${loadMs.toFixed(0)} ms`);
  console.log(`exports received: ${received} requests, ${(bytes / 1024).toFixed(0)} KiB`);
  if (off !== TRACING_OFF) throw new Error('tracing off did not give TRACING_OFF');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
