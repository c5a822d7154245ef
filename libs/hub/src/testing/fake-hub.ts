import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A Hugging Face Hub for tests: the endpoints @huggingface/hub 2.17 calls for a push
 * (src/lib/who-am-i.ts, create-repo.ts, create-branch.ts, paths-info.ts, commit.ts), written from
 * the Hub's documented HTTP API (https://huggingface.co/docs/hub/api and the git-lfs batch API):
 *
 *   GET  /api/whoami-v2                                       the token's user
 *   POST /api/repos/create                                    {name, organization, type, visibility}
 *   POST /api/datasets/{owner}/{name}/branch/{branch}         a branch from main
 *   POST /api/datasets/{owner}/{name}/paths-info/{rev}        {paths}: type, oid (git blob sha1), size, lfs {oid sha256}
 *   POST /api/datasets/{owner}/{name}/preupload/{rev}         {files: [{path, size, sample}]}: regular or lfs
 *   POST /datasets/{owner}/{name}.git/info/lfs/objects/batch  git-lfs batch, "basic" transfer
 *   PUT  /lfs/{oid}                                           the LFS object's bytes (the batch's upload href)
 *   POST /api/datasets/{owner}/{name}/commit/{rev}            NDJSON: header, file (base64), lfsFile, deletedFile
 *
 * It keeps what arrives: repositories, branches, commits and files, so a test reads back what was
 * pushed. Tokens it accepts are given; any other is a 401 as the Hub answers it.
 */

export interface FakeHubFile {
  bytes: Buffer;
  lfs: boolean;
}

export interface FakeHubCommit {
  oid: string;
  title: string;
  description?: string;
  files: Map<string, FakeHubFile>;
}

export interface FakeHubRepo {
  id: string;
  private: boolean;
  branches: Map<string, FakeHubCommit[]>;
}

export interface FakeHubRequest {
  method: string;
  path: string;
  authorization: string | undefined;
}

export interface FakeHub {
  url: string;
  repos: Map<string, FakeHubRepo>;
  requests: FakeHubRequest[];
  /** The files at a branch's head, as text. */
  files(repo: string, branch?: string): Record<string, string>;
  commits(repo: string, branch?: string): FakeHubCommit[];
  /** The next request whose path matches answers this status (a Hub error body) once. */
  failNext(match: RegExp, status: number, message: string): void;
  close(): Promise<void>;
}

export interface FakeHubOptions {
  /** Tokens the Hub knows, with the user each belongs to. */
  tokens: Record<string, string>;
  /** Files of this many bytes or more go to LFS (the Hub's threshold is 10 MB). */
  lfsThreshold?: number;
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const repos = new Map<string, FakeHubRepo>();
  const lfsObjects = new Map<string, Buffer>();
  const requests: FakeHubRequest[] = [];
  const failures: { match: RegExp; status: number; message: string }[] = [];
  const lfsThreshold = options.lfsThreshold ?? 10 * 1024 * 1024;
  let base = '';

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, status: number, message: string) => json(res, status, { error: message }, { 'x-request-id': `req-${requests.length}` });
  const head = (repo: FakeHubRepo, branch: string) => repo.branches.get(branch)?.at(-1);
  const newOid = () => randomBytes(20).toString('hex');

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', base);
    const path = decodeURIComponent(url.pathname);
    const auth = req.headers.authorization;
    requests.push({ method: req.method ?? '', path, authorization: auth });
    const body = await readBody(req);

    const failure = failures.findIndex((f) => f.match.test(path));
    if (failure >= 0) {
      const [f] = failures.splice(failure, 1);
      return fail(res, f.status, f.message);
    }

    if (req.method === 'PUT' && path.startsWith('/lfs/')) {
      const oid = path.slice('/lfs/'.length);
      if (sha256(body) !== oid) return fail(res, 400, 'the object does not hash to its oid');
      lfsObjects.set(oid, body);
      res.writeHead(200).end();
      return;
    }

    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
    const user = token ? options.tokens[token] : undefined;
    if (!user) return fail(res, 401, 'Invalid credentials in Authorization header');

    if (req.method === 'GET' && path === '/api/whoami-v2') {
      return json(res, 200, {
        type: 'user',
        id: `u-${user}`,
        name: user,
        fullname: user,
        orgs: [],
        auth: { type: 'access_token', accessToken: { displayName: 'test', role: 'write', createdAt: new Date().toISOString() } },
      });
    }

    if (req.method === 'POST' && path === '/api/repos/create') {
      const b = JSON.parse(body.toString('utf8')) as { name: string; organization?: string; type?: string; visibility?: string };
      if (b.type !== 'dataset') return fail(res, 400, 'only datasets here');
      const id = `${b.organization ?? user}/${b.name}`;
      if (repos.has(id)) return fail(res, 409, 'You already created this dataset repo');
      // A new repository's first commit holds .gitattributes, as on the Hub.
      const files = new Map([['.gitattributes', { bytes: Buffer.from('*.parquet filter=lfs diff=lfs merge=lfs -text\n'), lfs: false }]]);
      repos.set(id, { id, private: b.visibility === 'private', branches: new Map([['main', [{ oid: newOid(), title: 'initial commit', files }]]]) });
      return json(res, 200, { url: `${base}/datasets/${id}`, name: id, id: `r-${id}` });
    }

    const lfsBatch = /^\/datasets\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(path);
    if (req.method === 'POST' && lfsBatch) {
      if (!repos.has(lfsBatch[1])) return fail(res, 404, 'Repository not found');
      const b = JSON.parse(body.toString('utf8')) as { objects: { oid: string; size: number }[] };
      return json(res, 200, {
        transfer: 'basic',
        objects: b.objects.map((o) => ({ oid: o.oid, size: o.size, ...(!lfsObjects.has(o.oid) && { actions: { upload: { href: `${base}/lfs/${o.oid}` } } }) })),
      });
    }

    const api = /^\/api\/datasets\/([^/]+\/[^/]+)\/(paths-info|preupload|commit|branch)\/(.+)$/.exec(path);
    if (req.method === 'POST' && api) {
      const [, id, op, rev] = api;
      const repo = repos.get(id);
      if (!repo) return fail(res, 404, 'Repository not found');
      if (op === 'branch') {
        if (repo.branches.has(rev)) return fail(res, 409, 'Reference already exists');
        repo.branches.set(rev, [...(repo.branches.get('main') ?? [])]);
        return json(res, 200, {});
      }
      const tip = head(repo, rev);
      if (!tip) return fail(res, 404, `Revision not found: ${rev}`);
      if (op === 'paths-info') {
        const b = JSON.parse(body.toString('utf8')) as { paths: string[] };
        return json(
          res,
          200,
          b.paths.flatMap((p) => {
            const f = tip.files.get(p);
            if (!f) return [];
            return [
              {
                type: 'file',
                path: p,
                size: f.bytes.length,
                oid: gitBlobOid(f.lfs ? lfsPointer(f.bytes) : f.bytes),
                ...(f.lfs && { lfs: { oid: sha256(f.bytes), size: f.bytes.length, pointerSize: lfsPointer(f.bytes).length } }),
              },
            ];
          }),
        );
      }
      if (op === 'preupload') {
        const b = JSON.parse(body.toString('utf8')) as { files: { path: string; size: number }[] };
        return json(res, 200, { files: b.files.map((f) => ({ path: f.path, uploadMode: f.size >= lfsThreshold ? 'lfs' : 'regular' })) });
      }
      // commit
      if (!String(req.headers['content-type']).startsWith('application/x-ndjson')) return fail(res, 415, 'expected application/x-ndjson');
      const lines = body
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
      const header = lines.find((l) => l.key === 'header')?.value as { summary: string; description?: string } | undefined;
      if (!header) return fail(res, 400, 'the commit has no header');
      const files = new Map(tip.files);
      for (const { key, value } of lines) {
        if (key === 'file')
          files.set(String(value.path), { bytes: Buffer.from(String(value.content), value.encoding === 'base64' ? 'base64' : 'utf8'), lfs: false });
        else if (key === 'lfsFile') {
          const bytes = lfsObjects.get(String(value.oid));
          if (!bytes) return fail(res, 400, `LFS object ${String(value.oid)} was never uploaded`);
          files.set(String(value.path), { bytes, lfs: true });
        } else if (key === 'deletedFile') files.delete(String(value.path));
      }
      const made: FakeHubCommit = { oid: newOid(), title: header.summary, description: header.description, files };
      repo.branches.get(rev)!.push(made);
      return json(res, 200, { commitOid: made.oid, commitUrl: `${base}/datasets/${id}/commit/${made.oid}`, hookOutput: '' });
    }
    return fail(res, 404, `no route ${req.method} ${path}`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => fail(res, 500, e.message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const commitsOf = (repo: string, branch = 'main') => repos.get(repo)?.branches.get(branch) ?? [];
  return {
    url: base,
    repos,
    requests,
    commits: commitsOf,
    files(repo, branch = 'main') {
      const tip = commitsOf(repo, branch).at(-1);
      return Object.fromEntries([...(tip?.files ?? new Map<string, FakeHubFile>())].map(([p, f]) => [p, f.bytes.toString('utf8')]));
    },
    failNext(match, status, message) {
      failures.push({ match, status, message });
    },
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Git's blob id, as the Hub answers a file's `oid` (an LFS file's is its pointer's). */
function gitBlobOid(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** The git-lfs pointer file git stores in place of an LFS file. */
function lfsPointer(bytes: Buffer): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(bytes)}\nsize ${bytes.length}\n`);
}
