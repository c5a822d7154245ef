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
interface Profile {
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
  const url = f.url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const own = /\/(apps|libs|bench)\/([^/]+)\//.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith('node:') || (url && !url.startsWith('/'))) return 'node internals';
  if (!url) return '(native)';
  return url;
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
