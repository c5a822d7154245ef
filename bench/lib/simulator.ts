import { join } from 'node:path';
import type { SimulatorStats } from '@amend/llm';
import { ROOT, TS_NODE_ARGS, cpuMs, fetchWithin, spawnChild, stopChild, until, type Child } from './proc';

/** The HTTP simulator in its own process (what `npm run simulator` runs, without npm in between). */
export interface SimulatorChild {
  child: Child;
  /** Base URL for an OpenAI client, ending in /v1. */
  url: string;
  stats(): Promise<SimulatorStats>;
  cpuMs(): number;
  stop(): Promise<void>;
}

/** `simulator`: libs/llm's deterministic simulator; `echo`: bench/lib/echo-backend.ts, a prebuilt answer at next to no CPU per call. */
export const BACKENDS = ['echo', 'simulator'] as const;
export type Backend = (typeof BACKENDS)[number];

export async function startSimulator(latencyMs: number, timeoutMs = 60_000, backend: Backend = 'simulator'): Promise<SimulatorChild> {
  const script = backend === 'echo' ? 'bench/lib/echo-backend.ts' : 'libs/llm/src/simulator/serve.ts';
  const child = spawnChild(backend, [...TS_NODE_ARGS, join(ROOT, script), '--port', '0', '--latency-ms', String(latencyMs)], {});
  try {
    const url = await until('the simulator to listen', async () => /listening on (http:\/\/\S+\/v1)/.exec(child.output())?.[1], {
      timeoutMs,
      intervalMs: 50,
      children: [child],
    });
    const base = url.replace(/\/v1$/, '');
    return {
      child,
      url,
      stats: async () => (await (await fetchWithin(`${base}/stats`)).json()) as SimulatorStats,
      cpuMs: () => cpuMs(child.pid),
      stop: () => stopChild(child, 3_000),
    };
  } catch (e) {
    await stopChild(child, 1_000);
    throw e;
  }
}
