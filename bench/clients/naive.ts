/**
 * The naive baseline: the `openai` client, a Promise pool, three sequential calls per prompt that
 * continue one conversation (the messages Amend sends, planned by @amend/pipeline), no queue, no
 * database, nothing kept but the final text. Started by bench/run.ts with BENCH_JOB in the env.
 */
import OpenAI from 'openai';
import type { StageRecord } from '@amend/contracts';
import { chatRequestBody } from '@amend/llm';
import { planNextCall, recordCall } from '@amend/pipeline';
import { benchPrompts, benchRunSpec, benchSamples, measurePairs, readJob, runMain } from '../lib/workload';

async function main() {
  const job = readJob();
  const run = benchRunSpec();
  const samples = benchSamples(benchPrompts(job.n));
  const client = new OpenAI({ baseURL: job.baseURL, apiKey: 'unused', maxRetries: 0, timeout: job.timeoutMs });

  await measurePairs(samples.length, job.concurrency, async (i) => {
    const sample = samples[i];
    const records: StageRecord[] = [];
    let last = '';
    for (let call = planNextCall(run, sample, records); call; call = planNextCall(run, sample, records)) {
      const started = performance.now();
      const completion = await client.chat.completions.create(chatRequestBody('sim', call.request));
      const text = completion.choices[0]?.message?.content ?? '';
      records.push(
        recordCall(call, {
          text,
          model: completion.model,
          usage: { prompt_tokens: completion.usage?.prompt_tokens ?? 0, completion_tokens: completion.usage?.completion_tokens ?? 0 },
          latency_ms: performance.now() - started,
          simulated: true,
          finish_reason: completion.choices[0]?.finish_reason ?? null,
          request: null,
          response: null,
          attempts: 1,
        }),
      );
      last = text;
    }
    return last.length > 0;
  });
}

runMain(main);
