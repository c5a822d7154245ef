import type { z } from 'zod';
import type {
  ConversationalPairLineSchema,
  H4PairLineSchema,
  PairFormat,
  PairRecord,
  SftLineSchema,
  StandardPairLineSchema,
} from '@amend/contracts';

export type ConversationalPairLine = z.infer<typeof ConversationalPairLineSchema>;
export type StandardPairLine = z.infer<typeof StandardPairLineSchema>;
export type H4PairLine = z.infer<typeof H4PairLineSchema>;
export type SftLine = z.infer<typeof SftLineSchema>;
export type PairLine = ConversationalPairLine | StandardPairLine | H4PairLine;

/**
 * One export line of a pair. `conversational` and `standard` are TRL's preference formats (what
 * DPOTrainer reads as is); `h4` has the fields of HuggingFaceH4/cai-conversation-harmless, whose
 * critic/revision fields describe the first round, as in that dataset (empty for ai-feedback
 * pairs, which have no rounds).
 */
export function formatPair(pair: PairRecord, format: 'conversational'): ConversationalPairLine;
export function formatPair(pair: PairRecord, format: 'standard'): StandardPairLine;
export function formatPair(pair: PairRecord, format: 'h4'): H4PairLine;
export function formatPair(pair: PairRecord, format: PairFormat): PairLine;
export function formatPair(pair: PairRecord, format: PairFormat): PairLine {
  switch (format) {
    case 'conversational':
      return {
        prompt: [{ role: 'user', content: pair.prompt }],
        chosen: [{ role: 'assistant', content: pair.chosen }],
        rejected: [{ role: 'assistant', content: pair.rejected }],
        ...common(pair),
      };
    case 'standard':
      return { prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected, ...common(pair) };
    case 'h4': {
      // ai-feedback pairs have no rounds: empty critic fields, the chosen candidate as the "revision".
      const first = pair.rounds[0] ?? { critique_request: '', critique: '', revision_request: '', revision: pair.chosen };
      const chosen = [
        { role: 'user' as const, content: pair.prompt },
        { role: 'assistant' as const, content: pair.chosen },
      ];
      return {
        init_prompt: pair.prompt,
        init_response: pair.draft,
        critic_prompt: first.critique_request,
        critic_response: first.critique,
        revision_prompt: first.revision_request,
        revision_response: first.revision,
        prompt: pair.prompt,
        messages: chosen,
        chosen: chosen.map((m) => ({ ...m })),
        rejected: [
          { role: 'user', content: pair.prompt },
          { role: 'assistant', content: pair.rejected },
        ],
        ...common(pair),
      };
    }
    default: {
      const unknown: never = format;
      throw new RangeError(`unknown pair format "${String(unknown)}"`);
    }
  }
}

/** The SFT record: the prompt and the final revision, for supervised fine-tuning on revisions. */
export function toSft(pair: PairRecord): SftLine {
  return {
    messages: [
      { role: 'user', content: pair.prompt },
      { role: 'assistant', content: pair.chosen },
    ],
    id: pair.id,
    run_id: pair.run_id,
    metadata: pair.metadata,
  };
}

function common(pair: PairRecord) {
  return { id: pair.id, run_id: pair.run_id, reason: pair.reason, category: pair.category, metadata: pair.metadata };
}
