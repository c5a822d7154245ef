import { BATCH_LIMITS, inputLine, readResultFile, splitIntoFiles, type BatchRequestLine } from './batch-lines';

const req = (i: number, content = 'x'): BatchRequestLine => ({
  custom_id: `s${i}:0`,
  body: { model: 'm', messages: [{ role: 'user', content }], temperature: 0.7, top_p: 1, max_tokens: 16 },
});

describe('splitIntoFiles', () => {
  it("keeps OpenAI's limits by default: 50,000 requests and 200 MB per file", () => {
    expect(BATCH_LIMITS).toEqual({ maxLines: 50_000, maxBytes: 200 * 1024 * 1024 });
    const parts = splitIntoFiles(Array.from({ length: 120_001 }, (_, i) => req(i)));
    expect(parts.map((p) => p.custom_ids.length)).toEqual([50_000, 50_000, 20_001]);
    expect(parts[2].custom_ids[20_000]).toBe('s120000:0');
  });

  it('starts a new file before one would pass the byte limit, and every file is the JSONL of its lines in order', () => {
    const lines = [req(0, 'a'.repeat(100)), req(1, 'b'.repeat(100)), req(2, 'c')];
    const sizes = lines.map((l) => Buffer.byteLength(inputLine(l) + '\n'));
    const parts = splitIntoFiles(lines, { maxLines: 10, maxBytes: sizes[0] + sizes[1] - 1 });
    expect(parts.map((p) => p.custom_ids)).toEqual([['s0:0'], ['s1:0', 's2:0']]);
    expect(parts[1].bytes).toBe(sizes[1] + sizes[2]);
    expect(
      parts[1].jsonl
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { custom_id: 's1:0', method: 'POST', url: '/v1/chat/completions', body: lines[1].body },
      { custom_id: 's2:0', method: 'POST', url: '/v1/chat/completions', body: lines[2].body },
    ]);
  });

  it('refuses a single request larger than a file may be', () => {
    expect(() => splitIntoFiles([req(0, 'x'.repeat(500))], { maxLines: 10, maxBytes: 100 })).toThrow(/s0:0 is \d+ bytes/);
  });
});

describe('readResultFile', () => {
  const out = (custom_id: string, response: unknown, error: unknown = null) => JSON.stringify({ id: 'batch_req_1', custom_id, response, error });

  it('classifies each line as the same answer to an online call would be', () => {
    const text = [
      out('ok', { status_code: 200, request_id: 'req_1', body: { choices: [] } }),
      out('bad', { status_code: 400, request_id: 'req_2', body: { error: { message: 'bad messages', type: 'invalid_request_error', code: null } } }),
      out('long', {
        status_code: 400,
        request_id: 'req_3',
        body: { error: { message: "This model's maximum context length is 8192 tokens", type: 'invalid_request_error', code: 'context_length_exceeded' } },
      }),
      out('busy', { status_code: 429, request_id: 'req_4', body: { error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded' } } }),
      out('down', { status_code: 503, request_id: 'req_5', body: { error: { message: 'overloaded', type: 'server_error', code: null } } }),
      out('late', null, { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' }),
      out('gone', null, { code: 'batch_cancelled', message: 'cancelled' }),
      out('odd', null, { code: 'something_new', message: '?' }),
      '{"truncated',
      '',
    ].join('\n');
    const read = readResultFile(text, 'gpt');
    expect(read.map((r) => (r.ok ? [r.custom_id, 'ok', r.request_id] : [r.custom_id, r.error.kind, r.error.code]))).toEqual([
      ['ok', 'ok', 'req_1'],
      ['bad', 'permanent', 'bad_request'],
      ['long', 'permanent', 'context_length_exceeded'],
      ['busy', 'transient', 'rate_limited'],
      ['down', 'transient', 'server_error'],
      ['late', 'transient', 'batch_expired'],
      ['gone', 'transient', 'batch_cancelled'],
      ['odd', 'permanent', 'something_new'],
    ]);
    const bad = read[1];
    expect(!bad.ok && bad.error.message).toBe('gpt (batch): HTTP 400 invalid_request_error: bad messages');
  });
});
