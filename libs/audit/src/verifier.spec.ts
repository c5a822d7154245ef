import { randomUUID } from 'node:crypto';
import { eventHash, type ChainedEvent } from './chain';
import { SEAL_EVENT, sealRoot } from './seal';
import { syntheticRun } from './testing';
import { AuditVerifier, type VerifyReport } from './verifier';
import { bundleEnd, bundleHeader, verifyBundle } from './bundle';

function verify(runId: string, events: ChainedEvent[], expectSealed = true): VerifyReport {
  const v = new AuditVerifier({ runId, expectSealed });
  for (const e of events) v.add(e);
  return v.finish();
}

const clone = (events: ChainedEvent[]) => events.map((e) => structuredClone(e));

/** A run of 4 samples with 5 events each, sealed; events grouped by chain as an export has them. */
function fixture() {
  const { runId, events } = syntheticRun({ samples: 4, eventsPerSample: 5 });
  const sampleChain = events[2].chain; // the first sample's chain (run chain is events[0..1])
  const inChain = events.filter((e) => e.chain === sampleChain);
  return { runId, events, inChain, sampleChain };
}

describe('verifying a run', () => {
  it('passes an untouched run and recomputes the root its seal recorded', () => {
    const { runId, events } = fixture();
    const report = verify(runId, events);
    expect(report).toMatchObject({ ok: true, events: 1 + 4 * 5 + 1, chains: 5, sealed: true, seals: 1, first_failure: null });
    expect(report.computed_root).toBe(report.root);
  });

  it('names an event whose payload was edited: content changed', () => {
    const { runId, events, inChain } = fixture();
    const tampered = clone(events);
    const target = tampered.find((e) => e.event_id === inChain[2].event_id)!;
    (target.payload as any).text = 'edited';
    const report = verify(runId, tampered);
    expect(report.ok).toBe(false);
    expect(report.first_failure).toMatchObject({ reason: 'content_changed', event_id: inChain[2].event_id, seq: 2 });
    expect(report.failures_total).toBe(1);
  });

  it('names the gap where an event was deleted: missing, at its seq', () => {
    const { runId, events, inChain } = fixture();
    const report = verify(
      runId,
      events.filter((e) => e.event_id !== inChain[1].event_id),
    );
    expect(report.first_failure).toMatchObject({ reason: 'missing', seq: 1, event_id: inChain[2].event_id });
    expect(report.failures_total).toBe(1);
  });

  it('finds the last event of a chain deleted through the seal: missing', () => {
    const { runId, events, inChain, sampleChain } = fixture();
    const report = verify(
      runId,
      events.filter((e) => e.event_id !== inChain[4].event_id),
    );
    expect(report.first_failure).toMatchObject({ reason: 'missing', chain: sampleChain, seq: 4 });
    expect(report.failures_total).toBe(1);
  });

  it('names two swapped events: reordered', () => {
    const { runId, events, inChain } = fixture();
    const tampered = clone(events);
    const i = tampered.findIndex((e) => e.event_id === inChain[1].event_id);
    const j = tampered.findIndex((e) => e.event_id === inChain[3].event_id);
    [tampered[i], tampered[j]] = [tampered[j], tampered[i]];
    const report = verify(runId, tampered);
    expect(report.first_failure).toMatchObject({ reason: 'reordered', event_id: inChain[3].event_id });
    expect(report.failures_total).toBe(1);
  });

  it.each([
    [
      'with a hash of its own content and an unused seq',
      (prev: ChainedEvent, forged: ChainedEvent) => ({ ...forged, seq: 99, hash: eventHash(prev.hash!, { ...forged, seq: 99 }) }),
    ],
    ['claiming the seq of the event it displaces', (prev: ChainedEvent, forged: ChainedEvent) => ({ ...forged, hash: eventHash(prev.hash!, forged) })],
    ['with a made-up hash', (_prev: ChainedEvent, forged: ChainedEvent) => ({ ...forged, hash: 'b'.repeat(64) })],
  ])('names an inserted event %s: inserted', (_name, forge) => {
    const { runId, events, inChain } = fixture();
    const prev = inChain[1];
    const base: ChainedEvent = { ...structuredClone(inChain[2]), event_id: randomUUID(), payload: { text: 'forged' }, prev_hash: prev.hash, id: 'forged' };
    const forged = forge(prev, base);
    const tampered = clone(events);
    tampered.splice(
      tampered.findIndex((e) => e.event_id === inChain[2].event_id),
      0,
      forged,
    );
    const report = verify(runId, tampered);
    expect(report.first_failure).toMatchObject({ reason: 'inserted', event_id: forged.event_id });
    expect(report.failures_total).toBe(1);
  });

  it('names an event appended to a chain after the seal: inserted', () => {
    const { runId, events, inChain } = fixture();
    const last = inChain[4];
    const extra = { ...structuredClone(last), event_id: randomUUID(), seq: 5, prev_hash: last.hash, id: 'late' };
    extra.hash = eventHash(last.hash!, extra);
    const tampered = clone(events);
    tampered.splice(tampered.findIndex((e) => e.event_id === last.event_id) + 1, 0, extra);
    expect(verify(runId, tampered).first_failure).toMatchObject({ reason: 'inserted', event_id: extra.event_id });
  });

  it("tells an event added past a chain's end from one whose seq was edited and rehashed", () => {
    const { runId, events, inChain } = fixture();
    const last = inChain[4];
    const far = { ...structuredClone(last), event_id: randomUUID(), seq: 40, prev_hash: last.hash, id: 'far' };
    far.hash = eventHash(last.hash!, far);
    const appended = clone(events);
    appended.splice(appended.findIndex((e) => e.event_id === last.event_id) + 1, 0, far);
    expect(verify(runId, appended).first_failure).toMatchObject({ reason: 'inserted', event_id: far.event_id });

    const renumbered = clone(events);
    const middle = renumbered.find((e) => e.event_id === inChain[2].event_id)!;
    middle.seq = 7;
    middle.hash = eventHash(middle.prev_hash!, middle);
    expect(verify(runId, renumbered).first_failure).toMatchObject({ reason: 'content_changed', event_id: inChain[2].event_id });
  });

  it('names an edited seal, whether or not its hash was recomputed', () => {
    const { runId, events } = fixture();
    const seal = events.find((e) => e.type === SEAL_EVENT)!;
    const edited = clone(events);
    const s1 = edited.find((e) => e.type === SEAL_EVENT)!;
    (s1.payload as any).root = 'c'.repeat(64);
    expect(verify(runId, edited).first_failure).toMatchObject({ reason: 'content_changed', event_id: seal.event_id });

    const rehashed = clone(edited);
    const s2 = rehashed.find((e) => e.type === SEAL_EVENT)!;
    s2.hash = eventHash(s2.prev_hash!, s2);
    expect(verify(runId, rehashed).first_failure).toMatchObject({ reason: 'content_changed', event_id: seal.event_id });
  });

  it('blames the chain when a seal was rewritten consistently to another head', () => {
    const { runId, events, inChain } = fixture();
    const tampered = clone(events);
    const seal = tampered.find((e) => e.type === SEAL_EVENT)!;
    const payload = seal.payload as any;
    payload.leaves.find((l: any) => l.chain === inChain[0].chain).head = 'd'.repeat(64);
    payload.root = sealRoot(payload.leaves);
    seal.hash = eventHash(seal.prev_hash!, seal);
    expect(verify(runId, tampered).first_failure).toMatchObject({ reason: 'content_changed', event_id: inChain[4].event_id });
  });

  it('reports a finished run without its seal: missing', () => {
    const { runId, events } = fixture();
    const report = verify(
      runId,
      events.filter((e) => e.type !== SEAL_EVENT),
    );
    expect(report.first_failure).toMatchObject({ reason: 'missing', type: SEAL_EVENT, chain: `run:${runId}` });
    expect(
      verify(
        runId,
        events.filter((e) => e.type !== SEAL_EVENT),
        false,
      ).ok,
    ).toBe(true);
  });

  it('catches every one of 1,000 random single-row mutations', () => {
    const { runId, events } = syntheticRun({ samples: 6, eventsPerSample: 5 });
    const fields = ['event_id', 'chain', 'seq', 'run_id', 'sample_id', 'type', 'actor', 'at', 'payload', 'prev_hash', 'hash'] as const;
    let seed = 42;
    // mulberry32: small, seeded, good enough low bits.
    const rnd = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const kinds: Record<string, number> = {};
    for (let trial = 0; trial < 1000; trial++) {
      const tampered = clone(events);
      const i = rnd(tampered.length);
      const kind = ['edit', 'delete', 'swap', 'insert'][rnd(4)];
      if (kind === 'edit') {
        const f = fields[rnd(fields.length)];
        const e = tampered[i] as any;
        e[f] =
          f === 'seq'
            ? e.seq + 1 + rnd(3)
            : f === 'payload'
              ? { ...e.payload, edited: trial }
              : f === 'at'
                ? new Date(Date.parse(e.at) + 1).toISOString()
                : `${e[f]}x`;
      } else if (kind === 'delete') {
        tampered.splice(i, 1);
      } else if (kind === 'swap') {
        const same = tampered.map((e, k) => k).filter((k) => k !== i && tampered[k].chain === tampered[i].chain);
        const j = same[rnd(same.length)];
        [tampered[i], tampered[j]] = [tampered[j], tampered[i]];
      } else {
        const copy = { ...structuredClone(tampered[i]), event_id: randomUUID() };
        tampered.splice(rnd(tampered.length + 1), 0, copy);
      }
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      const report = verify(runId, tampered);
      if (report.ok) throw new Error(`mutation ${trial} (${kind} at ${i}) was not caught`);
    }
    expect(Object.keys(kinds).sort()).toEqual(['delete', 'edit', 'insert', 'swap']);
  });
});

describe('an exported bundle of version 1 (events only; version 2 in test/audit-bundle.spec.ts)', () => {
  const lines = (runId: string, events: ChainedEvent[], status = 'completed') => [
    JSON.stringify({ ...bundleHeader({ id: runId, status }), version: 1 }),
    ...events.map((e) => JSON.stringify(e)),
    JSON.stringify(bundleEnd(events.length)),
  ];

  it('verifies offline from its lines alone', async () => {
    const { runId, events } = fixture();
    const report = await verifyBundle(lines(runId, events));
    expect(report).toMatchObject({ ok: true, run_id: runId, sealed: true });
  });

  it('names the edited line, and a truncated file is not intact', async () => {
    const { runId, events, inChain } = fixture();
    const text = lines(runId, events);
    const k = text.findIndex((l) => l.includes(inChain[3].event_id));
    text[k] = text[k].replace('"worker:test"', '"worker:evil"');
    expect((await verifyBundle(text)).first_failure).toMatchObject({ reason: 'content_changed', event_id: inChain[3].event_id });
    const truncated = await verifyBundle(lines(runId, events).slice(0, -1));
    expect(truncated.ok).toBe(false);
    expect(truncated.failures.map((f) => f.message).join()).toContain('truncated');
  });

  it('refuses a file that is not a bundle', async () => {
    await expect(verifyBundle(['{"hello":1}'])).rejects.toThrow(/not an Amend audit bundle/);
  });
});
