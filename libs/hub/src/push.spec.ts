import { createServer } from 'node:net';
import { pushToHub, HubPushError, type HubFile } from './push';
import { startFakeHub, type FakeHub } from './testing/fake-hub';

const TOKEN = 'hf_test_writer_0123456789';
const REPO = 'acme/prefs';

let hub: FakeHub;
beforeEach(async () => {
  hub = await startFakeHub({ tokens: { [TOKEN]: 'acme' }, lfsThreshold: 1024 });
});
afterEach(() => hub.close());

const folder = (train = '{"a":1}\n'): HubFile[] => [
  { path: 'README.md', content: '---\nlicense: other\n---\n\n# card\n' },
  { path: 'train.jsonl', content: train },
  { path: 'test.jsonl', content: '{"b":2}\n' },
];
const push = (files: HubFile[], more: Partial<Parameters<typeof pushToHub>[1]> = {}) =>
  pushToHub(files, { repo: REPO, token: TOKEN, endpoint: hub.url, title: 'push', owned: ['README.md', 'train.jsonl', 'test.jsonl'], ...more });

it('creates a missing repository and uploads the folder in one commit beside the Hub’s own first commit', async () => {
  const out = await push(folder(), { private: true });
  expect(out).toMatchObject({ repo: REPO, branch: 'main', changed: true, created: true, url: `${hub.url}/datasets/${REPO}` });
  expect(hub.repos.get(REPO)!.private).toBe(true);
  const commits = hub.commits(REPO);
  expect(commits.map((c) => c.title)).toEqual(['initial commit', 'push']);
  expect(out.commit).toBe(commits[1].oid);
  expect(hub.files(REPO)).toEqual({
    '.gitattributes': expect.any(String),
    'README.md': '---\nlicense: other\n---\n\n# card\n',
    'train.jsonl': '{"a":1}\n',
    'test.jsonl': '{"b":2}\n',
  });
});

it('pushing the same folder again makes no commit', async () => {
  await push(folder());
  const again = await push(folder());
  expect(again).toMatchObject({ changed: false, created: false, commit: null });
  expect(hub.commits(REPO)).toHaveLength(2);
  // It asked only what the branch holds: no preupload and no commit request the second time.
  expect(hub.requests.filter((r) => /\/(preupload|commit)\//.test(r.path))).toHaveLength(2);
});

it('a changed file makes one commit with that file, and a file the builder no longer writes is deleted in it', async () => {
  await push(folder());
  const out = await push([folder('{"a":3}\n')[0], folder('{"a":3}\n')[1]]);
  expect(out.changed).toBe(true);
  const files = hub.files(REPO);
  expect(files['train.jsonl']).toBe('{"a":3}\n');
  expect(files['test.jsonl']).toBeUndefined();
  expect(files['README.md']).toBe('---\nlicense: other\n---\n\n# card\n');
  expect(hub.commits(REPO)).toHaveLength(3);
});

it('large files go through LFS, and are compared by their sha256 the next time', async () => {
  const big = `${'{"x":"' + 'y'.repeat(2000) + '"}'}\n`;
  await push(folder(big));
  const stored = hub.commits(REPO).at(-1)!.files.get('train.jsonl')!;
  expect(stored.lfs).toBe(true);
  expect(stored.bytes.toString('utf8')).toBe(big);
  expect(hub.requests.some((r) => r.path.endsWith('.git/info/lfs/objects/batch'))).toBe(true);
  expect((await push(folder(big))).changed).toBe(false);
  expect(hub.commits(REPO)).toHaveLength(2);
});

it('pushes to another branch, created from main, leaving main alone', async () => {
  await push(folder());
  const out = await push(folder('{"a":9}\n'), { branch: 'v2' });
  expect(out).toMatchObject({ branch: 'v2', changed: true, url: `${hub.url}/datasets/${REPO}/tree/v2` });
  expect(hub.files(REPO, 'v2')['train.jsonl']).toBe('{"a":9}\n');
  expect(hub.files(REPO)['train.jsonl']).toBe('{"a":1}\n');
});

it('a token the Hub refuses is hub_unauthorized, before anything is created, and no message holds the token', async () => {
  const bad = 'hf_not_a_token_the_hub_knows';
  const e = await push(folder(), { token: bad }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(HubPushError);
  expect(e).toMatchObject({ code: 'hub_unauthorized', status: 502, details: { hub_status: 401 } });
  expect((e as Error).message).toContain('Invalid credentials in Authorization header');
  expect(JSON.stringify({ m: (e as Error).message, d: (e as HubPushError).details })).not.toContain(bad);
  expect(hub.repos.size).toBe(0);
});

it('a token that is not a Hub token is refused before any request', async () => {
  await expect(push(folder(), { token: 'ghp_wrong_kind' })).rejects.toMatchObject({ code: 'hub_not_configured' });
  expect(hub.requests).toHaveLength(0);
});

// The Hub's statuses and the code each reads as (docs/errors.md), written out by hand.
const HUB_ERRORS: [status: number, at: RegExp, code: string, status502or429: number][] = [
  [403, /\/api\/repos\/create$/, 'hub_forbidden', 502],
  [404, /\/paths-info\//, 'hub_not_found', 502],
  [409, /\/commit\//, 'hub_conflict', 502],
  [413, /\/commit\//, 'hub_too_large', 502],
  [429, /\/preupload\//, 'hub_rate_limited', 429],
  [500, /\/commit\//, 'hub_error', 502],
];

it.each(HUB_ERRORS)('the Hub’s %i reads as what it is', async (status, at, code, ours) => {
  hub.failNext(at, status, `the hub says ${status}`);
  const e = (await push(folder()).catch((x: unknown) => x)) as HubPushError;
  expect(e).toBeInstanceOf(HubPushError);
  expect({ code: e.code, status: e.status, hub: (e.details as { hub_status: number }).hub_status }).toEqual({ code, status: ours, hub: status });
  expect(e.message).toContain(`the hub says ${status}`);
});

it('an address where no Hub answers is hub_error naming HF_ENDPOINT', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const e = (await push(folder(), { endpoint: `http://127.0.0.1:${port}` }).catch((x: unknown) => x)) as HubPushError;
  expect(e.code).toBe('hub_error');
  expect(e.message).toContain('HF_ENDPOINT');
});
