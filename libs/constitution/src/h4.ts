import { z } from 'zod';
import { ChatMessageSchema, type ChatMessage } from '@amend/contracts';
import { ConstitutionError, formatPath } from './errors';
import type { Constitution } from './schema';
import { validateConstitution } from './validate';

/**
 * The constitution format Hugging Face H4 published with its open replication of Constitutional
 * AI (`constitution_anthropic.json`, MIT): critique/revision pairs and few-shot conversations.
 */
export const H4ConstitutionSchema = z.strictObject({
  constitutions: z.array(z.strictObject({ critic: z.string(), revision: z.string() })).min(1),
  system_chat: z.array(z.array(ChatMessageSchema).min(1)).default([]),
});
export type H4Constitution = z.infer<typeof H4ConstitutionSchema>;

export interface H4ImportOptions {
  name: string;
  version: string;
  title?: string;
  description?: string;
  changelog?: string;
  /** Tags given to every imported principle, before the ones inferred from its wording. */
  tags?: string[];
}

/**
 * Converts an H4 constitution. Each `{critic, revision}` becomes a principle whose id is
 * `h4-<position>-<slug of the critique>`: a pure function of the input, so importing the same
 * file twice yields the same ids and the same hash. `system_chat` conversations become the
 * few-shot examples, one example per conversation.
 */
export function importH4(json: unknown, opts: H4ImportOptions): Constitution {
  const parsed = H4ConstitutionSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConstitutionError(
      'constitution_syntax',
      null,
      parsed.error.issues.map((i) => ({
        path: formatPath(i.path as PropertyKey[]),
        message: i.message,
        fix: 'an H4 constitution is {"constitutions": [{"critic": "...", "revision": "..."}], "system_chat": [[{"role": "user", "content": "..."}, ...]]}',
      })),
    );
  }
  const h4 = parsed.data;
  const baseTags = opts.tags ?? [];
  const candidate = {
    name: opts.name,
    version: opts.version,
    ...(opts.title !== undefined ? { title: opts.title } : {}),
    ...(opts.description !== undefined ? { description: opts.description } : {}),
    ...(opts.changelog !== undefined ? { changelog: opts.changelog } : {}),
    principles: h4.constitutions.map((p, i) => ({
      id: h4PrincipleId(i, p.critic),
      critique: p.critic,
      revision: p.revision,
      tags: dedupe([...baseTags, ...inferH4Tags(`${p.critic} ${p.revision}`)]),
    })),
    examples: h4.system_chat.map((messages) => ({ messages: messages.map((m) => ({ ...m })) })),
  };
  return validateConstitution(candidate);
}

/**
 * The H4 shape of a constitution. H4 has no place for ids, tags, weights, comparison questions
 * or a system message, so those are dropped; importH4 followed by exportH4 returns the input.
 */
export function exportH4(c: Constitution): { constitutions: { critic: string; revision: string }[]; system_chat: ChatMessage[][] } {
  return {
    constitutions: c.principles.map((p) => ({ critic: p.critique, revision: p.revision })),
    system_chat: c.examples.map((e) => e.messages.map((m) => ({ role: m.role, content: m.content }))),
  };
}

const STOP_WORDS = new Set(
  (
    'a about all an and any anything are argument as at be been by can carefully comment could critique did ' +
    'discuss do does either explain for from give how human humans identify if in include is it its kind ' +
    'last like look may of on or please preceding provided provides read response said seem should so some ' +
    'specific strongest take that the their them these thing think this to was way ways what whats whether ' +
    'which with would you your'
  ).split(' '),
);

/**
 * `h4-1-inappropriate-young-children-revised` for the first H4 principle: its position (unique)
 * and up to four content words of the critique (readable in pair metadata).
 */
export function h4PrincipleId(index: number, critic: string): string {
  const words = critic
    .toLowerCase()
    .replace(/['’]/g, '')
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0 && !STOP_WORDS.has(w))
    .slice(0, 4);
  return ['h4', String(index + 1), ...words].join('-');
}

/**
 * Topic tags read off a principle's wording, so that `category` in exported pairs says what kind
 * of harm a pair was revised for. Keyword rules, deliberately simple and reviewable.
 */
const TAG_RULES: ReadonlyArray<[tag: string, pattern: RegExp]> = [
  ['child-safety', /\bchild(ren)?\b|\bage-appropriate\b/i],
  ['bias', /\bracis(m|t)\b|\bsexis(m|t)\b|\bbias(ed)?\b|\bmisogyn|\bgender\b|\bderogatory\b/i],
  ['toxicity', /\btoxic(ity)?\b|\boffensive\b|\binsensitive\b/i],
  ['illegal-activity', /\bcrim(e|inal)\b|\billegal\b|\btheft\b|\bhacking\b/i],
  ['dangerous-content', /\bdangerous\b|\bviolence\b/i],
  ['ethics', /\bunethical\b|\bethical\b|\bmoral\b|\bcontroversial\b|\bobjectionable\b/i],
  ['empathy', /\bempathetic\b|\btherapist\b|\bsensitive friend\b/i],
  ['manipulation', /\bbait\b|\belicit/i],
];

export function inferH4Tags(text: string): string[] {
  return TAG_RULES.filter(([, re]) => re.test(text)).map(([tag]) => tag);
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}
