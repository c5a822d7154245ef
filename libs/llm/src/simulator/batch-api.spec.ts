import OpenAI, { toFile } from 'openai';
import { FAIL_400_MARKER } from './markers';
import { startSimulatorServer, type SimulatorServer } from './server';
import { simulateCompletion } from './simulate';
import { parseMultipart } from './batch-api';

/*
 * Shapes from OpenAI's Batch API reference (https://platform.openai.com/docs/api-reference/batch):
 * input line {custom_id, method, url, body}; output/error line {id, custom_id, response:
 * {status_code, request_id, body} | null, error: {code, message} | null}; the Batch object's
 * fields and statuses; expired requests are written to the error file as `batch_expired`.
 */

const body = (content: string) => ({ model: 'amend-simulator-1', messages: [{ role: 'user', content }], temperature: 0.7, top_p: 1, max_tokens: 64 });
const line = (custom_id: string, content: string) => JSON.stringify({ custom_id, method: 'POST', url: '/v1/chat/completions', body: body(content) });

let sim: SimulatorServer;
let client: OpenAI;

async function submit(lines: string[]) {
  const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'in.jsonl'), purpose: 'batch' });
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { tag: 't1' } });
}

async function settled(id: string) {
  const end = Date.now() + 5_000;
  for (;;) {
    const b = await client.batches.retrieve(id);
    if (['completed', 'expired', 'cancelled', 'failed'].includes(b.status)) return b;
    if (Date.now() > end) throw new Error(`batch ${id} still ${b.status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lines = async (fileId: string | null | undefined) =>
  fileId
    ? (await (await client.files.content(fileId)).text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
    : [];

beforeEach(async () => {
  sim = await startSimulatorServer({ batch: { delayMs: 150 } });
  client = new OpenAI({ baseURL: sim.url, apiKey: 'unused', maxRetries: 0 });
});
afterEach(() => sim.close());

it('takes a multipart upload with purpose batch and answers a File object', async () => {
  const file = await client.files.create({ file: await toFile(Buffer.from(line('a', 'hi') + '\n'), 'in.jsonl'), purpose: 'batch' });
  expect(file).toEqual({
    id: expect.stringMatching(/^file-/),
    object: 'file',
    bytes: Buffer.byteLength(line('a', 'hi') + '\n'),
    created_at: expect.any(Number),
    filename: 'in.jsonl',
    purpose: 'batch',
    status: 'processed',
    status_details: null,
  });
  expect(await client.files.retrieve(file.id)).toEqual(file);
});

it('runs a batch: validating, in progress with growing counts, then completed with one output line per request matching the chat endpoint', async () => {
  const created = await submit([line('r-1', 'Name a river.'), line('r-2', 'Name a mountain.')]);
  expect(created).toMatchObject({
    id: expect.stringMatching(/^batch_/),
    object: 'batch',
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    status: 'validating',
    output_file_id: null,
    error_file_id: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    metadata: { tag: 't1' },
  });
  expect(created.expires_at! - created.created_at).toBe(24 * 3600);
  const running = await client.batches.retrieve(created.id);
  expect(running.status).toBe('in_progress');
  expect(running.request_counts!.total).toBe(2);
  const done = await settled(created.id);
  expect(done).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 2, failed: 0 }, error_file_id: null });
  expect(done.completed_at).toEqual(expect.any(Number));
  const out = await lines(done.output_file_id);
  expect(out.map((l) => l.custom_id)).toEqual(['r-1', 'r-2']);
  expect(out[0]).toEqual({
    id: expect.stringMatching(/^batch_req_/),
    custom_id: 'r-1',
    response: { status_code: 200, request_id: expect.stringMatching(/^req_/), body: simulateCompletion(body('Name a river.')) },
    error: null,
  });
  expect(sim.batchLog().map((l) => [l.batch_id, l.custom_id])).toEqual([
    [created.id, 'r-1'],
    [created.id, 'r-2'],
  ]);
});

it('writes failed lines to the error file: a non-200 status_code with an error body, or an error without response', async () => {
  sim.setBatchScript([{ status: { lines: 1, status: 500 }, error: { lines: 1, code: 'request_timeout' } }]);
  const created = await submit([line('a', 'one'), line('b', 'two'), line('c', 'three'), line('d', `four ${FAIL_400_MARKER}`)]);
  const done = await settled(created.id);
  expect(done.request_counts).toEqual({ total: 4, completed: 1, failed: 3 });
  expect((await lines(done.output_file_id)).map((l) => l.custom_id)).toEqual(['c']);
  const errors = await lines(done.error_file_id);
  expect(errors.map((l) => [l.custom_id, l.response?.status_code ?? null, l.error?.code ?? null])).toEqual([
    ['a', 500, null],
    ['b', null, 'request_timeout'],
    ['d', 400, null],
  ]);
  expect(errors[0].response.body.error).toMatchObject({ type: 'server_error' });
});

it('expires a batch with its unanswered requests as batch_expired in the error file', async () => {
  sim.setBatchScript([{ expire: { after: 1 } }]);
  const done = await settled((await submit([line('a', 'one'), line('b', 'two'), line('c', 'three')])).id);
  expect(done.status).toBe('expired');
  expect(done.expired_at).toEqual(expect.any(Number));
  expect((await lines(done.output_file_id)).map((l) => l.custom_id)).toEqual(['a']);
  expect(await lines(done.error_file_id)).toEqual([
    {
      id: expect.any(String),
      custom_id: 'b',
      response: null,
      error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
    },
    {
      id: expect.any(String),
      custom_id: 'c',
      response: null,
      error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
    },
  ]);
});

it('cancels a batch in progress: cancelling, then cancelled with the unanswered requests as batch_cancelled', async () => {
  sim.setBatchScript([{ delayMs: 60_000 }]);
  const created = await submit([line('a', 'one'), line('b', 'two')]);
  const cancelling = await client.batches.cancel(created.id);
  expect(cancelling.status).toBe('cancelling');
  const done = await settled(created.id);
  expect(done.status).toBe('cancelled');
  expect((await lines(done.error_file_id)).map((l) => l.error.code)).toEqual(['batch_cancelled', 'batch_cancelled']);
});

it('fails a batch whose input file is invalid at validation, naming the line, and lists batches newest first', async () => {
  const bad = await submit([line('a', 'one'), line('a', 'again'), JSON.stringify({ custom_id: 'x', method: 'POST', url: '/v1/embeddings', body: body('x') })]);
  const good = await submit([line('z', 'fine')]);
  const failed = await client.batches.retrieve(bad.id);
  expect(failed.status).toBe('failed');
  expect(failed.errors!.data!.map((e) => [e.code, e.line])).toEqual([
    ['duplicate_custom_id', 2],
    ['mismatched_endpoint', 3],
  ]);
  const page = await client.batches.list({ limit: 1 });
  expect(page.data.map((b) => b.id)).toEqual([good.id]);
  expect(page.has_more).toBe(true);
  const next = await client.batches.list({ limit: 1, after: good.id });
  expect(next.data.map((b) => b.id)).toEqual([bad.id]);
});

it('refuses a batch for another endpoint or window, and unknown ids, with OpenAI-shaped errors', async () => {
  const file = await client.files.create({ file: await toFile(Buffer.from(line('a', 'x')), 'in.jsonl'), purpose: 'batch' });
  await expect(client.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h' })).rejects.toMatchObject({
    status: 400,
    param: 'endpoint',
  });
  await expect(client.batches.retrieve('batch_nope')).rejects.toMatchObject({ status: 404 });
  await expect(client.files.content('file-nope')).rejects.toMatchObject({ status: 404 });
});

it('reads multipart bodies with binary-safe file parts', () => {
  const b = Buffer.from(
    '--X\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--X\r\nContent-Disposition: form-data; name="file"; filename="f.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n{"a":1}\r\n{"b":2}\n\r\n--X--\r\n',
  );
  const parts = parseMultipart(b, 'X');
  expect(parts.map((p) => [p.name, p.filename, p.data.toString()])).toEqual([
    ['purpose', undefined, 'batch'],
    ['file', 'f.jsonl', '{"a":1}\r\n{"b":2}\n'],
  ]);
});
