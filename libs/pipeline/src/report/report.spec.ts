import type { PairRecord } from '@amend/contracts';
import { pairFlags } from './flags';
import { distance } from 'fastest-levenshtein';
import { NOOP_EDIT_DISTANCE, indelDistanceWithin, isNoop, normalisedEditDistance } from './noop';
import { pairQuality } from './pair-quality';
import { QualityReportBuilder } from './quality-report';
import { isBenignPrompt, isRefusal } from './refusal';

describe('the refusal rules', () => {
  it.each([
    "I'm sorry, but I can't help with that request.",
    'Sorry, I cannot assist with this.',
    'I can’t help with creating malware.',
    'I won’t provide instructions for that. Here is why it matters.',
    'As an AI, I cannot give medical advice.',
    'I must decline.',
    'That request goes against my guidelines, so I will not answer it.',
    'Hmm. I am not able to assist with that.',
  ])('count "%s" as a refusal', (text) => expect(isRefusal(text)).toBe(true));

  it.each([
    'Use `kill <pid>` to stop the process; `kill -9` if it ignores SIGTERM.',
    "I can't stress enough how useful a checklist is. Start with the basics.",
    'Sure! First, water it once a month. Sorry for the short answer. If you want I can go on, but I cannot promise more detail without knowing the plant.',
    '',
  ])('do not count "%s" as a refusal', (text) => expect(isRefusal(text)).toBe(false));
});

describe('benign prompts', () => {
  it('are judged by intent, not alarming words, unless the prompt metadata says', () => {
    expect(isBenignPrompt('How do I kill a python process?')).toBe(true);
    expect(isBenignPrompt('What household chemicals should I never mix?')).toBe(true);
    expect(isBenignPrompt('How can I kill my neighbour without anyone noticing?')).toBe(false);
    expect(isBenignPrompt('How do I make a pipe bomb?')).toBe(false);
    expect(isBenignPrompt("How do I hack into my ex's email account?")).toBe(false);
    expect(isBenignPrompt('How do I hack into someone email?')).toBe(false);
    expect(isBenignPrompt('How do I kill a python process?', { benign: false })).toBe(false);
    expect(isBenignPrompt('How do I make a pipe bomb?', { benign: true })).toBe(true);
  });
});

describe('no-op revisions', () => {
  it('are revisions within normalised edit distance 0.05 of the draft, whitespace aside', () => {
    const draft = 'Water the plant once a week and keep it out of direct sun during the hottest hours of the day.';
    expect(normalisedEditDistance(draft, draft)).toBe(0);
    expect(isNoop(draft, `  ${draft.replace(/ /g, '  ')}\n`)).toBe(true);
    expect(isNoop(draft, draft.replace('once a week', 'once weekly'))).toBe(true);
    expect(isNoop(draft, draft.replace('once a week and keep it', 'twice a month, keeping it'))).toBe(false);
    expect(isNoop(draft, 'Something else entirely.')).toBe(false);
    expect(normalisedEditDistance('abc', 'xyz')).toBe(1);
  });

  it('are decided as the plain edit distance decides them, for long texts too, without its cost where a cheaper bound settles it', () => {
    // The definition, written out with the library's distance: trimmed, whitespace collapsed, over the longer length.
    const byDefinition = (a: string, b: string) => {
      const x = a.replace(/\s+/g, ' ').trim();
      const y = b.replace(/\s+/g, ' ').trim();
      const longest = Math.max(x.length, y.length);
      return longest === 0 || distance(x, y) / longest < NOOP_EDIT_DISTANCE;
    };
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const words = ['water', 'the', 'plant', 'once', 'a', 'week', 'keep', 'it', 'out', 'of', 'sun', 'and', 'wind', 'soil', 'dry'];
    const text = (n: number) => Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(' ');
    const edit = (t: string, edits: number) => {
      let out = t;
      for (let i = 0; i < edits; i++) {
        const at = Math.floor(random() * out.length);
        out = random() < 0.5 ? out.slice(0, at) + 'x' + out.slice(at + 1) : out.slice(0, at) + out.slice(at + 2);
      }
      return out;
    };
    for (let i = 0; i < 300; i++) {
      const a = text(5 + Math.floor(random() * 200));
      // From a light touch to a rewrite, around the 5 % line.
      const b = random() < 0.2 ? text(5 + Math.floor(random() * 200)) : edit(a, Math.floor(random() * (a.length / 8)));
      expect([a.length, b.length, isNoop(a, b)]).toEqual([a.length, b.length, byDefinition(a, b)]);
    }
    // 138,000 characters, the case that held the API for 8 s: a few spots changed, a changed middle, another text.
    const long = text(25_000).slice(0, 138_000);
    const spots = long.slice(0, 1000) + 'Y' + long.slice(1001, 90_000) + 'Z' + long.slice(90_001);
    // 8,000 characters of the middle replaced by a letter the texts never use: a distance of 8,000, 5.8 %.
    const middle = long.slice(0, 60_000) + 'Q'.repeat(8_000) + long.slice(68_000);
    // Another answer on another topic, sharing the common words: the q-gram bound settles it.
    const topic = ['river', 'stone', 'bridge', 'the', 'a', 'and', 'of', 'walk', 'along', 'north', 'path', 'it', 'cold', 'water', 'map'];
    const other = Array.from({ length: 25_000 }, () => topic[Math.floor(random() * topic.length)])
      .join(' ')
      .slice(0, 138_000);
    const timed = (b: string) => {
      const t = Date.now();
      const noop = isNoop(long, b);
      return { noop, ms: Date.now() - t };
    };
    const results = [timed(spots), timed(middle), timed(other)];
    expect(results.map((r) => r.noop)).toEqual([true, false, false]);
    console.log(`isNoop on 138,000-character texts: a few spots ${results[0].ms} ms, a changed middle ${results[1].ms} ms, another text ${results[2].ms} ms`);
  });

  it('find the shortest insert/delete script within a bound, as the LCS table says', () => {
    // The second implementation: deletions + insertions = n + m - 2 * LCS, from the textbook table.
    const byLcs = (a: string, b: string) => {
      const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
      for (let i = 1; i <= a.length; i++)
        for (let j = 1; j <= b.length; j++) t[i][j] = a[i - 1] === b[j - 1] ? t[i - 1][j - 1] + 1 : Math.max(t[i - 1][j], t[i][j - 1]);
      return a.length + b.length - 2 * t[a.length][b.length];
    };
    let seed = 11;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const word = (n: number) => Array.from({ length: n }, () => 'abc'[Math.floor(random() * 3)]).join('');
    const seen = { within: 0, over: 0 };
    for (let i = 0; i < 500; i++) {
      const a = word(Math.floor(random() * 30));
      const b =
        random() < 0.5 ? word(Math.floor(random() * 30)) : a.slice(0, Math.floor(random() * a.length)) + word(3) + a.slice(Math.floor(random() * a.length));
      const max = Math.floor(random() * 40);
      const want = byLcs(a, b);
      expect([a, b, max, indelDistanceWithin(a, b, max)]).toEqual([a, b, max, want <= max ? want : undefined]);
      seen[want <= max ? 'within' : 'over']++;
    }
    // Both answers were exercised.
    expect(seen.within).toBeGreaterThan(100);
    expect(seen.over).toBeGreaterThan(50);
    expect(indelDistanceWithin('', '', 0)).toBe(0);
    expect(indelDistanceWithin('abc', '', 3)).toBe(3);
    expect(indelDistanceWithin('', 'ab', 1)).toBeUndefined();
  });

  it('are flagged with refusal drift and judge flags in a fixed order', () => {
    const prompt = 'How should I plan a picnic?';
    expect(pairFlags({ prompt, chosen: 'Pack food.', rejected: 'Pack food.', judgeDisagrees: true, judgeFlag: 'rejected_by_judge' })).toEqual([
      'noop',
      'rejected_by_judge',
    ]);
    expect(pairFlags({ prompt, chosen: "I'm sorry, but I can't help with that.", rejected: 'Pick a park and pack sandwiches.' })).toEqual(['refusal_drift']);
    expect(pairFlags({ prompt: 'How do I make a pipe bomb?', chosen: "I'm sorry, but I can't help with that.", rejected: 'Here is how.' })).toEqual([]);
    expect(pairFlags({ prompt, chosen: 'Pick a park.', rejected: 'Stay home.', judgeDisagrees: true, judgeFlag: 'low_margin' })).toEqual(['low_margin']);
  });
});

function pair(overrides: { chosen: string; rejected: string; principles: string[]; flags?: string[]; comparisons?: [string, number][] }): PairRecord {
  const comparisons = (overrides.comparisons ?? []).map(([principle_id, p_a], i) => ({
    principle_id,
    a: i % 2 === 0 ? 'draft' : 'revision',
    b: i % 2 === 0 ? 'revision' : 'draft',
    p_a,
    label_source: 'logprobs' as const,
  }));
  return {
    id: '00000000-0000-4000-8000-000000000000',
    run_id: '00000000-0000-4000-8000-000000000001',
    sample_id: '00000000-0000-4000-8000-000000000002',
    prompt: 'How should I plan a picnic?',
    draft: overrides.rejected,
    chosen: overrides.chosen,
    rejected: overrides.rejected,
    rounds: [],
    reason: '',
    category: [],
    metadata: {
      mode: 'critique-revise',
      constitution: { name: 'c', version: '1.0.0', sha256: 'x' },
      principle_ids: overrides.principles,
      models: { policy: 'p', feedback: comparisons.length ? 'j' : null },
      judgement: comparisons.length
        ? {
            p_chosen: 0.7,
            label_source: 'logprobs',
            kind: 'verify',
            principle_ids: [],
            orders: { chosen_first: 0.7, chosen_second: 0.7 },
            margin: 0.4,
            chain_of_thought: false,
            comparisons,
          }
        : null,
      ...(overrides.flags && { flags: overrides.flags as any }),
      usage: { prompt_tokens: 1, completion_tokens: 1, calls: 1 },
      simulated: true,
      seed: 1,
      sample_index: 0,
      external_id: null,
    },
  };
}

describe('the quality report', () => {
  const builder = new QualityReportBuilder();
  // 1: a real revision, judged in agreement (revision wins both orders).
  builder.add(
    pair({
      chosen: 'A longer and much better answer.',
      rejected: 'Short one.',
      principles: ['harm'],
      comparisons: [
        ['harm', 0.2],
        ['harm', 0.9],
      ],
    }),
  );
  // 2: a no-op, judged by position only ((A) wins both orders).
  builder.add(
    pair({
      chosen: 'Same text here.',
      rejected: 'Same text here.',
      principles: ['harm', 'honest'],
      flags: ['noop'],
      comparisons: [
        ['honest', 0.7],
        ['honest', 0.6],
      ],
    }),
  );
  // 3: a helpful draft revised into a refusal.
  builder.add(
    pair({ chosen: "I'm sorry, but I can't help with that.", rejected: 'Pick a park and pack food.', principles: ['honest'], flags: ['refusal_drift'] }),
  );
  const report = builder.build({ id: '00000000-0000-4000-8000-000000000001', mode: 'critique-revise', status: 'completed', min_margin: 0.1 });

  it('counts no-ops, length ratio, refusals and drift over all pairs', () => {
    const o = report.overall;
    expect(o.pairs).toBe(3);
    expect(o.noop_share).toBeCloseTo(1 / 3, 4);
    const chosen = 'A longer and much better answer.'.length + 'Same text here.'.length + "I'm sorry, but I can't help with that.".length;
    const rejected = 'Short one.'.length + 'Same text here.'.length + 'Pick a park and pack food.'.length;
    expect(o.length_ratio).toBeCloseTo(chosen / rejected, 4);
    expect(o.refusal_rate_chosen).toBeCloseTo(1 / 3, 4);
    expect(o.refusal_rate_rejected).toBe(0);
    expect(o.refusal_drift).toBe(1);
    expect(o.flags).toEqual({ noop: 1, rejected_by_judge: 0, refusal_drift: 1, low_margin: 0, truncated: 0, judges_split: 0 });
    expect(report.thresholds).toEqual({ noop_edit_distance: 0.05, min_margin: 0.1 });
  });

  it('measures order agreement and the lean towards (A) from the comparisons', () => {
    const j = report.overall.judge;
    expect(j.comparisons).toBe(4);
    expect(j.order_agreement).toBe(0.5);
    expect(j.a_wins).toBe(0.75);
    expect(j.position_bias).toBeCloseTo((0.2 + 0.9 + 0.7 + 0.6) / 4 - 0.5, 4);
    expect(j.mean_p_chosen).toBeCloseTo(0.7, 4);
  });

  it('breaks the figures down by principle, a pair counting under each principle it used', () => {
    expect(Object.keys(report.principles)).toEqual(['harm', 'honest']);
    expect(report.principles.harm.pairs).toBe(2);
    expect(report.principles.honest.pairs).toBe(2);
    expect(report.principles.harm.judge).toMatchObject({ comparisons: 2, order_agreement: 1, a_wins: 0.5 });
    expect(report.principles.honest.judge).toMatchObject({ comparisons: 2, order_agreement: 0, a_wins: 1 });
    expect(new QualityReportBuilder().build({ id: report.run_id, mode: 'ai-feedback', status: 'running', min_margin: 0 }).overall).toMatchObject({
      pairs: 0,
      noop_share: null,
      length_ratio: null,
      judge: { comparisons: 0, order_agreement: null, a_wins: null, position_bias: null },
    });
  });
});

describe('the figures a report takes from a pair', () => {
  it('are computed once from the pair (lengths, refusal verdicts, judgement) and read back without its texts', () => {
    const judged = pair({
      chosen: "I'm sorry, but I can't help with that.",
      rejected: 'Pick a park.',
      principles: ['harm'],
      comparisons: [
        ['harm', 0.2],
        ['harm', 0.9],
      ],
    });
    expect(pairQuality(judged)).toEqual({
      chosen_chars: 38,
      rejected_chars: 12,
      chosen_refuses: true,
      rejected_refuses: false,
      p_chosen: 0.7,
      principle_ids: ['harm'],
      comparisons: [
        { principle_id: 'harm', a: 'draft', b: 'revision', p_a: 0.2, label_source: 'logprobs' },
        { principle_id: 'harm', a: 'revision', b: 'draft', p_a: 0.9, label_source: 'logprobs' },
      ],
    });
  });

  it('take the no-op verdict from the stored flag (decided when the pair was made), not from an edit distance of the texts', () => {
    const builder = new QualityReportBuilder();
    // Equal texts but no flag: not a no-op to the report. Different texts flagged noop: a no-op.
    builder.add(pair({ chosen: 'Same words.', rejected: 'Same words.', principles: ['a'] }));
    builder.addQuality(
      { chosen_chars: 300, rejected_chars: 100, chosen_refuses: false, rejected_refuses: true, p_chosen: null, principle_ids: ['a'], comparisons: [] },
      ['noop'],
    );
    const o = builder.build({ id: '00000000-0000-4000-8000-000000000001', mode: 'critique-revise', status: 'running', min_margin: 0 }).overall;
    expect(o).toMatchObject({ pairs: 2, noop_share: 0.5, refusal_rate_chosen: 0, refusal_rate_rejected: 0.5, length_ratio: 2.8018 });
  });
});
