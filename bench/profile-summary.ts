/**
 * Summarises .cpuprofile files (from `npm run bench -- --cpu-prof <dir>`): self time by package
 * and by function, and inclusive time of the project's own functions.
 *
 *   npx ts-node --transpile-only bench/profile-summary.ts <file.cpuprofile>... [--top 25] [--under 'checkpoint']
 *
 * --under keeps only the samples with a frame whose "function path:line" contains the text.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

/** Which package or project folder a frame belongs to. */
export function category(f: CallFrame): string {
  if (SPECIAL.has(f.functionName) && !f.url) return f.functionName;
  // Amend compiled by the bench lives under node_modules/.cache/<build>/: still our apps and libs.
  const url = f.url.replace(/^file:\/\//, '').replace(/node_modules\/\.cache\/[^/]+\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const own = /\/(apps|libs|bench)\/([^/]+)\//.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith('node:') || (url && !url.startsWith('/'))) return 'node internals';
  if (!url) return '(native)';
  return url;
}

/**
 * The part of the work a sample's CPU went to, read from its stack: a leaf that hashes, serialises
 * or collects garbage is that; otherwise the innermost frame of a known package or folder says
 * (Postgres client and checkpoints, queue, HTTP client, API...), and what matches nothing is
 * "other" (V8 and Node internals with no caller of ours, microtask turns, the orchestration).
 */
export const PARTS = [
  'HTTP client (openai, undici)',
  'serialisation (JSON, canonical JSON)',
  'hashing (sha256)',
  'checkpoints (Postgres client, kysely, libs/store)',
  'queue (BullMQ, ioredis)',
  'API (Nest, Express, apps/api)',
  'planning (libs/pipeline)',
  'logs and metrics (pino, prom-client)',
  'garbage collector',
  'other',
] as const;
export type Part = (typeof PARTS)[number];

function leafPart(f: CallFrame): Part | undefined {
  if (f.functionName === '(garbage collector)') return 'garbage collector';
  if (/internal\/crypto\/hash/.test(f.url) || (!f.url && ['Hash', 'update', 'digest', 'createHash'].includes(f.functionName))) return 'hashing (sha256)';
  if ((!f.url && ['stringify', 'parse', 'JSONStringify', 'JSONParse'].includes(f.functionName)) || /canonicalize|libs\/audit\/src\/canonical/.test(f.url))
    return 'serialisation (JSON, canonical JSON)';
  return undefined;
}

function framePart(f: CallFrame): Part | undefined {
  const c = category(f);
  if (['pg', 'pg-pool', 'pg-protocol', 'kysely', 'pg-copy-streams', 'libs/store'].includes(c)) return 'checkpoints (Postgres client, kysely, libs/store)';
  if (['bullmq', 'ioredis', '@ioredis/commands', 'msgpackr'].includes(c)) return 'queue (BullMQ, ioredis)';
  if (['openai', 'undici', 'libs/llm'].includes(c) || /deps\/undici/.test(f.url)) return 'HTTP client (openai, undici)';
  if (c.startsWith('@nestjs/') || ['express', 'body-parser', 'router', 'apps/api', 'helmet', 'nestjs-zod'].includes(c)) return 'API (Nest, Express, apps/api)';
  if (c === 'libs/pipeline') return 'planning (libs/pipeline)';
  if (['pino', 'pino-http', 'nestjs-pino', 'prom-client', 'sonic-boom'].includes(c)) return 'logs and metrics (pino, prom-client)';
  return undefined;
}

/** Self time by part (ms), over the samples of one profile. */
export function partsOf(profile: Profile): Map<Part, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const out = new Map<Part, number>(PARTS.map((p) => [p, 0]));
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]);
    if (!node || node.callFrame.functionName === '(idle)' || node.callFrame.functionName === '(program)') continue;
    let part = leafPart(node.callFrame);
    for (let id: number | undefined = node.id; !part && id !== undefined; id = parent.get(id)) part = framePart(byId.get(id)!.callFrame);
    out.set(part ?? 'other', out.get(part ?? 'other')! + dt);
  }
  return out;
}

function frameKey(f: CallFrame): string {
  const url = f.url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^.*\/(apps|libs|bench)\//, '$1/');
  return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
}

/** `under`: count only samples with a frame whose "function url:line" contains this text. */
export function summarise(profile: Profile, top: number, under?: string): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const selfCat = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000; // ms
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    if (under !== undefined) {
      let found = false;
      for (let id: number | undefined = node.id; id !== undefined && !found; id = parent.get(id)) found = frameKey(byId.get(id)!.callFrame).includes(under);
      if (!found) continue;
    }
    total += dt;
    self.set(frameKey(node.callFrame), (self.get(frameKey(node.callFrame)) ?? 0) + dt);
    const cat = category(node.callFrame);
    selfCat.set(cat, (selfCat.get(cat) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (!/\/(apps|libs)\//.test(f.url)) continue;
      const k = frameKey(f);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  }
  const pct = (x: number) => `${((100 * x) / total).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `  ${pct(v)}  ${v.toFixed(0).padStart(7)} ms  ${k}`)
      .join('\n');
  const wall = (profile.endTime - profile.startTime) / 1000;
  return [
    ...(under !== undefined ? [`only samples under frames matching "${under}"`] : []),
    `window ${wall.toFixed(0)} ms, on CPU ${total.toFixed(0)} ms (${((100 * total) / wall).toFixed(0)}% of one core), idle ${idle.toFixed(0)} ms`,
    `self time by package / folder:`,
    list(selfCat, 15),
    `self time by function (top ${top}):`,
    list(self, top),
    `inclusive time of apps/ and libs/ functions (top ${top}):`,
    list(inclusive, top),
    ...(under === undefined ? [`self time by part:`, list(partsOf(profile), PARTS.length)] : []),
  ].join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t >= 0 ? Number(args.splice(t, 2)[1]) : 25;
  const u = args.indexOf('--under');
  const under = u >= 0 ? args.splice(u, 2)[1] : undefined;
  if (args.length === 0) {
    console.error('usage: bench/profile-summary.ts <file.cpuprofile>... [--top 25]');
    process.exit(1);
  }
  for (const file of args) {
    console.log(`== ${basename(file)}`);
    console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, top, under));
    console.log();
  }
}
