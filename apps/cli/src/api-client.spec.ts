import { ApiClient, ErrorAnswer } from './api-client';

function answering(status: number, body: string, contentType = 'application/json'): typeof fetch {
  return async () => new Response(body, { status, headers: { 'content-type': contentType } });
}

async function failure(p: Promise<unknown>): Promise<ErrorAnswer> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ErrorAnswer) return err;
    throw err;
  }
  throw new Error('expected an ErrorAnswer');
}

describe('ApiClient', () => {
  const base = 'http://amend.test';

  it("surfaces the server's error body as code, message and details", async () => {
    const body = JSON.stringify({ error: { code: 'forbidden', message: 'this key cannot read runs', details: { role: 'author' } } });
    const err = await failure(new ApiClient({ baseUrl: base, fetch: answering(403, body) }).getRun('r1'));
    expect([err.status, err.code, err.message, err.details]).toEqual([403, 'forbidden', 'this key cannot read runs', { role: 'author' }]);
    expect(err.transient).toBe(false);
  });

  it('describes an error that is not in the contract shape, e.g. from a proxy', async () => {
    const err = await failure(new ApiClient({ baseUrl: base, fetch: answering(502, '<html>Bad Gateway</html>', 'text/html') }).getRun('r1'));
    expect(err.code).toBe('http_502');
    expect(err.message).toBe('GET /v1/runs/r1 failed with HTTP 502: <html>Bad Gateway</html>');
    expect(err.transient).toBe(true);
  });

  it('refuses a success body that does not match the contract, naming the fields', async () => {
    const err = await failure(new ApiClient({ baseUrl: base, fetch: answering(200, JSON.stringify({ id: 'not-a-uuid' })) }).getRun('r1'));
    expect(err.code).toBe('unexpected_response');
    expect(err.message).toMatch(/does not match the contract/);
    expect(err.details).toEqual(expect.arrayContaining([expect.stringMatching(/^id: /), expect.stringMatching(/^status: /)]));
  });

  it('escapes ids in paths and sends filters as query parameters', async () => {
    const urls: string[] = [];
    const spy: typeof fetch = async (input) => {
      urls.push(String(input));
      return new Response(JSON.stringify({ runs: [], next_cursor: null }), { status: 200 });
    };
    const client = new ApiClient({ baseUrl: base, fetch: spy });
    await client.listRuns({ status: 'failed', limit: 5 });
    await failure(client.getRun('../keys'));
    expect(urls).toEqual([`${base}/v1/runs?status=failed&limit=5`, `${base}/v1/runs/..%2Fkeys`]);
  });

  it('sends the SFT export the same filters as the pairs export, an empty exclude included (keep every pair)', async () => {
    const urls: string[] = [];
    const spy: typeof fetch = async (input) => {
      urls.push(String(input));
      return new Response('', { status: 200 });
    };
    const client = new ApiClient({ baseUrl: base, fetch: spy });
    await client.sftStream('r1', { exclude: 'noop,truncated', reviewed: 'accepted' });
    await client.sftStream('r1', { exclude: '' });
    await client.sftStream('r1');
    await client.pairsStream('r1', 'h4', { reviewed: 'accepted' });
    expect(urls).toEqual([
      `${base}/v1/runs/r1/sft?exclude=noop%2Ctruncated&reviewed=accepted`,
      `${base}/v1/runs/r1/sft?exclude=`,
      `${base}/v1/runs/r1/sft`,
      `${base}/v1/runs/r1/pairs?format=h4&reviewed=accepted`,
    ]);
  });
});
