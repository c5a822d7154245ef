/**
 * The LangChain.js baseline: `ConstitutionalChain` from @langchain/classic with `ChatOpenAI` on the
 * simulator, one principle per prompt (the one Amend's seeded sampler picks for round 1), i.e.
 * draft + critique + revision = 3 calls, a Promise pool of C.
 *
 * Its draft, critique and revision prompts are chat prompt templates that render the very
 * conversations Amend sends (planned by `planNextCall` of @amend/pipeline on the same constitution
 * file: the paper's few-shot prefix, the prompt, the draft, the critique request...), so all three
 * systems send the same messages; LangChain's own few-shot templates would send far fewer bytes.
 * The chain still does its own work around them: prompt formatting, callbacks, `_parseCritique`,
 * run bookkeeping. Started by bench/run.ts with BENCH_JOB in the env.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ConstitutionalChain, ConstitutionalPrinciple, LLMChain } from '@langchain/classic/chains';
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from '@langchain/core/messages';
import { BaseChatPromptTemplate } from '@langchain/core/prompts';
import type { InputValues, PartialValues } from '@langchain/core/utils/types';
import { ChatOpenAI } from '@langchain/openai';
import type { StageRecord } from '@amend/contracts';
import { planNextCall, recordCall, samplePrinciple, type PlannedCall, type RunSpec, type SampleSpec } from '@amend/pipeline';
import { benchPrompts, benchRunSpec, benchSamples, measurePairs, readJob, runMain } from '../lib/workload';

/** The sample a chain invocation works on: the templates plan its calls as Amend would. */
const current = new AsyncLocalStorage<SampleSpec>();

/** A stage record carrying only what planning the next call reads: the text the model returned. */
function answered(call: PlannedCall, text: string): StageRecord {
  return recordCall(call, {
    text,
    model: 'sim',
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    latency_ms: 0,
    simulated: true,
    finish_reason: 'stop',
    request: null,
    response: null,
    attempts: 1,
  });
}

/**
 * A chat prompt whose messages are Amend's for one stage. The chain hands it the texts so far
 * (`output_from_model` = the draft, `critique`); records built from them let `planNextCall`
 * give the next request exactly as the worker would.
 */
class AmendStagePrompt extends BaseChatPromptTemplate {
  constructor(
    private readonly run: RunSpec,
    private readonly stage: 'draft' | 'critique' | 'revision',
    inputVariables: string[],
  ) {
    super({ inputVariables });
  }

  _getPromptType(): 'prompt' {
    return 'prompt';
  }

  /** ConstitutionalChain passes the draft prompt, formatted, as `input_prompt`: the user's prompt. */
  override format(values: InputValues): Promise<string> {
    if (this.stage === 'draft') return Promise.resolve(String(values.question));
    return super.format(values);
  }

  async formatMessages(values: InputValues): Promise<BaseMessage[]> {
    const sample = current.getStore();
    if (!sample) throw new Error('no sample in context');
    const records: StageRecord[] = [];
    const next = () => {
      const call = planNextCall(this.run, sample, records);
      if (!call) throw new Error(`no ${this.stage} call planned`);
      return call;
    };
    if (this.stage !== 'draft') records.push(answered(next(), String(values.output_from_model)));
    if (this.stage === 'revision') records.push(answered(next(), String(values.critique)));
    return next().request.messages.map((m) =>
      m.role === 'system' ? new SystemMessage(m.content) : m.role === 'assistant' ? new AIMessage(m.content) : new HumanMessage(m.content),
    );
  }

  partial(_values: PartialValues): Promise<never> {
    return Promise.reject(new Error('not supported'));
  }
}

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
  const draft = new LLMChain({ llm, prompt: new AmendStagePrompt(run, 'draft', ['question']) });
  const critiqueChain = new LLMChain({ llm, prompt: new AmendStagePrompt(run, 'critique', ['input_prompt', 'output_from_model', 'critique_request']) });
  const revisionChain = new LLMChain({
    llm,
    prompt: new AmendStagePrompt(run, 'revision', ['input_prompt', 'output_from_model', 'critique_request', 'critique', 'revision_request']),
  });
  // One chain per principle of the constitution, built once (as a user would), picked per prompt.
  const chains = new Map(
    run.constitution.principles.map((p) => [
      p.id,
      ConstitutionalChain.fromLLM(llm, {
        chain: draft,
        critiqueChain,
        revisionChain,
        constitutionalPrinciples: [new ConstitutionalPrinciple({ name: p.id, critiqueRequest: p.critique, revisionRequest: p.revision })],
      }),
    ]),
  );

  await measurePairs(samples.length, job.concurrency, async (i) => {
    const sample = samples[i];
    const principle = samplePrinciple(run.constitution.principles, run.seed, sample.index, 1);
    const out = await current.run(sample, () => chains.get(principle.id)!.invoke({ question: sample.prompt }));
    return typeof out.output === 'string' && out.output.length > 0;
  });
}

runMain(main);
