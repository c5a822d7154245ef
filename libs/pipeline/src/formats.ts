import type { z } from 'zod';
import type {
  ChatMessage,
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
 * One export line of a pair; the one place where export lines are built.
 *
 * - `conversational` (TRL): `prompt` is the conversation (one user message, or the multi-turn
 *   prompt), `chosen`/`rejected` one assistant message each.
 * - `standard` (TRL): plain strings that join as TRL joins them (prompt + chosen, nothing in
 *   between): the prompt as an Anthropic HH transcript ending "\n\nAssistant:", the answers
 *   with a leading space (hhTranscript).
 * - `h4`: the fields of HuggingFaceH4/cai-conversation-harmless with its types (string
 *   `prompt`, full conversations in `messages`/`chosen`/`rejected`); critic and revision fields
 *   from the LAST round, so `revision_response` is what `chosen` ends with. ai-feedback pairs
 *   have no rounds: empty critic fields and the chosen candidate as the revision.
 *
 * Every line also carries id, run_id, sample_id, sample_index, reason, category and metadata,
 * and judged pairs `score_chosen`, `score_rejected` and `margin` at the top level.
 */
export function formatPair(pair: PairRecord, format: 'conversational'): ConversationalPairLine;
export function formatPair(pair: PairRecord, format: 'standard'): StandardPairLine;
export function formatPair(pair: PairRecord, format: 'h4'): H4PairLine;
export function formatPair(pair: PairRecord, format: PairFormat): PairLine;
export function formatPair(pair: PairRecord, format: PairFormat): PairLine {
  const conversation = promptMessages(pair);
  switch (format) {
    case 'conversational':
      return {
        prompt: conversation,
        chosen: [{ role: 'assistant', content: pair.chosen }],
        rejected: [{ role: 'assistant', content: pair.rejected }],
        ...common(pair),
      };
    case 'standard':
      return { prompt: hhTranscript(conversation), chosen: ` ${pair.chosen}`, rejected: ` ${pair.rejected}`, ...common(pair) };
    case 'h4': {
      const last = pair.rounds[pair.rounds.length - 1] ?? { critique_request: '', critique: '', revision_request: '', revision: pair.chosen };
      const answered = (content: string) => [...conversation.map((m) => ({ ...m })), { role: 'assistant' as const, content }];
      return {
        init_prompt: pair.prompt,
        init_response: pair.draft,
        critic_prompt: last.critique_request,
        critic_response: last.critique,
        revision_prompt: last.revision_request,
        revision_response: last.revision,
        prompt: pair.prompt,
        messages: answered(pair.chosen),
        chosen: answered(pair.chosen),
        rejected: answered(pair.rejected),
        ...common(pair),
      };
    }
    default: {
      const unknown: never = format;
      throw new RangeError(`unknown pair format "${String(unknown)}"`);
    }
  }
}

/** The SFT record: the prompt (conversation) and the final revision, for supervised fine-tuning on revisions. */
export function toSft(pair: PairRecord): SftLine {
  return {
    messages: [...promptMessages(pair), { role: 'assistant', content: pair.chosen }],
    id: pair.id,
    run_id: pair.run_id,
    sample_id: pair.sample_id,
    sample_index: pair.metadata.sample_index,
    metadata: pair.metadata,
  };
}

/** The conversation the pair answers: the multi-turn prompt, or the one user message. */
export function promptMessages(pair: Pick<PairRecord, 'prompt' | 'prompt_messages'>): ChatMessage[] {
  return pair.prompt_messages?.length ? pair.prompt_messages.map((m) => ({ role: m.role, content: m.content })) : [{ role: 'user', content: pair.prompt }];
}

/**
 * A conversation as an Anthropic HH transcript: "\n\nHuman: ...\n\nAssistant: ..." turns (a
 * system message as a leading paragraph), ending with "\n\nAssistant:" so that " " + answer
 * continues it.
 */
export function hhTranscript(messages: readonly ChatMessage[]): string {
  const turns = messages.map((m) => (m.role === 'system' ? m.content : `\n\n${m.role === 'user' ? 'Human' : 'Assistant'}: ${m.content}`));
  return `${turns.join('')}\n\nAssistant:`;
}

function common(pair: PairRecord) {
  const scored = pair.metadata.judgement != null && pair.metadata.score_chosen !== undefined && pair.metadata.score_rejected !== undefined;
  return {
    id: pair.id,
    run_id: pair.run_id,
    sample_id: pair.sample_id,
    sample_index: pair.metadata.sample_index,
    ...(scored && {
      score_chosen: pair.metadata.score_chosen,
      score_rejected: pair.metadata.score_rejected,
      margin: pair.metadata.score_chosen! - pair.metadata.score_rejected!,
    }),
    reason: pair.reason,
    category: pair.category,
    metadata: pair.metadata,
  };
}
