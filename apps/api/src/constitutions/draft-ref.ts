import { ConstitutionSchema, type Constitution } from '@amend/constitution';
import { draftVersion, type ConstitutionRef } from '@amend/contracts';
import type { StoredDraft, Store } from '@amend/store';
import { ApiError } from '../errors/api-error';

/** A draft of the caller's team that is not there (another team's is the same 404). `field`: where the request named it. */
export function draftNotFound(name: string, draft: string, drafts: readonly { draft: string }[], field?: string): ApiError {
  const names = drafts.map((d) => d.draft);
  return new ApiError(
    'draft_not_found',
    `${field ? `${field}: ` : ''}no draft "${draft}" of "${name}" in this key's team; ` +
      (names.length ? `its drafts: ${names.join(', ')}` : `save one with PUT /v1/constitutions/${name}/drafts/${draft}`),
    { name, draft, available: names, ...(field && { field }) },
  );
}

/**
 * `name#draft` as a run of it records it: the version `#draft` and the sha256 of the draft's
 * content now. That content is pinned under its sha256 (saved with the draft), so the run keeps
 * it when the draft is saved again.
 */
export async function resolveDraft(
  store: Store,
  team: string,
  name: string,
  draft: string,
  field?: string,
): Promise<{ ref: ConstitutionRef; constitution: Constitution; stored: StoredDraft }> {
  const stored = await store.drafts.get(team, name, draft);
  if (!stored) throw draftNotFound(name, draft, await store.drafts.list(team, name), field);
  return {
    ref: { name, version: draftVersion(draft), sha256: stored.sha256 },
    constitution: ConstitutionSchema.parse(stored.content),
    stored,
  };
}
