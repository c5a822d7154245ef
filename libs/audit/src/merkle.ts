import { createHash } from 'node:crypto';

/**
 * Merkle tree hash of RFC 6962 (Certificate Transparency) section 2.1: a leaf is
 * SHA-256(0x00 || data), an inner node SHA-256(0x01 || left || right), and a list of n leaves is
 * split at the largest power of two below n. The prefixes keep a leaf from ever passing for a node
 * (second-preimage attacks), and the split makes the root of any list unique.
 */
export function leafHash(data: Buffer | string): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0x00]))
    .update(data)
    .digest();
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0x01]))
    .update(left)
    .update(right)
    .digest();
}

/** MTH(D[n]) over already-hashed leaves; the empty list hashes to SHA-256 of nothing. */
export function merkleRootOfLeafHashes(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  // Bottom-up, pairing left to right and carrying an odd last node up unchanged: the same tree
  // as the recursive split at the largest power of two (RFC 6962 2.1), without the recursion.
  let level = leaves;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i], level[i + 1]));
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

export function merkleRoot(data: (Buffer | string)[]): Buffer {
  return merkleRootOfLeafHashes(data.map(leafHash));
}
