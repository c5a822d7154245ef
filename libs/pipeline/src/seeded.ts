import { createHash } from 'node:crypto';

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * A uniform number in [0, 1) determined by `key`: the first 48 bits of sha256(key) over 2^48
 * (exact in a double). Hashing the key instead of advancing a generator means any draw can be
 * recomputed on its own, e.g. for the round a resumed job is at, or by an auditor.
 */
export function uniformFromKey(key: string): number {
  return digest(key).readUIntBE(0, 6) / 2 ** 48;
}

/** A non-negative 31-bit integer determined by `key`; fits every backend's `seed` parameter. */
export function int31FromKey(key: string): number {
  return digest(key).readUInt32BE(0) & 0x7fffffff;
}
