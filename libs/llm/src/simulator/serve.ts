import { Command, InvalidArgumentError, Option } from 'commander';
import { JUDGE_STYLES, type JudgeStyle } from './judge';
import { startSimulatorServer, type SimulatorServerOptions } from './server';

/*
 * `npm run simulator -- --port 8081 --latency-ms 200 --rate-429 0.3 --retry-after 1 --rate-500 0.05
 *  --rate-hang 0.02 --rate-malformed 0 --seed 1 --batch-delay-ms 5000 --batch-fail-rate 0.01 --batch-expire-rate 0.1`
 * Then point AMEND_MODELS at it: {"default": {"base_url": "<printed url>", "model": "amend-simulator-1"}}.
 */

function number(min: number, max: number, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return n;
  };
}

export function parseServeArgs(argv: string[]): SimulatorServerOptions {
  const program = new Command('simulator')
    .description('OpenAI-compatible HTTP simulator with deterministic answers and seeded fault injection')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', number(0, 65535, true), 8081)
    .option('--latency-ms <ms>', 'delay before every answer', number(0, 600_000, true), 0)
    .option('--rate-429 <p>', 'share of requests answered 429', number(0, 1), 0)
    .option('--retry-after <s>', 'retry-after seconds sent with 429s', number(0, 3600), 1)
    .option('--rate-500 <p>', 'share of requests answered 500', number(0, 1), 0)
    .option('--rate-hang <p>', 'share of requests never answered', number(0, 1), 0)
    .option('--rate-malformed <p>', 'share of requests answered 200 with a broken JSON body', number(0, 1), 0)
    .option('--seed <n>', 'seed of the fault PRNG', number(0, 2 ** 32 - 1, true), 1)
    .option('--api-key <key>', 'require this bearer key (401 otherwise)')
    .option('--batch-delay-ms <ms>', 'how long each batch stays in progress (Files and Batches API)', number(0, 86_400_000, true), 0)
    .option('--batch-fail-rate <p>', 'share of batch request lines answered 500 (error file)', number(0, 1), 0)
    .option('--batch-expire-rate <p>', 'share of batches that expire with half their requests unanswered', number(0, 1), 0)
    .option('--no-logprobs', 'answer like a backend without log-probabilities (feedback labels become hard)')
    .addOption(
      new Option(
        '--judge-style <style>',
        'how the judge words a one-letter answer: A, (A), The answer is (A), **A**, evasive (no letter, no JSON: every label unreadable) or contrarian (prefers the other answer)',
      ).choices(JUDGE_STYLES),
    )
    .exitOverride();
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    host: string;
    port: number;
    latencyMs: number;
    rate429: number;
    retryAfter: number;
    rate500: number;
    rateHang: number;
    rateMalformed: number;
    seed: number;
    apiKey?: string;
    logprobs: boolean;
    judgeStyle?: JudgeStyle;
    batchDelayMs: number;
    batchFailRate: number;
    batchExpireRate: number;
  }>();
  const batch = o.batchDelayMs || o.batchFailRate || o.batchExpireRate;
  return {
    host: o.host,
    port: o.port,
    latencyMs: o.latencyMs,
    rate429: o.rate429,
    retryAfterS: o.retryAfter,
    rate500: o.rate500,
    rateHang: o.rateHang,
    rateMalformed: o.rateMalformed,
    seed: o.seed,
    apiKey: o.apiKey,
    ...(o.logprobs === false && { logprobs: false }),
    ...(o.judgeStyle && { judgeStyle: o.judgeStyle }),
    ...(batch && { batch: { delayMs: o.batchDelayMs, lineFailRate: o.batchFailRate, expireRate: o.batchExpireRate, seed: o.seed } }),
  };
}

async function main(): Promise<void> {
  let options: SimulatorServerOptions;
  try {
    options = parseServeArgs(process.argv.slice(2));
  } catch (e) {
    // commander has already printed the usage error (or the help text).
    process.exit((e as { exitCode?: number }).exitCode ?? 1);
  }
  const server = await startSimulatorServer(options);
  console.log(`Amend simulator listening on ${server.url}`);
  console.log(`  stats: ${server.url.replace(/\/v1$/, '')}/stats`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping after ${server.stats().calls} calls`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
