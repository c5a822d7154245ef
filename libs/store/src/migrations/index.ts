import type { Migration } from 'kysely';
import { initial } from './0001_initial';
import { constitutionRegistry } from './0002_constitution_registry';
import { feedback } from './0003_feedback';
import { auditChain } from './0004_audit_chain';
import { keys } from './0005_keys';
import { budget } from './0006_budget';
import { reviews } from './0007_reviews';
import { sampleChainHead } from './0008_sample_chain_head';
import { contentBlobs } from './0009_content_blobs';
import { stageFinishReason } from './0010_stage_finish_reason';
import { appendOnly } from './0011_append_only';
import { evaluations } from './0012_evaluations';
import { batches } from './0013_batches';
import { promptMessages } from './0014_prompt_messages';
import { runStopped } from './0014_run_stopped';
import { pairQuality } from './0015_pair_quality';
import { erasure } from './0016_erasure';
import { drafts } from './0017_drafts';
import { suggestions } from './0018_suggestions';
import { reviewQueue } from './0019_review_queue';
import { pairSearch } from './0020_pair_search';

/**
 * Every migration, by name; applied in name order. Add a file `NNNN_what.ts` and one line here.
 * Migrations live in code (not read from a folder) so the compiled and ts-node builds see the same set.
 */
export const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_constitution_registry': constitutionRegistry,
  '0003_feedback': feedback,
  '0004_audit_chain': auditChain,
  '0005_keys': keys,
  '0006_budget': budget,
  '0007_reviews': reviews,
  '0008_sample_chain_head': sampleChainHead,
  '0009_content_blobs': contentBlobs,
  '0010_stage_finish_reason': stageFinishReason,
  '0011_append_only': appendOnly,
  '0012_evaluations': evaluations,
  '0013_batches': batches,
  '0014_prompt_messages': promptMessages,
  '0014_run_stopped': runStopped,
  '0015_pair_quality': pairQuality,
  '0016_erasure': erasure,
  '0017_drafts': drafts,
  '0018_suggestions': suggestions,
  '0019_review_queue': reviewQueue,
  '0020_pair_search': pairSearch,
};
