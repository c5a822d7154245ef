import type { AuditEventType } from '@amend/contracts';
import { canonicalJson } from './canonical';
import { leafHash, merkleRootOfLeafHashes } from './merkle';

export const SEAL_EVENT = 'run.sealed' satisfies AuditEventType;
export const SEAL_ALGORITHM = 'rfc6962-sha256';

/** The head of one chain when the run was sealed: how many events it had and the hash of the last. */
export interface ChainHead {
  chain: string;
  count: number;
  head: string;
}

export interface SealPayload {
  algorithm: typeof SEAL_ALGORITHM;
  /** Merkle tree hash (RFC 6962) over the leaves below, hex. */
  root: string;
  chains: number;
  events: number;
  /** One per chain of the run, sorted by chain; each leaf's data is the canonical JSON of the entry. */
  leaves: ChainHead[];
}

/** Chains in byte order of their names, not a database collation: every verifier must agree. */
export function sortHeads(heads: ChainHead[]): ChainHead[] {
  return [...heads].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
}

export function sealRoot(leaves: ChainHead[]): string {
  const hashes = leaves.map((l) => leafHash(canonicalJson({ chain: l.chain, count: l.count, head: l.head })));
  return merkleRootOfLeafHashes(hashes).toString('hex');
}

export function buildSeal(heads: ChainHead[]): SealPayload {
  const leaves = sortHeads(heads).map((h) => ({ chain: h.chain, count: h.count, head: h.head }));
  return {
    algorithm: SEAL_ALGORITHM,
    root: sealRoot(leaves),
    chains: leaves.length,
    events: leaves.reduce((n, l) => n + l.count, 0),
    leaves,
  };
}
