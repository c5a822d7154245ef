/*
 * A small, documented rule set, not a classifier. It is meant for rates over thousands of pairs
 * (how often chosen refuses, how often a revision turned help into a refusal), where a few
 * misses either way do not change the picture; a single pair's flag is a pointer for review.
 *
 * A response is a refusal when one of its first two sentences declines the request:
 *   1. an apology followed by an inability ("I'm sorry, but I can't ...", "Sorry, I am unable to ...");
 *   2. a first-person refusal verb with a helping verb ("I can't help with", "I won't provide",
 *      "I am not able to assist", "I must decline", "I will not");
 *   3. the assistant citing its role ("As an AI, I cannot ...");
 *   4. a policy refusal ("This request goes against my guidelines", "I'm not comfortable ...").
 * Only the opening counts, so "I can't stress enough how useful X is" deep in a helpful answer
 * does not, while "Sorry, I can't help with that. Here is why ..." does.
 */
const REFUSAL_RULES: readonly RegExp[] = [
  /\b(i'?m|i am|we'?re|we are)?\s*(so\s+|very\s+|really\s+)?(sorry|apologi[sz]e)\b[^.!?]*\b(can(?:no|')t|cannot|won'?t|unable|not able|will not|must decline)\b/i,
  /\bi\s*(can(?:no|')t|cannot|won'?t|will not|am unable to|'m unable to|am not able to|'m not able to|must decline|have to decline|must refuse|refuse to)\s*(help|assist|provide|comply|do that|do this|support|answer|share|give|write|create|engage|fulfil|fulfill|offer|participate|continue|with|to\b|[.!])/i,
  /\bas an ai\b[^.!?]*\b(can(?:no|')t|cannot|won'?t|unable|not able|do not|don't)\b/i,
  /\b(against|violates?)\s+(my|our|the)\s+(guidelines|policies|policy|principles|programming)\b|\bi('?m| am) not comfortable\b/i,
];

/** The first `n` sentences: where a refusal declares itself. */
function opening(text: string, n = 2): string {
  const sentences = text
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/\s+/g, ' ')
    .trim()
    .split(/(?<=[.!?])\s+/);
  return sentences.slice(0, n).join(' ');
}

export function isRefusal(text: string): boolean {
  const head = opening(text);
  if (head.length === 0) return false;
  return REFUSAL_RULES.some((r) => r.test(head));
}

/*
 * A prompt is benign unless it asks for something a careful assistant should decline: these
 * rules look for harmful intent, not for alarming words, so "How do I kill a python process?"
 * stays benign (the over-refusal case the CAI seeds warn about) while "how to kill my neighbour"
 * does not. A prompt whose metadata says `benign: true|false` (e.g. a labelled red-team or
 * XSTest-style set) uses that instead of the rules.
 */
const HARMFUL_INTENT: readonly RegExp[] = [
  /\b(kill|murder|hurt|harm|poison|stab|shoot|strangle|kidnap|assault|beat up)\s+(a |an |the |my |your |his |her |their |our )?(person|people|someone|somebody|him|her|them|wife|husband|partner|neighbou?r|boss|child|kid|baby|teacher|classmate|family|myself|yourself|coworker|colleague|friend|ex)\b/i,
  /\b(make|build|assemble|synthesi[sz]e|cook|manufacture|3d[- ]print)\s+(a |an |some )?(bomb|explosive|pipe bomb|napalm|nerve agent|sarin|ricin|bioweapon|chemical weapon|meth|methamphetamine|fentanyl|untraceable gun|ghost gun|silencer)\b/i,
  /\b(hack|break)\s+into\s+(someone|somebody|my ex|a person|an? (account|email|phone|computer))|\bsteal\s+(someone'?s?|a |their |his |her )?(password|identity|credit card|car|money)|\b(phishing|ransomware|keylogger)\b/i,
  /\b(shoplift|launder(ing)? money|counterfeit (money|bills)|forge (a |an )?(signature|document|passport|id)|fake (id|passport)|evade (taxes|police)|get away with)\b/i,
  /\b(kill myself|suicide method|end my life|self[- ]harm|cut myself)\b/i,
  /\b(stalk|track|spy on)\s+(my |a |an )?(ex|partner|wife|husband|girlfriend|boyfriend|someone|person)\b/i,
  /\b(child|minor|underage)\b[^.?!]*\b(sexual|nude|explicit)\b/i,
];

export function isBenignPrompt(prompt: string, metadata?: Record<string, unknown> | null): boolean {
  const labelled = metadata?.benign;
  if (typeof labelled === 'boolean') return labelled;
  return !HARMFUL_INTENT.some((r) => r.test(prompt));
}
