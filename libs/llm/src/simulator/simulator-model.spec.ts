import type { ChatRequest } from '@amend/pipeline';
import { FAIL_400_MARKER } from './markers';
import { simulateCompletion } from './simulate';
import { SimulatorModel } from './simulator-model';

const req = (content: string): ChatRequest => ({
  alias: 'default',
  messages: [{ role: 'user', content }],
  sampling: { temperature: 0.7, top_p: 1, max_tokens: 512 },
  seed: 5,
});

describe('SimulatorModel', () => {
  it('answers in process, labelled simulated, with the body it would have sent and the simulated response', async () => {
    const result = await new SimulatorModel().complete(req('How do I start running?'));
    expect(result).toMatchObject({ simulated: true, attempts: 1, model: 'amend-simulator-1', finish_reason: 'stop' });
    expect(result.response).toEqual(simulateCompletion(result.request as never));
    expect(result.text).toBe((result.response as ReturnType<typeof simulateCompletion>).choices[0].message.content);
    expect(result.usage.completion_tokens).toBeGreaterThan(0);
  });

  it('waits the configured latency', async () => {
    const started = Date.now();
    await new SimulatorModel({ latencyMs: 50 }).complete(req('hi there'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });

  it(`fails permanently, like the HTTP simulator's 400, on ${FAIL_400_MARKER}`, async () => {
    await expect(new SimulatorModel().complete(req(`x ${FAIL_400_MARKER}`))).rejects.toMatchObject({
      kind: 'permanent',
      code: 'bad_request',
      status: 400,
    });
  });

  it('honours an abort while it waits', async () => {
    const controller = new AbortController();
    const call = new SimulatorModel({ latencyMs: 60_000 }).complete(req('hi'), controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(call).rejects.toThrow('cancelled');
  });
});
