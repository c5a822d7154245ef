import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { freePort } from '../../support/free-port';
import { waitFor } from '../../support/stack';

/*
 * Services a fault test owns and may break: a second redis-server and a throwaway Postgres
 * cluster on free ports, never the shared ones that other test files use at the same time.
 */

/** A redis-server of the test's own, keeping nothing on disk (like the shared one). */
export class OwnRedis {
  private child?: ChildProcess;
  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    await r.start();
    return r;
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor(() => this.ping(), { timeoutMs: 10_000, what: `redis-server on ${this.port}` });
  }

  /** SHUTDOWN NOSAVE: every key is gone, as after a crash of a Redis that keeps nothing on disk. */
  async stop(): Promise<void> {
    const child = this.child;
    const exited = new Promise<void>((resolve) => (child && child.exitCode === null ? child.once('exit', () => resolve()) : resolve()));
    const redis = new IORedis(this.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    await redis.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    redis.disconnect();
    await exited;
  }

  private async ping(): Promise<boolean> {
    const redis = new IORedis(this.url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
    try {
      await redis.connect();
      return (await redis.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      redis.disconnect();
    }
  }

  async keys(): Promise<number> {
    const redis = new IORedis(this.url);
    try {
      return await redis.dbsize();
    } finally {
      redis.disconnect();
    }
  }
}

function pgBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  return join(root, version, 'bin', name);
}

/** initdb refuses to run as root: the cluster belongs to the `postgres` OS user. */
function asPostgres(cmd: string, args: string[]): string {
  const argv = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  return execFileSync(argv[0] as string, argv[1] as string[], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A throwaway Postgres cluster on a free port, trust auth, stopped and removed at the end. */
export class OwnPostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  url(db: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  static async start(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'amend-pg-'));
    if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
    asPostgres(pgBin('initdb'), ['-D', dir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    const pg = new OwnPostgres(dir, await freePort());
    pg.start();
    return pg;
  }

  start(): void {
    asPostgres(pgBin('pg_ctl'), [
      '-D',
      this.dir,
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${this.port} -k ${tmpdir()} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]);
  }

  stop(): void {
    asPostgres(pgBin('pg_ctl'), ['-D', this.dir, '-m', 'fast', '-w', '-t', '30', 'stop']);
  }

  destroy(): void {
    try {
      if (existsSync(join(this.dir, 'postmaster.pid'))) this.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** What Postgres holds for a run: the figures every fault test prints. */
export async function runFigures(env: Record<string, string>, runId: string) {
  const pg = new Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await pg.connect();
  try {
    const one = async (q: string) => Number((await pg.query(q, [runId])).rows[0].n);
    return {
      samples: await one('select count(*) as n from samples where run_id = $1'),
      completed: await one(`select count(*) as n from samples where run_id = $1 and status = 'completed'`),
      pairs: await one('select count(*) as n from pairs where run_id = $1'),
      // A sample that is neither finished nor has its pair: lost.
      lost: await one(
        `select count(*) as n from samples s where run_id = $1 and (status in ('pending', 'running') or (status = 'completed' and not exists (select 1 from pairs p where p.sample_id = s.id)))`,
      ),
      duplicated: await one(
        'select coalesce(sum(c - 1), 0) as n from (select count(*) as c from pairs where run_id = $1 group by sample_id having count(*) > 1) d',
      ),
      stages: await one('select count(*) as n from stage_records r join samples s on s.id = r.sample_id where s.run_id = $1'),
      // Counted in the audit trail, where no unique index stands in the way of a second copy: a pair
      // emitted twice is two pair.emitted events of one sample (at different seqs of its chain), a
      // call saved twice two stage events of one (sample, seq).
      emitted: await one(`select count(*) as n from audit_events where run_id = $1 and type = 'pair.emitted'`),
      emittedTwice: await one(
        `select coalesce(sum(c - 1), 0) as n from (select count(*) as c from audit_events where run_id = $1 and type = 'pair.emitted' group by sample_id having count(*) > 1) d`,
      ),
      stageEventsTwice: await one(
        `select coalesce(sum(c - 1), 0) as n from (select count(*) as c from audit_events where run_id = $1 and sample_id is not null and payload ? 'stage' and payload ? 'seq'
           group by sample_id, payload->>'seq' having count(*) > 1) d`,
      ),
    };
  } finally {
    await pg.end();
  }
}

export interface Exchange {
  key: string;
  arrivedAt: number;
  status?: number;
  answeredAt?: number;
  retryAfterMs?: number;
}

/**
 * An HTTP proxy in front of the simulator that records each request (by a hash of its body:
 * a retry sends the same body) with when it arrived and when and how it was answered, so a
 * test can measure how long a client waited after a 429 before asking again.
 */
export async function recordingProxy(target: string): Promise<{ url: string; exchanges: Exchange[]; close(): Promise<void> }> {
  const upstream = new URL(target);
  const exchanges: Exchange[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const x: Exchange = { key: createHash('sha256').update(body).digest('hex'), arrivedAt: Date.now() };
      exchanges.push(x);
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } },
        (answer) => {
          x.status = answer.statusCode;
          const ra = answer.headers['retry-after'];
          if (typeof ra === 'string') x.retryAfterMs = Number(ra) * 1000;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', () => (x.answeredAt = Date.now()));
        },
      );
      out.on('error', () => res.destroy());
      // The client gave up (its timeout): drop the upstream request too.
      res.on('close', () => out.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
