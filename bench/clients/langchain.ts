/**
 * The LangChain.js baseline: `ConstitutionalChain` from @langchain/classic with `ChatOpenAI` on the
 * simulator, one principle per prompt (the one Amend's seeded sampler picks for round 1, so the
 * principle mix matches), i.e. draft + critique + revision = 3 calls, a Promise pool of C.
 * LangChain builds its own prompts (its few-shot critique and revision templates), so the
 * messages differ from Amend's; the call count and the backend are the same.
 * Started by bench/run.ts with BENCH_JOB in the env.
 */
import { ConstitutionalChain, ConstitutionalPrinciple, LLMChain } from '@langchain/classic/chains';
import { PromptTemplate } from '@langchain/core/prompts';
import { ChatOpenAI } from '@langchain/openai';
import { samplePrinciple } from '@amend/pipeline';
import { benchPrompts, benchRunSpec, benchSamples, measurePairs, readJob, runClientMain } from '../lib/workload';

async function main() {
  const job = readJob();
  const run = benchRunSpec();
  const samples = benchSamples(benchPrompts(job.n));
  const llm = new ChatOpenAI({
    model: 'sim',
    apiKey: 'unused',
    configuration: { baseURL: job.baseURL },
    maxRetries: 0,
    timeout: job.timeoutMs,
    temperature: run.sampling.temperature,
    topP: run.sampling.top_p,
    maxTokens: run.sampling.max_tokens,
  });
  const draft = new LLMChain({ llm, prompt: PromptTemplate.fromTemplate('{question}') });
  // One chain per principle of the constitution, built once (as a user would), picked per prompt.
  const chains = new Map(
    run.constitution.principles.map((p) => [
      p.id,
      ConstitutionalChain.fromLLM(llm, {
        chain: draft,
        constitutionalPrinciples: [new ConstitutionalPrinciple({ name: p.id, critiqueRequest: p.critique, revisionRequest: p.revision })],
      }),
    ]),
  );

  await measurePairs(samples.length, job.concurrency, async (i) => {
    const sample = samples[i];
    const principle = samplePrinciple(run.constitution.principles, run.seed, sample.index, 1);
    const out = await chains.get(principle.id)!.invoke({ question: sample.prompt });
    return typeof out.output === 'string' && out.output.length > 0;
  });
}

runClientMain(main);
