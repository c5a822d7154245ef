import { diffWords } from 'diff';
import type { ChatMessage, ConstitutionDiff, TextChange } from '@amend/contracts';
import { constitutionSha256 } from './hash';
import type { Constitution, Principle } from './schema';

/**
 * What changed from one constitution version to another, for an author reviewing a new version:
 * principles matched by id (added, removed, changed with a word-level diff of each changed text),
 * few-shot examples by position, the system message and the descriptive fields.
 */
export function diffConstitutions(from: Constitution, to: Constitution): ConstitutionDiff {
  const fromSha = constitutionSha256(from);
  const toSha = constitutionSha256(to);
  const before = new Map(from.principles.map((p, i) => [p.id, { p, i }]));
  const after = new Map(to.principles.map((p, i) => [p.id, { p, i }]));

  const added = to.principles.flatMap((p, i) => (before.has(p.id) ? [] : [principleEntry(p, i)]));
  const removed = from.principles.flatMap((p, i) => (after.has(p.id) ? [] : [principleEntry(p, i)]));
  const changed: ConstitutionDiff['principles']['changed'] = [];
  const unchanged: string[] = [];
  for (const [i, p] of to.principles.entries()) {
    const old = before.get(p.id);
    if (!old) continue;
    const change = principleChange(old.p, p);
    if (change) changed.push({ id: p.id, from_index: old.i, to_index: i, ...change });
    else unchanged.push(p.id);
  }
  const commonFrom = from.principles.filter((p) => after.has(p.id)).map((p) => p.id);
  const commonTo = to.principles.filter((p) => before.has(p.id)).map((p) => p.id);

  const metadata: ConstitutionDiff['metadata'] = {};
  for (const field of ['title', 'description', 'changelog'] as const) {
    const change = textChange(from[field], to[field]);
    if (change) metadata[field] = change;
  }

  return {
    from: { name: from.name, version: from.version, sha256: fromSha },
    to: { name: to.name, version: to.version, sha256: toSha },
    identical: fromSha === toSha,
    principles: { added, removed, changed, unchanged, reordered: commonFrom.join('\n') !== commonTo.join('\n') },
    examples: diffExamples(from.examples, to.examples),
    system: textChange(from.system, to.system) ?? null,
    metadata,
  };
}

/** A word-level diff of two texts; undefined when they are equal (both absent counts as equal). */
export function textChange(from: string | undefined | null, to: string | undefined | null): TextChange | undefined {
  const a = from ?? null;
  const b = to ?? null;
  if (a === b) return undefined;
  const words = diffWords(a ?? '', b ?? '').map((part) => ({
    op: part.added ? ('insert' as const) : part.removed ? ('delete' as const) : ('equal' as const),
    text: part.value,
  }));
  return { from: a, to: b, words, inline: inlineWords(words) };
}

/** `[-removed-]{+added+}` around changed words, as `git diff --word-diff=plain` writes them. */
export function inlineWords(words: TextChange['words']): string {
  return words.map((w) => (w.op === 'insert' ? `{+${w.text}+}` : w.op === 'delete' ? `[-${w.text}-]` : w.text)).join('');
}

function principleEntry(p: Principle, index: number) {
  return {
    id: p.id,
    index,
    critique: p.critique,
    revision: p.revision,
    ...(p.comparison !== undefined ? { comparison: p.comparison } : {}),
    tags: [...p.tags],
    weight: p.weight,
  };
}

function principleChange(a: Principle, b: Principle) {
  const out: Omit<ConstitutionDiff['principles']['changed'][number], 'id' | 'from_index' | 'to_index'> = {};
  for (const field of ['critique', 'revision', 'comparison'] as const) {
    const change = textChange(a[field], b[field]);
    if (change) out[field] = change;
  }
  const tagsAdded = b.tags.filter((t) => !a.tags.includes(t));
  const tagsRemoved = a.tags.filter((t) => !b.tags.includes(t));
  if (tagsAdded.length > 0 || tagsRemoved.length > 0) out.tags = { added: tagsAdded, removed: tagsRemoved };
  if (a.weight !== b.weight) out.weight = { from: a.weight, to: b.weight };
  return Object.keys(out).length > 0 ? out : undefined;
}

function diffExamples(from: Constitution['examples'], to: Constitution['examples']): ConstitutionDiff['examples'] {
  const result: ConstitutionDiff['examples'] = { added: [], removed: [], changed: [] };
  const n = Math.max(from.length, to.length);
  for (let i = 0; i < n; i++) {
    const a = from[i];
    const b = to[i];
    if (!a) result.added.push({ index: i, messages: copy(b.messages) });
    else if (!b) result.removed.push({ index: i, messages: copy(a.messages) });
    else {
      const messages = diffMessages(a.messages, b.messages);
      if (messages.length > 0) result.changed.push({ index: i, messages });
    }
  }
  return result;
}

function diffMessages(a: ChatMessage[], b: ChatMessage[]) {
  const out: ConstitutionDiff['examples']['changed'][number]['messages'] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const role = a[i]?.role !== b[i]?.role ? { from: a[i]?.role ?? null, to: b[i]?.role ?? null } : undefined;
    const content = textChange(a[i]?.content, b[i]?.content);
    if (role || content) out.push({ index: i, ...(role ? { role } : {}), ...(content ? { content } : {}) });
  }
  return out;
}

function copy(messages: ChatMessage[]): ChatMessage[] {
  return messages.map((m) => ({ role: m.role, content: m.content }));
}
