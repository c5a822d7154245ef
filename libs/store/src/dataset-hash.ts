/** The hashes of pair and review rows live in libs/audit, which also checks bundles offline. */
export { pairRecordSha256, reviewSha256 } from '@amend/audit';
