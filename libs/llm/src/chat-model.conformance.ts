import type { ChatModel, ChatRequest, ChatResult } from '@amend/pipeline';
import { ModelError } from './errors';
import type { Fault } from './simulator/faults';
import { FAIL_400_MARKER } from './simulator/markers';
import { SIMULATOR_MODEL, simulateCompletion } from './simulator/simulate';

/**
 * One conformance suite for the ChatModel port, run against every implementation (as bullmq runs
 * one suite against every adapter): the in-process simulator, the OpenAI-compatible adapter on the
 * HTTP simulator, and the rate-limited wrapper around each. Every implementation here answers from
 * the simulator, so the expected values come from its documented determinism (libs/llm/README.md:
 * the same request body gives the same response; about four characters a token; `[[amend:fail400]]`
 * is a 400) and from the hand-written tables below, never from the implementation under test.
 *
 * The batch transport (OpenAIBatchClient) is not a ChatModel: it uploads files and polls batches,
 * and its result lines are read by the same `completionResult` as an online answer.
 */
export interface ConformanceSubject {
  /** Answers from the simulator, configured with the model id `amend-simulator-1`. */
  model: ChatModel;
  /** A model of the same implementation whose next call does not answer until aborted. */
  stalled(): ChatModel;
  /**
   * Scripts what the backend does with the next requests (HTTP implementations only: the
   * in-process simulator has no transport to fail). `calls()` counts requests the backend got.
   * The subject's retry policy makes at most `maxAttempts` attempts, each given up after a few seconds at most.
   */
  faults?: { script(faults: Fault[]): void; calls(): number; maxAttempts: number };
  close(): Promise<void>;
}

const SAMPLING = { temperature: 0.7, top_p: 1, max_tokens: 256 };
const SYSTEM = 'You are terse.'; // 14 characters
const PROMPT = 'Name three hardy houseplants.'; // 29 characters

const draftRequest = (extra: Partial<ChatRequest> = {}): ChatRequest => ({
  alias: 'conformance',
  messages: [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: PROMPT },
  ],
  sampling: SAMPLING,
  seed: 11,
  ...extra,
});

/** The CAI multiple-choice comparison, as the pipeline words it (feedback/comparison-prompt.ts). */
const comparisonRequest = (logprobs: boolean): ChatRequest => ({
  alias: 'conformance',
  messages: [
    {
      role: 'user',
      content: [
        'Consider the following conversation between a human and an assistant:',
        'Human: How do I get rid of a wasp nest?',
        'Which of these assistant responses is less harmful?',
        'Options:',
        '(A) Call a licensed pest controller; keep away from the nest meanwhile.',
        '(B) Just whack it with a stick, who cares about the stings.',
        'The answer is:',
      ].join('\n'),
    },
  ],
  sampling: { temperature: 0, top_p: 1, max_tokens: 512 },
  seed: 3,
  max_tokens: 1,
  ...(logprobs && { logprobs: true, top_logprobs: 5 }),
});

/**
 * What the simulator answers to this request's body, written out by hand as the OpenAI-compatible
 * body it is (model, messages, sampling, seed): the reference every implementation must match.
 */
function simulatorAnswer(req: ChatRequest): string {
  const body = {
    model: SIMULATOR_MODEL,
    messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
    temperature: req.sampling.temperature,
    top_p: req.sampling.top_p,
    max_tokens: req.max_tokens ?? req.sampling.max_tokens,
    seed: req.seed,
    ...(req.logprobs && { logprobs: true, top_logprobs: req.top_logprobs }),
  };
  return simulateCompletion(body).choices[0].message.content ?? '';
}

/** Transport faults on every attempt, and what the caller must see: a hand-written table (libs/llm/README.md, "Error codes"). */
const FAULTS: { fault: Fault; kind: 'transient' | 'permanent'; code: string; status?: number }[] = [
  { fault: { status: 503 }, kind: 'transient', code: 'server_error', status: 503 },
  { fault: { status: 500 }, kind: 'transient', code: 'server_error', status: 500 },
  { fault: { status: 429, retryAfterMs: 1 }, kind: 'transient', code: 'rate_limited', status: 429 },
  { fault: 'malformed', kind: 'transient', code: 'malformed_response' },
  // No answer within the implementation's own per-attempt timeout (the subject keeps it short).
  { fault: 'hang', kind: 'transient', code: 'timeout' },
  { fault: { status: 401 }, kind: 'permanent', code: 'unauthorized', status: 401 },
  { fault: { status: 404 }, kind: 'permanent', code: 'not_found', status: 404 },
  { fault: { status: 422 }, kind: 'permanent', code: 'unprocessable_entity', status: 422 },
  { fault: 'content_filter', kind: 'permanent', code: 'content_filter' },
];

function transport(subject: ConformanceSubject): NonNullable<ConformanceSubject['faults']> {
  if (!subject.faults) throw new Error('an HTTP implementation must script its faults');
  return subject.faults;
}

async function modelError(p: Promise<unknown>): Promise<ModelError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof ModelError)) throw new Error(`expected a ModelError, got ${e === undefined ? 'an answer' : String(e)}`);
  return e;
}

/** Settles `p` within `ms`, or fails: an abort must not wait for the backend. */
async function settlesWithin<T>(p: Promise<T>, ms: number): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms)));
  try {
    return await Promise.race([Promise.allSettled([p]).then(([r]) => r), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Defines the suite for one implementation. `transport`: the implementation talks HTTP, and its
 * subject scripts faults; the transport-fault cases are defined only then.
 */
export function describeChatModelConformance(name: string, make: () => Promise<ConformanceSubject>, opts: { transport: boolean }): void {
  describe(`ChatModel conformance: ${name}`, () => {
    let subject: ConformanceSubject;
    beforeAll(async () => {
      subject = await make();
    });
    afterAll(() => subject?.close());
    beforeEach(() => subject.faults?.script([]));

    describe('an answer', () => {
      let result: ChatResult;
      beforeAll(async () => {
        result = await subject.model.complete(draftRequest());
      });

      it("is the simulator's answer to the same body, labelled simulated, in one attempt", () => {
        expect(result.text).toBe(simulatorAnswer(draftRequest()));
        expect(result.text.length).toBeGreaterThan(0);
        expect({ model: result.model, simulated: result.simulated, attempts: result.attempts }).toEqual({
          model: 'amend-simulator-1',
          simulated: true,
          attempts: 1,
        });
      });

      it('stopped on its own: finish_reason stop', () => {
        expect(result.finish_reason).toBe('stop');
      });

      it('counts about four characters a token: 43 prompt characters are 11 tokens', () => {
        expect(result.usage.prompt_tokens).toBe(Math.ceil((SYSTEM.length + PROMPT.length) / 4));
        expect(result.usage.prompt_tokens).toBe(11);
        expect(result.usage.completion_tokens).toBe(Math.ceil(result.text.length / 4));
      });

      it('carries no log-probabilities when none were asked for', () => {
        expect(result.logprobs ?? null).toBeNull();
      });

      it('keeps the exact request and response for the audit trail', () => {
        expect(result.request).toMatchObject({
          messages: [
            { role: 'system', content: SYSTEM },
            { role: 'user', content: PROMPT },
          ],
          seed: 11,
        });
        expect(result.response).toMatchObject({ model: 'amend-simulator-1', choices: [{ message: { content: result.text } }] });
        expect(result.latency_ms).toBeGreaterThanOrEqual(0);
      });
    });

    it('is deterministic: the same request twice gives the same text and usage', async () => {
      const [a, b] = [await subject.model.complete(draftRequest()), await subject.model.complete(draftRequest())];
      expect([b.text, b.usage]).toEqual([a.text, a.usage]);
    });

    it('stops at max_tokens with finish_reason length: 2 tokens are at most 8 characters', async () => {
      const r = await subject.model.complete(draftRequest({ max_tokens: 2 }));
      expect({ finish_reason: r.finish_reason, completion_tokens: r.usage.completion_tokens }).toEqual({ finish_reason: 'length', completion_tokens: 2 });
      expect(r.text.length).toBeLessThanOrEqual(8);
      expect(r.text).toBe(simulatorAnswer(draftRequest({ max_tokens: 2 })));
    });

    it('answers a comparison with one letter and, when asked, its log-probability and the top 5 alternatives', async () => {
      const r = await subject.model.complete(comparisonRequest(true));
      expect(['A', 'B']).toContain(r.text);
      expect(r.text).toBe(simulatorAnswer(comparisonRequest(true)));
      expect(r.logprobs).toHaveLength(1);
      const [position] = r.logprobs ?? [];
      expect(position.token).toBe(r.text);
      expect(position.logprob).toBeLessThanOrEqual(0);
      expect(position.top_logprobs).toHaveLength(5);
      expect(position.top_logprobs.map((t) => t.token)).toEqual(expect.arrayContaining(['A', 'B']));
    });

    it('answers the same comparison without log-probabilities when none were asked for', async () => {
      const r = await subject.model.complete(comparisonRequest(false));
      expect(['A', 'B']).toContain(r.text);
      expect(r.logprobs ?? null).toBeNull();
    });

    it(`fails permanently, not to be retried, on a request the backend refuses (${FAIL_400_MARKER}: 400 bad_request)`, async () => {
      const before = subject.faults?.calls();
      const e = await modelError(subject.model.complete(draftRequest({ messages: [{ role: 'user', content: `x ${FAIL_400_MARKER}` }] })));
      expect({ kind: e.kind, code: e.code, status: e.status, transient: e.transient }).toEqual({
        kind: 'permanent',
        code: 'bad_request',
        status: 400,
        transient: false,
      });
      if (subject.faults && before !== undefined) expect(subject.faults.calls() - before).toBe(1);
    });

    it('gives up at once on an already aborted call, with the caller’s reason, not a model error', async () => {
      const controller = new AbortController();
      const reason = new Error('run cancelled');
      controller.abort(reason);
      const settled = await settlesWithin(subject.model.complete(draftRequest(), controller.signal), 2_000);
      expect(settled).toEqual({ status: 'rejected', reason });
    });

    it('gives up on a call in flight when the caller aborts, without waiting for the backend', async () => {
      const controller = new AbortController();
      const reason = new Error('shutdown');
      const call = subject.stalled().complete(draftRequest(), controller.signal);
      setTimeout(() => controller.abort(reason), 50);
      const settled = await settlesWithin(call, 5_000);
      expect(settled).toEqual({ status: 'rejected', reason });
    });

    it("gives up when the caller's deadline passes (AbortSignal.timeout), as a TimeoutError, not a model error", async () => {
      const settled = await settlesWithin(subject.stalled().complete(draftRequest(), AbortSignal.timeout(100)), 5_000);
      expect(settled.status).toBe('rejected');
      const reason = (settled as PromiseRejectedResult).reason as Error;
      expect(reason).not.toBeInstanceOf(ModelError);
      expect(reason.name).toBe('TimeoutError');
    });

    // The in-process simulator has no transport to fail: these cases exist only for HTTP implementations.
    if (opts.transport)
      describe('transport faults', () => {
        const cases = FAULTS.map((f) => ({ ...f, label: typeof f.fault === 'string' ? f.fault : `HTTP ${f.fault.status}` }));

        it.each(cases)('$label on every attempt is a $kind $code', async ({ fault, kind, code, status }) => {
          const faults = transport(subject);
          const { maxAttempts } = faults;
          faults.script(Array.from({ length: maxAttempts }, () => fault));
          const before = faults.calls();
          const e = await modelError(subject.model.complete(draftRequest()));
          expect({ kind: e.kind, code: e.code, status: e.status }).toEqual({ kind, code, status });
          // Transient errors were retried up to the limit; permanent ones were asked once.
          expect(faults.calls() - before).toBe(kind === 'transient' ? maxAttempts : 1);
        });

        it('a transient fault followed by an answer is retried and answered, in two attempts', async () => {
          transport(subject).script([{ status: 503 }, 'ok']);
          const r = await subject.model.complete(draftRequest());
          expect({ text: r.text, attempts: r.attempts }).toEqual({ text: simulatorAnswer(draftRequest()), attempts: 2 });
        });
      });
  });
}
