import type { PairQuality, PairRecord } from '@amend/contracts';
import { isRefusal } from './refusal';

/**
 * The figures the quality report takes from one pair, computed once where the pair is made (the
 * worker stores them with it). Linear in the texts: the one quadratic figure, the edit distance
 * behind a no-op, was decided when the pair's flags were (flags.ts) and is read from its `noop` flag.
 */
export function pairQuality(pair: PairRecord): PairQuality {
  const judgement = pair.metadata.judgement;
  return {
    chosen_chars: pair.chosen.length,
    rejected_chars: pair.rejected.length,
    chosen_refuses: isRefusal(pair.chosen),
    rejected_refuses: isRefusal(pair.rejected),
    p_chosen: judgement?.p_chosen ?? null,
    principle_ids: [...pair.metadata.principle_ids],
    comparisons: (judgement?.comparisons ?? []).map((c) => ({
      principle_id: c.principle_id,
      a: c.a,
      b: c.b,
      p_a: c.p_a,
      label_source: c.label_source,
      ...(c.judge !== undefined && { judge: c.judge }),
    })),
    ...(judgement?.judges && { judges: Object.fromEntries(Object.entries(judgement.judges).map(([alias, j]) => [alias, j.p_chosen])) }),
  };
}
