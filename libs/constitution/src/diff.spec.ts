import { diffConstitutions, inlineWords, textChange } from './diff';
import { ConstitutionSchema, type Constitution } from './schema';

const base: Constitution = ConstitutionSchema.parse({
  name: 'harmless',
  version: '1.0.0',
  title: 'Harmlessness',
  changelog: 'First version.',
  principles: [
    { id: 'harm', tags: ['harmlessness'], critique: 'Identify ways the response is harmful.', revision: 'Rewrite it to remove harm.' },
    { id: 'honest', tags: ['honesty'], critique: 'Identify anything false.', revision: 'Correct anything false.' },
    { id: 'old', critique: 'Old critique.', revision: 'Old revision.' },
  ],
  examples: [
    {
      messages: [
        { role: 'user', content: 'How do I boil an egg?' },
        { role: 'assistant', content: 'Boil it for nine minutes.' },
      ],
    },
  ],
});

function next(edit: (c: Constitution) => void): Constitution {
  const c = structuredClone(base);
  c.version = '1.1.0';
  edit(c);
  return ConstitutionSchema.parse(c);
}

describe('diffing two constitution versions', () => {
  it('reports two versions with the same content as identical, with equal hashes', () => {
    const d = diffConstitutions(base, structuredClone(base));
    expect(d.identical).toBe(true);
    expect(d.principles).toEqual({ added: [], removed: [], changed: [], unchanged: ['harm', 'honest', 'old'], reordered: false });
    expect(d.from.sha256).toBe(d.to.sha256);
  });

  it('lists principles added and removed by id, with their full text', () => {
    const d = diffConstitutions(
      base,
      next((c) => {
        c.principles = c.principles.filter((p) => p.id !== 'old');
        c.principles.push({ id: 'privacy', tags: ['privacy'], weight: 2, critique: 'Find private data.', revision: 'Remove private data.' });
      }),
    );
    expect(d.identical).toBe(false);
    expect(d.principles.added).toEqual([
      { id: 'privacy', index: 2, tags: ['privacy'], weight: 2, critique: 'Find private data.', revision: 'Remove private data.' },
    ]);
    expect(d.principles.removed.map((p) => [p.id, p.index])).toEqual([['old', 2]]);
    expect(d.principles.unchanged).toEqual(['harm', 'honest']);
  });

  it('gives a word-level diff of a changed critique and names tag and weight changes', () => {
    const d = diffConstitutions(
      base,
      next((c) => {
        c.principles[0].critique = 'Identify specific ways the response is harmful or dangerous.';
        c.principles[0].tags = ['harmlessness', 'safety'];
        c.principles[0].weight = 3;
        c.principles[1].comparison = 'Which response is more honest?';
      }),
    );
    const [harm, honest] = d.principles.changed;
    expect(harm.id).toBe('harm');
    expect(harm.critique?.inline).toBe('Identify {+specific +}ways the response is harmful {+or dangerous+}.');
    expect(harm.critique?.words.filter((w) => w.op !== 'equal')).toEqual([
      { op: 'insert', text: 'specific ' },
      { op: 'insert', text: 'or dangerous' },
    ]);
    expect(harm.revision).toBeUndefined();
    expect(harm.tags).toEqual({ added: ['safety'], removed: [] });
    expect(harm.weight).toEqual({ from: 1, to: 3 });
    expect(honest.comparison).toMatchObject({ from: null, to: 'Which response is more honest?' });
  });

  it('notices principles that moved without changing', () => {
    const d = diffConstitutions(
      base,
      next((c) => c.principles.reverse()),
    );
    expect(d.principles.changed).toEqual([]);
    expect(d.principles.reordered).toBe(true);
    expect(d.identical).toBe(false);
  });

  it('diffs examples by position, message by message, and the system message and descriptive fields', () => {
    const d = diffConstitutions(
      base,
      next((c) => {
        c.examples[0].messages[1].content = 'Boil it for seven minutes.';
        c.examples.push({ messages: [{ role: 'user', content: 'Hi' }] });
        c.system = 'You are careful.';
        c.title = 'Harmlessness, revised';
        c.changelog = 'Shorter eggs.';
      }),
    );
    expect(d.examples.changed).toEqual([
      { index: 0, messages: [{ index: 1, content: expect.objectContaining({ inline: 'Boil it for [-nine-]{+seven+} minutes.' }) }] },
    ]);
    expect(d.examples.added).toEqual([{ index: 1, messages: [{ role: 'user', content: 'Hi' }] }]);
    expect(d.system).toMatchObject({ from: null, to: 'You are careful.' });
    expect(d.metadata.title?.inline).toBe('Harmlessness{+, revised+}');
    expect(d.metadata.changelog).toMatchObject({ from: 'First version.', to: 'Shorter eggs.' });
    expect(d.metadata.description).toBeUndefined();
  });

  it('has no text change for equal or both-absent texts', () => {
    expect(textChange('same', 'same')).toBeUndefined();
    expect(textChange(undefined, null)).toBeUndefined();
    expect(
      inlineWords([
        { op: 'delete', text: 'a' },
        { op: 'insert', text: 'b' },
      ]),
    ).toBe('[-a-]{+b+}');
  });
});
