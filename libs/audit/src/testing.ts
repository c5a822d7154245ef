import { randomUUID } from 'node:crypto';
import { asStoredJson } from './canonical';
import { linkEvents, type ChainedEvent } from './chain';
import { SEAL_EVENT, buildSeal } from './seal';

/**
 * A synthetic sealed run, built the way the store builds one: a run chain (run.created ...
 * run.sealed) and one chain per sample, exported grouped by chain in order. For unit tests and the
 * verify benchmark; the integration tests use real runs.
 */
export function syntheticRun(opts: { samples: number; eventsPerSample: number; payloadBytes?: number; seal?: boolean }): {
  runId: string;
  events: ChainedEvent[];
} {
  const runId = randomUUID();
  let id = 1;
  let t = Date.parse('2025-01-01T00:00:00.000Z');
  const at = () => new Date((t += 7)).toISOString();
  const filler = 'x'.repeat(opts.payloadBytes ?? 64);
  const base = (type: string, sampleId: string | null, payload: unknown) => ({
    event_id: randomUUID(),
    chain: sampleId ? `sample:${sampleId}` : `run:${runId}`,
    run_id: runId,
    sample_id: sampleId,
    type,
    actor: 'worker:test',
    at: at(),
    payload: asStoredJson(payload),
  });
  const runChain = linkEvents(null, [base('run.created', null, { samples: opts.samples })]);
  const sampleChains = Array.from({ length: opts.samples }, (_, s) => {
    const sampleId = randomUUID();
    const types = ['draft.generated', 'critique.generated', 'revision.generated'];
    return linkEvents(
      null,
      Array.from({ length: opts.eventsPerSample }, (_, k) =>
        base(k === opts.eventsPerSample - 1 ? 'pair.emitted' : types[k % 3], sampleId, { seq: k, sample: s, text: filler, usage: { prompt_tokens: 10 + k } }),
      ),
    );
  });
  const all = [runChain, ...sampleChains];
  if (opts.seal !== false) {
    const heads = all.map((c) => ({ chain: c[0].chain, count: c.length, head: c[c.length - 1].hash }));
    const sealed = linkEvents({ seq: runChain.length - 1, hash: runChain[runChain.length - 1].hash }, [base(SEAL_EVENT, null, buildSeal(heads))]);
    runChain.push(...sealed);
  }
  const events = all.flat().map((e) => ({ ...e, id: String(id++) }));
  return { runId, events };
}
