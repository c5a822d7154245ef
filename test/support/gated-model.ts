import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simulateCompletion, type SimulatorRequestBody } from '@amend/llm';

/**
 * An OpenAI-compatible model over HTTP that answers as the simulator does, except that a request
 * whose messages contain `holdToken` waits until `release()`: the samples of those prompts stay
 * unfinished for as long as a test needs a run that is still going (every stage of such a sample
 * carries the token: `release()` answers those waiting and lets the rest through, `hold()` closes
 * the gate again). `pad` appends that many
 * characters to every answer that is not a comparison, for runs with long outputs.
 */
export interface GatedModel {
  url: string;
  /** Requests waiting for release. */
  held(): number;
  /** Answers the requests waiting and lets later ones through. */
  release(): void;
  /** Holds requests with the token again. */
  hold(): void;
  close(): Promise<void>;
}

export async function startGatedModel(opts: { holdToken: string; pad?: number }): Promise<GatedModel> {
  const padding = opts.pad ? 'Each step above is explained once more in plain words for the reader. '.repeat(Math.ceil(opts.pad / 70)).slice(0, opts.pad) : '';
  let open = false;
  const waiting: (() => void)[] = [];
  const answer = (body: SimulatorRequestBody, res: ServerResponse) => {
    const completion = simulateCompletion(body);
    const choice = completion.choices[0];
    if (padding && body.logprobs !== true && choice.message.content) {
      choice.message.content = `${choice.message.content} ${padding}`;
      completion.usage!.completion_tokens += Math.ceil(padding.length / 4);
      completion.usage!.total_tokens += Math.ceil(padding.length / 4);
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(completion));
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw) as SimulatorRequestBody;
      if (!open && JSON.stringify(body.messages).includes(opts.holdToken)) waiting.push(() => answer(body, res));
      else answer(body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const release = () => {
    open = true;
    for (const go of waiting.splice(0)) go();
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    held: () => waiting.length,
    release,
    hold: () => {
      open = false;
    },
    async close() {
      release();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
