import { createHash } from 'node:crypto';
import { asStoredJson, canonicalJson } from './canonical';
import { GENESIS, chainOf, eventHash, linkEvents } from './chain';

const event = {
  event_id: '2b1c5a8e-52f5-4f0e-9e4b-6f1d2f8f0a11',
  chain: 'sample:7d3c4d1e-0a54-4a38-b37b-4a4f9c0f6f35',
  seq: 0,
  run_id: 'c0a80101-0000-4000-8000-000000000001',
  sample_id: '7d3c4d1e-0a54-4a38-b37b-4a4f9c0f6f35',
  type: 'draft.generated',
  actor: 'worker:host:1',
  at: '2025-03-01T12:00:00.123Z',
  payload: { z: 1, a: [1.5, 'é', { y: null, b: true }], usage: { prompt_tokens: 12 } },
};

describe('chain hashing', () => {
  it('is sha256 of the previous hash in hex followed by the RFC 8785 text, reproducible with any sha256 tool', () => {
    const canonical = canonicalJson(event);
    // RFC 8785: keys sorted, no whitespace, numbers in ECMAScript form.
    expect(canonical.startsWith('{"actor":"worker:host:1","at":"2025-03-01T12:00:00.123Z","chain":')).toBe(true);
    expect(canonical).toContain('"payload":{"a":[1.5,"é",{"b":true,"y":null}],"usage":{"prompt_tokens":12},"z":1}');
    const expected = createHash('sha256')
      .update(GENESIS + canonical)
      .digest('hex');
    expect(eventHash(GENESIS, event)).toBe(expected);
  });

  it('does not depend on key order, and changes with any field', () => {
    const reordered = { ...event, payload: { usage: { prompt_tokens: 12 }, a: event.payload.a, z: 1 } };
    expect(eventHash(GENESIS, reordered)).toBe(eventHash(GENESIS, event));
    for (const change of [
      { actor: 'x' },
      { at: '2025-03-01T12:00:00.124Z' },
      { seq: 1 },
      { type: 'critique.generated' },
      { payload: { ...event.payload, z: 2 } },
    ]) {
      expect(eventHash(GENESIS, { ...event, ...change })).not.toBe(eventHash(GENESIS, event));
    }
    expect(eventHash('f'.repeat(64), event)).not.toBe(eventHash(GENESIS, event));
  });

  it('links events after a head with consecutive seq and each prev_hash the hash before', () => {
    const { seq: _seq, ...rest } = event;
    const linked = linkEvents({ seq: 4, hash: 'a'.repeat(64) }, [rest, { ...rest, event_id: 'x' }]);
    expect(linked.map((e) => e.seq)).toEqual([5, 6]);
    expect(linked[0].prev_hash).toBe('a'.repeat(64));
    expect(linked[1].prev_hash).toBe(linked[0].hash);
    expect(linked[1].hash).toBe(eventHash(linked[0].hash, linked[1]));
  });

  it('names chains per sample, per run, and one global chain', () => {
    expect(chainOf({ run_id: 'r', sample_id: 's' })).toBe('sample:s');
    expect(chainOf({ run_id: 'r', sample_id: null })).toBe('run:r');
    expect(chainOf({ run_id: null, sample_id: null })).toBe('global');
  });

  it('hashes payloads as they read back from a JSON column', () => {
    expect(asStoredJson({ a: undefined, b: [undefined], c: -0, d: new Date(0) })).toEqual({ b: [null], c: 0, d: '1970-01-01T00:00:00.000Z' });
  });
});
