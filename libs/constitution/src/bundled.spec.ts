import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConstitutionDir } from './loader';

const dir = resolve(__dirname, '../../../constitutions');

describe('bundled constitutions', () => {
  const loaded = loadConstitutionDir(dir);

  it('every YAML file under constitutions/ loads', () => {
    const files = readdirSync(dir)
      .filter((d) => statSync(join(dir, d)).isDirectory())
      .flatMap((d) =>
        readdirSync(join(dir, d))
          .filter((f) => f.endsWith('.yaml'))
          .map((f) => join(dir, d, f)),
      );
    expect(loaded.map((l) => l.path).sort()).toEqual(files.sort());
    expect(loaded.map((l) => `${l.constitution.name}@${l.constitution.version}`)).toEqual(expect.arrayContaining(['amend-core@1.0.0', 'anthropic-cai@1.0.0']));
  });

  describe('amend-core@1.0.0', () => {
    const core = loaded.find((l) => l.constitution.name === 'amend-core')!.constitution;

    it('covers helpfulness, honesty, harmlessness, fairness, privacy, robustness and over-refusal', () => {
      const tags = new Set(core.principles.flatMap((p) => p.tags));
      for (const t of ['helpfulness', 'honesty', 'harmlessness', 'fairness', 'privacy', 'robustness', 'over-refusal']) {
        expect(tags).toContain(t);
      }
    });

    it('gives every principle a critique, a revision, a comparison question for a feedback model and tags', () => {
      for (const p of core.principles) {
        expect(p.critique.length).toBeGreaterThan(40);
        expect(p.revision.length).toBeGreaterThan(40);
        expect(p.comparison).toEqual(expect.any(String));
        expect(p.tags.length).toBeGreaterThan(0);
      }
    });

    it('has few-shot examples that use its own critique and revision requests verbatim', () => {
      expect(core.examples).toHaveLength(2);
      for (const ex of core.examples) {
        const [, , critiqueRequest, , revisionRequest] = ex.messages.map((m) => m.content);
        const p = core.principles.find((q) => q.critique === critiqueRequest);
        expect(p).toBeDefined();
        expect(revisionRequest).toBe(p!.revision);
        expect(ex.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
      }
    });

    it('includes an example where the critique finds nothing to change and the revision keeps the answer', () => {
      const unchanged = core.examples.find((e) => e.messages[5].content === e.messages[1].content);
      expect(unchanged?.messages[3].content).toMatch(/^Nothing to change/);
    });
  });
});
