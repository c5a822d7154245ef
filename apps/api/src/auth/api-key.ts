import { createHash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'amd_';
/** 32 random bytes: 256 bits, base64url, 43 characters after the prefix. */
const KEY_BYTES = 32;
const KEY_PATTERN = /^amd_[A-Za-z0-9_-]{20,200}$/;

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** What a key list shows to tell keys apart: the prefix and 6 characters (36 bits, useless to guess with). */
export function displayPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 6);
}

export function looksLikeKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** A new random key, returned once to whoever asked for it; only its hash is kept. */
export function generateKey(): { key: string; hash: string; prefix: string } {
  const key = KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
  return { key, hash: hashKey(key), prefix: displayPrefix(key) };
}

/**
 * Whether a key chosen by an operator (AMEND_ADMIN_KEY) is as strong as a generated one: at least
 * 32 bytes of base64url after the prefix, and not a pattern (a run of one character, a short
 * cycle). 43 random base64url characters have ~30 distinct ones; fewer than 16 is no accident.
 */
export function strongEnough(key: string): boolean {
  if (!looksLikeKey(key)) return false;
  const body = key.slice(KEY_PREFIX.length);
  if (Buffer.from(body, 'base64url').length < KEY_BYTES) return false;
  return new Set(body).size >= 16;
}
