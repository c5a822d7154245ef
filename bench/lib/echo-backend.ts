import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimulatorStats } from '@amend/llm';

/**
 * An OpenAI-compatible backend that costs next to no CPU per call, so that what a client spends per
 * pair is what shows (the simulator works out a deterministic answer from the conversation: 1.8 ms
 * of CPU per pair, a third of the machine at the bench's rates). It reads each request body as
 * bytes, counts its message characters with one JSON.parse, and answers a prebuilt completion
 * whose id and text carry a counter (so a store that deduplicates by content still stores every
 * answer). Not for tests of behaviour: it never refuses, judges or varies its answer.
 *
 * `npx ts-node --transpile-only bench/lib/echo-backend.ts --port 0 --latency-ms 0`
 */
export function startEchoBackend(port: number, latencyMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const stats: SimulatorStats = { calls: 0, by_status: {}, hung: 0, malformed: 0, in_flight: 0, max_in_flight: 0, message_chars: 0 };
  let n = 0;
  const answer = (res: ServerResponse, model: string) => {
    const i = ++n;
    const body =
      `{"id":"chatcmpl-echo-${i}","object":"chat.completion","created":1700000000,"model":${JSON.stringify(model)},` +
      `"choices":[{"index":0,"message":{"role":"assistant","content":"Answer ${i}: a short, careful reply that stays on the question and avoids harm."},` +
      `"finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":900,"completion_tokens":20,"total_tokens":920}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    stats.by_status['200'] = (stats.by_status['200'] ?? 0) + 1;
    stats.in_flight--;
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      stats.calls++;
      stats.in_flight++;
      stats.max_in_flight = Math.max(stats.max_in_flight, stats.in_flight);
      let model = 'echo';
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model?: string; messages?: { content?: string }[] };
        model = body.model ?? model;
        for (const m of body.messages ?? []) stats.message_chars += m.content?.length ?? 0;
      } catch {
        stats.malformed++;
      }
      if (latencyMs > 0) setTimeout(() => answer(res, model), latencyMs);
      else answer(res, model);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${bound}/v1`, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}

if (require.main === module) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  void startEchoBackend(arg('--port', 8082), arg('--latency-ms', 0)).then(({ url }) => console.log(`echo backend listening on ${url}`));
}
