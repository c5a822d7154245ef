import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** `node -r ts-node/register/transpile-only -r tsconfig-paths/register`, as the brief and the tests run services. */
export const TS_NODE_ARGS = ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'];

/**
 * How Amend's own API and worker are started: `build` runs the compiled JavaScript, as the Docker
 * image and any production deployment do (ts-node alone holds ~90 MB and some CPU); `source`
 * runs the TypeScript through ts-node, as `npm start` and the tests do. The clients and the
 * simulator always run from source: they are not what is measured against the targets.
 */
export type AmendFrom = 'build' | 'source';
let amendFrom: AmendFrom = 'build';
let buildDir: string | undefined;

export function setAmendFrom(from: AmendFrom): void {
  amendFrom = from;
}

export function getAmendFrom(): AmendFrom {
  return amendFrom;
}

/** Compiles apps/ and libs/ once per bench run into a fresh folder (never the repo's dist/). */
function amendBuild(): string {
  if (!buildDir) {
    // Inside node_modules/.cache so that the compiled files resolve the repo's node_modules.
    const cache = join(ROOT, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    const dir = mkdtempSync(join(cache, 'amend-bench-build-'));
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dir], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (tsc.status !== 0) throw new Error(`building Amend for the bench failed:\n${tsc.stdout}${tsc.stderr}`);
    buildDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return buildDir;
}

/** Node arguments and extra env to start one of Amend's entry points (`apps/api/src/main`), with optional TypeScript preloads. */
export function amendProcess(entry: string, preload: string[] = []): { args: string[]; env: Record<string, string> } {
  if (amendFrom === 'source') return { args: [...TS_NODE_ARGS, ...preload, join(ROOT, `${entry}.ts`)], env: {} };
  const dir = amendBuild();
  // tsconfig-paths maps @amend/* under the build (TS_NODE_BASEURL); a preload, being TypeScript, still needs ts-node.
  const preloadArgs = preload.length ? ['-r', 'ts-node/register/transpile-only', ...preload] : [];
  return { args: ['-r', 'tsconfig-paths/register', ...preloadArgs, join(dir, `${entry}.js`)], env: { TS_NODE_BASEURL: dir } };
}

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64 and arm64

/** Every child this harness started and has not seen exit; killed on the way out, whatever happens. */
const live = new Set<ChildProcess>();

export interface Child {
  proc: ChildProcess;
  pid: number;
  name: string;
  /** Everything the child wrote so far (the last 64 KiB of each stream), for error messages. */
  output(): string;
  exited: Promise<number | null>;
}

export function spawnChild(name: string, args: string[], env: Record<string, string>, opts: SpawnOptions = {}): Child {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts,
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not start`);
  live.add(proc);
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > 65_536) out = out.slice(-65_536);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      resolve(code ?? (signal ? -1 : null));
    });
  });
  return { proc, pid: proc.pid, name, output: () => out, exited };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
export async function stopChild(child: Child | undefined, graceMs = 5_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill(signal);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Last resort at exit: SIGKILL whatever is still running (synchronous, so it works in 'exit'). */
export function killAllChildren(): void {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

/** user + system CPU time of one process (its threads included, its children not), in ms. */
export function cpuMs(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** A process and its direct children (a cluster primary and its forked workers), from /proc. */
export function withChildren(pid: number): number[] {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(kids ? kids.split(/\s+/).map(Number) : [])];
  } catch {
    return [pid];
  }
}

/** User and system CPU time of one process, in ms, from /proc/<pid>/stat. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after the closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1000) / CLK_TCK, system: (Number(fields[12]) * 1000) / CLK_TCK };
}

/** A field of /proc/<pid>/status in kB (VmHWM = peak resident set, VmRSS = current). */
export function statusKb(pid: number | 'self', field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : NaN;
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
export function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user, nice, system, idle, iowait, irq, softirq] = v.map((x) => x ?? 0);
  const busy = user + nice + system + irq + softirq;
  // Steal is time the hypervisor gave to other guests: neither ours nor idle, so left out of both.
  return { busy, total: busy + idle + iowait };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `intervalMs` until it returns a value, the child dies, or the deadline passes. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; children?: Child[] },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    for (const c of opts.children ?? []) {
      if (c.proc.exitCode !== null || c.proc.signalCode !== null) {
        throw new Error(`${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}) while waiting for ${what}:\n${c.output().slice(-4000)}`);
      }
    }
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      if ((e as { fatal?: boolean }).fatal) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** fetch with a timeout, so a stuck server cannot hang the bench. */
export async function fetchWithin(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
}

/** cpuMs of each pid still alive (vanished ones are left out). */
export function cpuMsByPid(pids: Iterable<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuMs(pid));
    } catch {
      /* exited */
    }
  }
  return out;
}

/** CPU used between two snapshots: deltas for pids in both, the whole CPU of pids born in between. */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

/** Pids whose command name (/proc/<pid>/comm) is `comm`. */
export function pidsByComm(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      /* exited */
    }
  }
  return pids;
}

/**
 * Postgres's own background processes (checkpointer, background writer, WAL writer, autovacuum):
 * the work they do follows from the writes of whoever uses the server.
 */
export function postgresBackgroundPids(): number[] {
  return pidsByComm('postgres').filter((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      return /postgres: .*?(checkpointer|background writer|walwriter|autovacuum)/.test(cmd);
    } catch {
      return false;
    }
  });
}
