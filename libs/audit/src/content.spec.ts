import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { checkMessageRefs, messageBlob, messageRefs, prefixSegment, segmentBlob } from './content';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const message = fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: fc.string({ unit: 'binary' }) });

describe('content-addressed messages', () => {
  it('names a message and a segment by the sha256 of their RFC 8785 text, as the reference package writes it', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), (ms) => {
        for (const m of ms) expect(messageBlob(m)).toEqual({ sha256: sha256(canonicalize(m)!), json: canonicalize(m) });
        expect(segmentBlob(ms).sha256).toBe(sha256(canonicalize(ms)!));
      }),
    );
  });

  it('names the few-shot prefix once and each message after it, and the check accepts exactly those messages', () => {
    const prefix = prefixSegment([
      { role: 'system', content: 'be kind' },
      { role: 'user', content: 'example question' },
      { role: 'assistant', content: 'example answer' },
    ]);
    const sent = [...prefix.messages.map((m) => ({ ...m })), { role: 'user', content: 'the prompt' }, { role: 'assistant', content: 'draft' }];
    const { refs, blobs } = messageRefs(sent, prefix);
    expect(refs).toEqual([sha256(canonicalize(prefix.messages)!), sha256(canonicalize(sent[3])!), sha256(canonicalize(sent[4])!)]);
    expect(blobs.map((b) => b.sha256)).toEqual(refs);
    expect(checkMessageRefs(refs, sent)).toBeNull();

    expect(checkMessageRefs(refs, [...sent.slice(0, 4), { role: 'assistant', content: 'draft!' }])).toMatch(/does not hash to its name/);
    expect(checkMessageRefs(refs, [{ ...sent[0], content: 'be cruel' }, ...sent.slice(1)])).toMatch(/does not hash to its name/);
    expect(checkMessageRefs(refs, sent.slice(0, 2))).toMatch(/names 3 message blobs but 2/);
    expect(checkMessageRefs(refs, undefined)).toMatch(/missing/);
    expect(checkMessageRefs('x', sent)).toMatch(/not a list/);
  });

  it('names every message on its own when the call does not start with the prefix', () => {
    const prefix = prefixSegment([{ role: 'system', content: 'be kind' }]);
    const sent = [{ role: 'user', content: 'compare (A) and (B)' }];
    const { refs } = messageRefs(sent, prefix);
    expect(refs).toEqual([sha256(canonicalize(sent[0])!)]);
    expect(checkMessageRefs(refs, sent)).toBeNull();
  });
});
