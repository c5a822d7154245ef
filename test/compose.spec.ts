import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ts from 'typescript';
import { parse } from 'yaml';
import { loadConfig } from '@amend/contracts';

/**
 * docker-compose.yml and the Dockerfile cannot be run here (no Docker daemon), so this file
 * checks what a broken edit would break: the services and their wiring, the settings the design
 * depends on (Redis persistence and no eviction, healthchecks, readiness ordering), and that every
 * file, script and stage the two files name exists.
 */
const ROOT = resolve(__dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

type Env = Record<string, string | number | boolean | null>;
interface Service {
  image?: string;
  build?: string | { context?: string; target?: string; dockerfile?: string };
  command?: string | string[];
  ports?: (string | { target: number; published: number | string })[];
  environment?: Env | string[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  profiles?: string[];
  container_name?: string;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as ComposeFile;
const services = compose.services;

/** `${VAR:-default}` and `${VAR}` as compose resolves them with an empty shell environment. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name, fallback) => fallback ?? '');
}

function envOf(service: Service): Record<string, string | null> {
  const env = service.environment ?? {};
  const pairs: [string, string | null][] = Array.isArray(env)
    ? env.map((e) => {
        const i = e.indexOf('=');
        return i < 0 ? [e, null] : [e.slice(0, i), e.slice(i + 1)];
      })
    : Object.entries(env).map(([k, v]) => [k, v === null ? null : String(v)]);
  return Object.fromEntries(pairs.map(([k, v]) => [k, v === null ? null : interpolate(v)]));
}

function commandOf(service: Service): string[] {
  const c = service.command ?? [];
  return Array.isArray(c) ? c.map(String) : c.split(/\s+/).filter(Boolean);
}

function healthTest(service: Service): string {
  const t = service.healthcheck?.test ?? [];
  return Array.isArray(t) ? t.join(' ') : t;
}

function mounts(service: Service): { source?: string; target: string }[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target };
    const [source, target] = v.split(':');
    return { source, target };
  });
}

function dependsOn(service: Service): Record<string, string | undefined> {
  const d = service.depends_on ?? {};
  return Array.isArray(d) ? Object.fromEntries(d.map((k) => [k, undefined])) : Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v?.condition]));
}

/** What `npm run build` emits for a source file, computed by TypeScript from tsconfig.build.json. */
function buildOutputOf(sourceFile: string): string {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  )!;
  const abs = join(ROOT, sourceFile);
  expect(parsed.fileNames).toContain(abs);
  const js = ts.getOutputFileNames(parsed, abs, false).find((f) => f.endsWith('.js'))!;
  return js
    .slice(ROOT.length + 1)
    .split('\\')
    .join('/');
}

/** The repo file behind a path a container command names (dist/x.js is built from x.ts). */
function sourceOf(path: string): string {
  return path.startsWith('dist/') ? path.slice('dist/'.length).replace(/\.js$/, '.ts') : path;
}

describe('docker-compose.yml', () => {
  const amendServices = Object.entries(services).filter(([, s]) => s.image === services.api.image);

  it('has redis, postgres, api and worker (and a demo only under a profile)', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['redis', 'postgres', 'api', 'worker']));
    for (const name of ['redis', 'postgres', 'api', 'worker']) expect(services[name].profiles).toBeUndefined();
    if (services.demo) expect(services.demo.profiles).toEqual(['demo']);
  });

  it('runs Redis 7 with an append-only file and no eviction, on a volume', () => {
    const redis = services.redis;
    expect(redis.image).toMatch(/^redis:7(\.|$|-)/);
    const cmd = commandOf(redis).join(' ');
    expect(cmd).toMatch(/^redis-server\b/);
    expect(cmd).toMatch(/--appendonly yes\b/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction\b/);
    const data = mounts(redis).find((m) => m.target === '/data');
    expect(data?.source).toBeDefined();
    expect(compose.volumes).toHaveProperty(data!.source!);
    expect(healthTest(redis)).toMatch(/redis-cli( -[^ ]+)* ping/);
  });

  it('runs Postgres 16 with the amend database on a named volume, reachable only inside the network', () => {
    const pg = services.postgres;
    expect(pg.image).toMatch(/^postgres:16(\.|$|-)/);
    const env = envOf(pg);
    expect(env.POSTGRES_DB).toBe('amend');
    expect(env.POSTGRES_HOST_AUTH_METHOD === 'trust' || !!env.POSTGRES_PASSWORD).toBe(true);
    const data = mounts(pg).find((m) => m.target === '/var/lib/postgresql/data');
    expect(data?.source).toBeDefined();
    expect(compose.volumes).toHaveProperty(data!.source!);
    expect(healthTest(pg)).toMatch(/pg_isready/);
    if (env.POSTGRES_HOST_AUTH_METHOD === 'trust') expect(pg.ports ?? []).toEqual([]);
  });

  it('publishes the API on port 3000 and checks its readiness, not just liveness', () => {
    const api = services.api;
    expect(api.ports).toContain('3000:3000');
    expect(envOf(api).PORT).toBe('3000');
    expect(healthTest(api)).toMatch(/\/ready\b/);
  });

  it('builds one image from this Dockerfile that both the API and the worker run', () => {
    expect(services.api.image).toBeDefined();
    expect(services.worker.image).toBe(services.api.image);
    for (const s of [services.api, services.worker]) {
      const build = typeof s.build === 'string' ? { context: s.build } : s.build;
      expect(build?.context).toBe('.');
      expect(build?.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
      if (build?.target) expect(dockerfileStages()).toContain(build.target);
    }
    // container_name would stop `docker compose up --scale worker=N`.
    expect(services.worker.container_name).toBeUndefined();
  });

  it('points the API and worker at the redis and postgres services, with settings the app accepts at boot', () => {
    for (const name of ['api', 'worker']) {
      const env = envOf(services[name]);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      const db = new URL(env.DATABASE_URL!);
      expect(db.protocol).toBe('postgres:');
      expect(services).toHaveProperty(db.hostname);
      expect(db.port).toBe('5432');
      expect(db.pathname).toBe('/amend');
      // Passed through from the shell, never set to a value here (a blank AMEND_MODELS would not boot).
      expect(Object.keys(env)).toEqual(expect.arrayContaining(['AMEND_MODELS', 'AMEND_ADMIN_KEY']));
      expect(env.AMEND_MODELS).toBeNull();
      expect(env.AMEND_ADMIN_KEY).toBeNull();
      const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== null)) as Record<string, string>;
      expect(() => loadConfig(set)).not.toThrow();
    }
    expect(Number(envOf(services.worker).WORKER_CONCURRENCY)).toBeGreaterThan(0);
  });

  it('starts the API and workers only once Redis and Postgres are healthy', () => {
    for (const name of ['api', 'worker']) {
      const deps = dependsOn(services[name]);
      expect(deps.redis).toBe('service_healthy');
      expect(deps.postgres).toBe('service_healthy');
    }
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        expect(services).toHaveProperty(dep);
        // Waiting for health needs a health check to wait for.
        if (condition === 'service_healthy') expect([name, dep, healthTest(services[dep])]).not.toEqual([name, dep, '']);
      }
    }
  });

  it('runs the commands that the build produces, and names only files that exist', () => {
    expect(amendServices.length).toBeGreaterThanOrEqual(2);
    for (const [name, s] of amendServices) {
      const cmd = commandOf(s);
      expect([name, cmd[0]]).toEqual([name, 'node']);
      for (const arg of cmd.slice(1)) {
        if (!/^(dist|bin|examples|constitutions)\//.test(arg)) continue;
        const source = sourceOf(arg);
        expect([name, source, existsSync(join(ROOT, source))]).toEqual([name, source, true]);
        if (arg.startsWith('dist/')) expect(buildOutputOf(source)).toBe(arg);
      }
      const health = s.healthcheck?.disable ? [] : [healthTest(s)];
      for (const script of health.join(' ').match(/\bbin\/[\w.-]+/g) ?? []) expect(existsSync(join(ROOT, script))).toBe(true);
      const constitution = cmd[cmd.indexOf('--constitution') + 1];
      if (cmd.includes('--constitution')) expect(existsSync(join(ROOT, 'constitutions', constitution.split('@')[0]))).toBe(true);
    }
    expect(commandOf(services.api).join(' ')).toMatch(/dist\/apps\/api\/src\/main\.js$/);
    expect(commandOf(services.worker).join(' ')).toMatch(/dist\/apps\/worker\/src\/main\.js$/);
  });

  it('declares every named volume it mounts', () => {
    for (const s of Object.values(services)) {
      for (const m of mounts(s)) {
        if (m.source && !m.source.startsWith('.') && !m.source.startsWith('/')) expect(compose.volumes).toHaveProperty(m.source);
      }
    }
  });
});

interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function dockerfile(): Instruction[] {
  const lines = read('Dockerfile').split('\n');
  const out: Instruction[] = [];
  let stage = -1;
  let current = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('#') || (!current && !line)) continue;
    current += (current ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const [keyword, ...rest] = current.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') stage++;
    out.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), stage });
    current = '';
  }
  return out;
}

function dockerfileStages(): string[] {
  return dockerfile()
    .filter((i) => i.keyword === 'FROM')
    .map((i) => /\bAS\s+(\S+)/i.exec(i.args)?.[1] ?? '');
}

describe('Dockerfile', () => {
  const steps = dockerfile();
  const args = Object.fromEntries(steps.filter((i) => i.keyword === 'ARG' && i.stage === -1).map((i) => i.args.split('=') as [string, string]));
  const froms = steps.filter((i) => i.keyword === 'FROM').map((i) => i.args.replace(/\$\{(\w+)\}/g, (_m, n) => args[n] ?? ''));
  const last = froms.length - 1;
  const stageOf = (name: string) => dockerfileStages().indexOf(name);
  const inStage = (stage: number) => steps.filter((i) => i.stage === stage);
  /** COPY steps of the runtime (last) stage. */
  const runtimeCopies = inStage(last).filter((i) => i.keyword === 'COPY');

  it('is multi-stage, every stage on node:20-bookworm-slim or an earlier stage', () => {
    expect(froms.length).toBeGreaterThanOrEqual(3);
    for (const f of froms) {
      const base = f.split(/\s+/)[0];
      expect(base === 'node:20-bookworm-slim' || dockerfileStages().includes(base)).toBe(true);
    }
  });

  it('installs with npm ci, builds with the package.json build script, and ships production dependencies only', () => {
    const runs = steps.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    expect(JSON.parse(read('package.json')).scripts.build).toMatch(/tsc -p tsconfig\.build\.json/);

    const modules = runtimeCopies.find((i) => /node_modules/.test(i.args));
    const from = /--from=(\S+)/.exec(modules?.args ?? '')?.[1];
    expect(from).toBeDefined();
    const prodRuns = inStage(stageOf(from!))
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args);
    expect(prodRuns.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
  });

  it('runs as a non-root user with a health check, and resolves @amend/* under dist at runtime', () => {
    const final = inStage(last);
    const user = final.filter((i) => i.keyword === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(final.some((i) => i.keyword === 'HEALTHCHECK')).toBe(true);
    const env = final
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toMatch(/TS_NODE_BASEURL=\.\/dist\b/);
    // tsconfig-paths/register reads the path aliases from tsconfig.json in the working directory.
    expect(runtimeCopies.some((i) => /\btsconfig\.json\b/.test(i.args) && !/--from/.test(i.args))).toBe(true);
    expect(runtimeCopies.some((i) => /^constitutions\b/.test(i.args))).toBe(true);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    for (const copy of steps.filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        expect([src, existsSync(join(ROOT, src))]).toEqual([src, true]);
        expect([src, ignored.includes(src)]).toEqual([src, false]);
      }
    }
  });

  it('by default runs the API build output with path aliases registered', () => {
    const cmd = steps.filter((i) => i.keyword === 'CMD').at(-1)!;
    const argv = JSON.parse(cmd.args) as string[];
    expect(argv.slice(0, 3)).toEqual(['node', '-r', 'tsconfig-paths/register']);
    expect(buildOutputOf(sourceOf(argv[3]))).toBe(argv[3]);
    const health = steps.find((i) => i.keyword === 'HEALTHCHECK')!.args;
    for (const script of health.match(/\bbin\/[\w.-]+/g) ?? []) expect(existsSync(join(ROOT, script))).toBe(true);
  });
});

describe('npm run build and npm run start:prod', () => {
  const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>;

  it('builds the server and the console in one command, which the Docker build runs', () => {
    expect(scripts.build).toMatch(/tsc -p tsconfig\.build\.json/);
    expect(scripts.build).toMatch(/npm run build:console\b/);
    const runs = dockerfile()
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args);
    // The image checks for the console's index.html right after `npm run build`, with no separate console step.
    expect(runs.some((r) => /\bnpm run build\b/.test(r) && /apps\/console\/dist\/index\.html/.test(r) && !/build:console/.test(r))).toBe(true);
  });

  it('starts the compiled API and worker without compiling anything', () => {
    expect(scripts['start:prod']).toBe('node bin/start-prod.js');
    const launcher = read('bin/start-prod.js');
    expect(launcher).not.toMatch(/require\('(ts-node|typescript)|child_process/);
    expect(launcher).toMatch(/'apps', 'all', 'main\.js'/);
    expect(buildOutputOf('apps/all/main.ts')).toBe('dist/apps/all/main.js');
  });

  it('refuses to start without a build and says to run npm run build first', () => {
    const empty = mkdtempSync(join(tmpdir(), 'amend-no-build-'));
    try {
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/start-prod.js')], {
        cwd: ROOT,
        env: { ...process.env, TS_NODE_BASEURL: empty },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('run `npm run build` first');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('.ci/run', () => {
  it('is an executable bash script that fails on the first error', () => {
    const file = join(ROOT, '.ci/run');
    expect(statSync(file).mode & 0o111).not.toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).toMatch(/^#!.*\bbash\b/);
    expect(text).toMatch(/^set -euo pipefail$/m);
    expect(text).toMatch(/\bnpm test\b/);
  });
});

describe('database roles in docker-compose.yml', () => {
  it('migrates once as the owner, then runs the API, workers and demo as amend_service (a member of amend_app)', () => {
    const migrate = services.migrate;
    expect(commandOf(migrate).join(' ')).toContain('dist/scripts/migrate.js');
    expect(existsSync(join(ROOT, 'scripts/migrate.ts'))).toBe(true);
    expect(new URL(envOf(migrate).DATABASE_URL!).username).toBe('postgres');
    expect(envOf(migrate).AMEND_APP_ROLE).toBe('amend_service');
    for (const name of ['api', 'worker', 'demo']) {
      expect(new URL(envOf(services[name]).DATABASE_URL!).username).toBe('amend_service');
    }
    for (const name of ['api', 'demo']) {
      expect(services[name].depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' } });
    }
  });
});
