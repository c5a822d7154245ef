import type { Turn } from './conversation';

export type SimulatedStage = 'draft' | 'critique' | 'revision';

/*
 * The simulator has to tell the pipeline's three requests apart from the text alone, as a
 * real model would. The brief's rule is "a revision request matches
 * /rewrite|revise|revision|amend|edit (the|your) response/", but the H4 constitution has a
 * critique that says "discuss how it can be revised" and revisions that say "write a new
 * response", so the leading verb decides first and the loose patterns only break ties.
 */
const REVISION_LEAD =
  /^\s*(please[,\s]+)?(rewrite|re-write|revise|amend|edit|write (a|an) (new|revised|better|improved|revision|version)|give (a|an) (new|revised|better)|provide (a|an) (new|revised|better))\b/i;
const REVISION_ANY = /rewrite|revise|revision|amend|edit (the|your) response|write a new (response|version)/i;
const CRITIQUE_VERB =
  /\b(identify|discuss|critique|critici[sz]e|comment|argue|argument|explain|point out|take a look|note|read|think|consider|assess|evaluate|review|analy[sz]e|examine|did|whether)\b/i;
/**
 * A critique request talks about the previous answer ("the response", "your last answer",
 * "the assistant's preceding reply") or about "the human"; a user's own prompt after few-shot
 * examples rarely does.
 */
const REFERS_TO_ANSWER =
  /\b(the|your|its|last|previous|preceding|assistant'?s?)\s+((last|previous|preceding|above|prior)\s+)?(response|answer|reply)\b|\bthe human\b/i;

/** What turn `index` (a user message) asks for, given the turns before it. */
export function classifyUserTurn(turns: readonly Turn[], index: number): SimulatedStage {
  const answeredBefore = turns.slice(0, index).some((t) => t.role === 'assistant');
  if (!answeredBefore) return 'draft';
  // Simulator markers ([[amend:noop]]) are instructions to the simulator, not words of the request:
  // "amend" in them would otherwise read as a revision request.
  const text = turns[index].text.replace(/\[\[amend:[a-z0-9-]+\]\]/g, '');
  if (REVISION_LEAD.test(text)) return 'revision';
  if (CRITIQUE_VERB.test(text) && REFERS_TO_ANSWER.test(text)) return 'critique';
  if (REVISION_ANY.test(text)) return 'revision';
  return 'draft';
}

export interface StageReading {
  stage: SimulatedStage;
  /** The user's own prompt the conversation is about. */
  prompt: string;
  /** The last user message (the request being answered). */
  request: string;
  /** Critique: the answer to critique. Revision: the answer to rewrite. */
  target?: string;
  /** Revision: the critique the model gave of `target`, if any. */
  critique?: string;
}

/** Reads which stage the LAST user message asks for, and the texts that stage works on. */
export function readStage(turns: readonly Turn[]): StageReading {
  const last = lastIndex(turns, (t) => t.role === 'user');
  if (last < 0) return { stage: 'draft', prompt: '', request: '' };
  const request = turns[last].text;
  const stage = classifyUserTurn(turns, last);
  if (stage === 'draft') return { stage, prompt: request, request };

  if (stage === 'critique') {
    const targetAt = lastIndex(turns, (t) => t.role === 'assistant', last);
    return { stage, request, target: turns[targetAt].text, prompt: promptBefore(turns, targetAt) };
  }

  // Revision: rewrite the answer that the latest critique was about, not the critique itself.
  const critiqueRequestAt = lastIndex(turns, (t, i) => t.role === 'user' && classifyUserTurn(turns, i) === 'critique', last);
  let targetAt = lastIndex(turns, (t) => t.role === 'assistant', last);
  let critique: string | undefined;
  if (critiqueRequestAt >= 0) {
    const before = lastIndex(turns, (t) => t.role === 'assistant', critiqueRequestAt);
    if (before >= 0) {
      const after = turns.findIndex((t, i) => i > critiqueRequestAt && i < last && t.role === 'assistant');
      if (after >= 0) critique = turns[after].text;
      targetAt = before;
    }
  }
  return { stage, request, target: turns[targetAt].text, critique, prompt: promptBefore(turns, targetAt) };
}

/** The user's own prompt that led to the answer at `answerAt`: the nearest user turn that was a plain request. */
function promptBefore(turns: readonly Turn[], answerAt: number): string {
  const plain = lastIndex(turns, (t, i) => t.role === 'user' && classifyUserTurn(turns, i) === 'draft', answerAt);
  const any = lastIndex(turns, (t) => t.role === 'user', answerAt);
  const at = plain >= 0 ? plain : any;
  return at >= 0 ? turns[at].text : '';
}

/** Index of the last turn before `end` (exclusive) matching `pred`, or -1. */
function lastIndex(turns: readonly Turn[], pred: (t: Turn, i: number) => boolean, end = turns.length): number {
  for (let i = end - 1; i >= 0; i--) if (pred(turns[i], i)) return i;
  return -1;
}
