/*
 * The simulator's English. Drafts come from a handful of templates, half of them careless on
 * purpose (rule-bending, overconfident, dismissive) so that critiques have something real to
 * point at and revisions something to remove, as with a red-teaming prompt set. Every text
 * stays between 40 and 120 words.
 */

/** Chooses deterministically; `salt` lets one request make several independent choices. */
export type Pick = <T>(options: readonly T[], salt: string) => T;

interface Issue {
  pattern: RegExp;
  problem: string;
}

/** The careless phrases the drafts use, and what a critic would say about each. */
const ISSUES: readonly Issue[] = [
  {
    pattern: /don't worry too much about the rules|ignore the warnings/i,
    problem: 'it tells the human to disregard rules and safety warnings, which could lead them into dangerous or illegal actions',
  },
  { pattern: /never get caught|nobody will notice/i, problem: 'it implies that not being caught makes the behaviour acceptable, which encourages deception' },
  { pattern: /skip the boring safety steps/i, problem: 'it recommends skipping safety steps, which could get someone hurt' },
  { pattern: /always works|guaranteed/i, problem: 'it claims certainty it cannot have, so the human may act on bad information' },
  { pattern: /none of their business|overthinking it|idiots/i, problem: 'it is dismissive and disrespectful towards other people' },
  { pattern: /apologise later|don't need to ask anyone's permission/i, problem: 'it ignores the consent and interests of others affected' },
];

const DRAFTS: readonly ((topic: string) => string)[] = [
  (t) =>
    `Good question. On "${t}", the short answer is that it depends on your situation, so here is a general outline. ` +
    `Start by getting clear on what you actually want to achieve and what constraints you have. Then look at the simplest ` +
    `option that fits, try it on a small scale, and check the result before going further. If anything involves your ` +
    `health, money or legal position, it is worth confirming the details with a qualified professional.`,
  (t) =>
    `Sure, here's the quick way to handle "${t}". Honestly, just do whatever gets results fastest and don't worry too much ` +
    `about the rules, since most people never get caught. Skip the boring safety steps, they mostly slow you down. If ` +
    `someone pushes back, tell them it's none of their business. That's really all there is to it.`,
  (t) =>
    `Easy one. For "${t}", there's a trick that always works: go straight for the most direct approach and ignore the ` +
    `warnings you'll see online, they're written by people covering themselves. You don't need to ask anyone's permission ` +
    `or tell anyone what you're doing. It's guaranteed to work the first time, so there's no need for a backup plan.`,
  (t) =>
    `Here are a few ideas about "${t}". First, work out what the real goal is, because that changes which option makes ` +
    `sense. Second, talk to the people who would be affected and take their view seriously. Third, try a low-risk ` +
    `version first and see how it goes. Finally, keep notes so you can adjust if it does not work. Tell me more and I ` +
    `can be more specific.`,
  (t) =>
    `I can help with "${t}". A lot of people in your position just improvise, and frankly some of them are idiots about ` +
    `it, but you can do better. The main thing is to act quickly and not dwell on it; you can always apologise later if ` +
    `it goes wrong. Most of the time nobody will notice the details anyway.`,
  (t) =>
    `That sounds like something worth thinking through. When it comes to "${t}", there is rarely a single right answer. ` +
    `It can help to write down the options you see, what could go wrong with each, and who else would be affected. If ` +
    `you are feeling stressed about it, talking to a friend or someone you trust can make it easier to decide. Would ` +
    `you like to go through the options together?`,
];

const CRITERIA = [
  'harmful',
  'unethical',
  'racist',
  'sexist',
  'toxic',
  'dangerous',
  'illegal',
  'insensitive',
  'offensive',
  'inappropriate',
  'biased',
  'criminal',
  'derogatory',
  'misogynistic',
  'controversial',
  'objectionable',
] as const;

const ORDINALS = ['First', 'Second'] as const;

const REVISION_OPENERS = [
  (t: string) => `Here is a safer and more helpful way to approach "${t}".`,
  (t: string) => `Let me give a more careful answer about "${t}".`,
  (t: string) => `A better answer to "${t}" has to respect other people and the rules that protect them.`,
] as const;

const REVISION_ADDITIONS = [
  'Whatever you decide, follow the relevant rules and safety guidance, and be honest with the people involved.',
  'It is worth checking the law and any safety advice that applies, and asking a qualified person if the stakes are high.',
  'Please think about how it would affect others, and choose the option you would be comfortable explaining openly.',
] as const;

const REVISION_CLOSINGS = [
  'If you tell me a bit more about your situation, I can suggest specific next steps.',
  'If it would help, I can walk through the options with you one at a time.',
  'I am happy to help you plan this in a way that keeps everyone safe.',
] as const;

/** Sentences the simulator itself adds to revisions; dropped when a revision is revised again. */
const OWN_FRAMING =
  /^(Here is a safer and more helpful way|Let me give a more careful answer|A better answer to ")|^(Whatever you decide, follow|It is worth checking the law|Please think about how it would affect|If you tell me a bit more|If it would help, I can walk|I am happy to help you plan)/;

/** Sentences that carry nothing worth keeping in a rewrite. */
const FILLER = /^(That's really all there is to it|Good question|Easy one|Tell me more and I can)/;

/** How many of the careless phrases a text contains: what the simulated judge holds against a response. */
export function carelessness(text: string): number {
  return ISSUES.filter((i) => i.pattern.test(text)).length;
}

export function draftText(prompt: string, pick: Pick): string {
  return clampWords(pick(DRAFTS, 'draft')(topicOf(prompt)), 120);
}

export function critiqueText(answer: string, request: string, prompt: string, pick: Pick): string {
  const criteria = criteriaOf(request);
  const found: { issue: Issue; quote: string }[] = [];
  for (const issue of ISSUES) {
    const quote = clauseMatching(answer, issue.pattern);
    if (quote && !found.some((f) => f.quote === quote)) found.push({ issue, quote });
    if (found.length === 2) break;
  }
  if (found.length === 0) {
    const opening = pick(
      [
        `The response is mostly reasonable, and I do not see anything clearly ${criteria} in it.`,
        `I do not find anything ${criteria} in the response; it is cautious and respectful.`,
      ],
      'critique-clean',
    );
    return (
      `${opening} It could still be better. It stays generic about "${topicOf(prompt)}" instead of engaging with the ` +
      `human's actual circumstances, and it does not say where to find reliable help if things go wrong. Asking one ` +
      `clarifying question and naming a concrete next step would make it more useful without making it less safe.`
    );
  }
  const points = found.map((f, i) => `${ORDINALS[i]}, it says "${clampWords(f.quote, 16)}": ${f.issue.problem}.`);
  return clampWords(
    `Judged for ${criteria} content, the response has ${found.length === 1 ? 'a specific problem' : 'specific problems'}. ` +
      `${points.join(' ')} It also never considers the human's circumstances or offers a safer alternative, so it ` +
      `should be rewritten without these parts.`,
    120,
  );
}

export function revisionText(answer: string, prompt: string, pick: Pick): string {
  const topic = topicOf(prompt);
  const kept = sentences(answer).filter(
    // Short pleasantries ("Good question.") and the sentence quoting the prompt read oddly after a new opener.
    (s) => !ISSUES.some((i) => i.pattern.test(s)) && !OWN_FRAMING.test(s) && !FILLER.test(s) && !s.includes(`"${topic}"`) && wordCount(s) >= 4,
  );
  // Never open with the framing the previous version already used: a revision must read differently.
  const openers = REVISION_OPENERS.map((o) => o(topic)).filter((o) => !answer.includes(o.slice(0, 24)));
  const opener = pick(openers.length ? openers : REVISION_OPENERS.map((o) => o(topic)), 'revision-opener');
  const addition = pick(REVISION_ADDITIONS, 'revision-addition');
  const closing = pick(REVISION_CLOSINGS, 'revision-closing');
  const body = kept.length
    ? kept.slice(0, 3)
    : [
        'Start by being clear about what you want to achieve and who else it would affect.',
        "If something is bothering you, raising it directly and calmly usually works better than acting behind anyone's back.",
      ];
  let parts = [opener, ...body, addition, closing];
  while (wordCount(parts.join(' ')) > 120 && parts.length > 3) parts = [...parts.slice(0, -3), ...parts.slice(-2)];
  return parts.join(' ');
}

/** A short quotable version of the prompt: its first sentence, at most 16 words, no trailing punctuation. */
export function topicOf(prompt: string): string {
  const flat = prompt.replace(/\s+/g, ' ').replace(/"/g, "'").trim();
  const first = /^.*?[.?!](?=\s|$)/.exec(flat)?.[0] ?? flat;
  const words = (wordCount(first) >= 3 ? first : flat).split(' ').filter(Boolean);
  const topic = words
    .slice(0, 16)
    .join(' ')
    .replace(/[\s.?!,;:]+$/, '');
  if (!topic) return 'your question';
  return words.length > 16 ? `${topic}...` : topic;
}

function criteriaOf(request: string): string {
  const named = CRITERIA.filter((c) => new RegExp(`\\b${c}`, 'i').test(request)).slice(0, 2);
  if (named.length === 0) return 'harmful';
  if (named.length === 1) return named[0];
  return `${named.slice(0, -1).join(', ')} or ${named[named.length - 1]}`;
}

function sentences(text: string): string[] {
  return text
    .replace(/\s+/g, ' ')
    .split(/(?<=[.!?])\s+(?=[A-Z"])/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The clause (between commas, semicolons or colons) of `text` where `pattern` occurs: a short, exact quote. */
function clauseMatching(text: string, pattern: RegExp): string | undefined {
  const sentence = sentences(text).find((s) => pattern.test(s));
  if (!sentence) return undefined;
  const clause = sentence.split(/[,;:](?=\s)/).find((c) => pattern.test(c)) ?? sentence;
  return clause.trim().replace(/[.!?]+$/, '');
}

export function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function clampWords(text: string, max: number): string {
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length <= max) return text;
  return `${words
    .slice(0, max)
    .join(' ')
    .replace(/[,;:]$/, '')}...`;
}
