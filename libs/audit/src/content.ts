import { createHash } from 'node:crypto';
import { asStoredJson, canonicalJson } from './canonical';

/**
 * Content-addressed conversations (docs/architecture.md#content-addressing): a model call's messages are stored
 * once, as blobs named by the sha256 (hex) of their RFC 8785 canonical JSON, and the stage record
 * and the audit event hold the list of names, `messages_sha256`. The first name may be a
 * *segment*, a JSON array of messages (the constitution's few-shot prefix, the same for every call
 * of every sample on that version, so stored once); every other name is one message object. The
 * event's hash covers the names, and a verifier that re-hashes the stored blobs covers the text.
 */
export interface ContentMessage {
  role: string;
  content: string;
}

/** A blob to store: its name and its JSON text. */
export interface ContentBlob {
  sha256: string;
  json: string;
}

export interface MessageRefs {
  /** The names, in order: a segment first if the prefix matched, then one per message. */
  refs: string[];
  /** The blob of every name (same order). */
  blobs: ContentBlob[];
}

/** The few-shot prefix as one segment, computed once per constitution version. */
export interface PrefixSegment {
  messages: readonly ContentMessage[];
  blob: ContentBlob;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Canonical JSON of one message. A plain {role, content} of strings is written directly (keys in
 * RFC 8785 order, strings as JSON.stringify writes them, which is what RFC 8785 specifies); any
 * other shape goes through the reference implementation.
 */
function canonicalMessage(m: ContentMessage): string {
  const keys = Object.keys(m);
  if (keys.length === 2 && typeof m.role === 'string' && typeof m.content === 'string' && 'role' in m && 'content' in m) {
    return `{"content":${JSON.stringify(m.content)},"role":${JSON.stringify(m.role)}}`;
  }
  return canonicalJson(m);
}

/** The blob of one message. */
export function messageBlob(m: ContentMessage): ContentBlob {
  const json = canonicalMessage(m);
  return { sha256: sha256Hex(json), json };
}

/** The blob of a segment of messages (a JSON array). */
export function segmentBlob(messages: readonly ContentMessage[]): ContentBlob {
  const json = `[${messages.map(canonicalMessage).join(',')}]`;
  return { sha256: sha256Hex(json), json };
}

export function prefixSegment(messages: readonly ContentMessage[]): PrefixSegment {
  return { messages, blob: segmentBlob(messages) };
}

/** True when `messages` starts with the segment's messages (compared as strings, no hashing). */
function startsWith(messages: readonly ContentMessage[], prefix: readonly ContentMessage[]): boolean {
  if (prefix.length === 0 || messages.length <= prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (messages[i].role !== prefix[i].role || messages[i].content !== prefix[i].content) return false;
  }
  return true;
}

/** The names and blobs of a call's messages: the prefix as one segment when they start with it. */
export function messageRefs(messages: readonly ContentMessage[], prefix?: PrefixSegment | null): MessageRefs {
  const blobs: ContentBlob[] = [];
  let from = 0;
  if (prefix && startsWith(messages, prefix.messages)) {
    blobs.push(prefix.blob);
    from = prefix.messages.length;
  }
  for (let i = from; i < messages.length; i++) blobs.push(messageBlob(messages[i]));
  return { refs: blobs.map((b) => b.sha256), blobs };
}

/**
 * Checks that `messages` (as read back, blobs expanded) are exactly what `refs` name: the first
 * name may cover a segment of several messages, every other one message. Answers null when they
 * match, else why not.
 */
export function checkMessageRefs(refs: unknown, messages: unknown): string | null {
  if (!Array.isArray(refs) || !refs.every((r) => typeof r === 'string')) return 'its messages_sha256 is not a list of hashes';
  if (!Array.isArray(messages)) return `the messages its messages_sha256 names are missing`;
  const msgs = messages as ContentMessage[];
  const segment = msgs.length - (refs.length - 1);
  if (refs.length === 0) return msgs.length === 0 ? null : 'it names no messages but some are stored';
  if (segment < 1) return `it names ${refs.length} message blobs but ${msgs.length} messages are stored`;
  try {
    const first = segment === 1 && messageBlob(msgs[0]).sha256 === refs[0] ? refs[0] : segmentBlob(msgs.slice(0, segment)).sha256;
    if (first !== refs[0]) return `the stored content of blob ${refs[0]} does not hash to its name`;
    for (let i = 1; i < refs.length; i++) {
      if (messageBlob(msgs[segment + i - 1]).sha256 !== refs[i]) return `the stored content of blob ${refs[i]} does not hash to its name`;
    }
  } catch (err) {
    return `its messages cannot be canonicalised (${(err as Error).message})`;
  }
  return null;
}

/** sha256 of the RFC 8785 canonical JSON of a value as stored (the `pair_sha256` of `pair.emitted`). */
export function contentSha256(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/**
 * sha256 (hex) of a text as UTF-8, nothing else: the `text_sha256` of a model call's event, which
 * an auditor can recompute with `printf '%s' "$text" | sha256sum`.
 */
export function textSha256(text: string): string {
  return sha256Hex(text);
}

/**
 * The blob of a model call's response body as stored (jsonb, read back): an event names it by
 * `response_sha256`, so the body can be erased and the event still verifies.
 */
export function responseBlob(response: unknown): ContentBlob {
  const json = canonicalJson(asStoredJson(response));
  return { sha256: sha256Hex(json), json };
}
