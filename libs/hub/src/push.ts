import { createHash } from 'node:crypto';
import { commit, createBranch, createRepo, HubApiError, pathsInfo, whoAmI, type CommitOperation, type RepoId } from '@huggingface/hub';
import { CodedError, type ErrorCode } from '@amend/contracts';

/** The Hub's address when HF_ENDPOINT is unset. */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface HubFile {
  path: string;
  content: string | Uint8Array;
}

export interface HubPushOptions {
  /** `OWNER/NAME` of a dataset repository. */
  repo: string;
  /** A Hugging Face token (`hf_...`): used for the Hub's requests only, never returned, logged or stored. */
  token: string;
  /** A repository this push creates is private (an existing one keeps its visibility). */
  private?: boolean;
  branch?: string;
  /** HF_ENDPOINT; default https://huggingface.co. */
  endpoint?: string;
  /** The commit's title and description. */
  title: string;
  description?: string;
  /**
   * Paths the builder may write: one the repository holds that this push lacks (a split that
   * came out empty) is deleted in the same commit, so the folder on the Hub is the folder built.
   * Other files of the repository are left alone.
   */
  owned?: readonly string[];
  fetch?: typeof fetch;
}

export interface HubPushResult {
  repo: string;
  branch: string;
  url: string;
  /** The commit made; null when the repository already held exactly these files. */
  commit: string | null;
  changed: boolean;
  created: boolean;
  files: { path: string; size: number; sha256: string }[];
}

/** A Hub failure as a catalogue code, with the Hub's status and message (which never hold the token). */
export class HubPushError extends CodedError {
  constructor(code: ErrorCode, message: string, details?: { hub_status?: number; request_id?: string }) {
    super(code, message, details);
    this.name = 'HubPushError';
  }
}

/**
 * Pushes a folder to a dataset repository in one commit: creates the repository if it is missing
 * (and the branch, from main), compares each file's hash with what the branch holds (the git blob
 * sha1 the Hub answers for a regular file, the sha256 for an LFS one), and commits only when
 * something differs, so pushing the same folder again makes no commit.
 */
export async function pushToHub(files: readonly HubFile[], opts: HubPushOptions): Promise<HubPushResult> {
  if (!opts.token.startsWith('hf_')) throw new HubPushError('hub_not_configured', 'the Hugging Face token does not start with hf_ (a Hub access token does)');
  const hubUrl = (opts.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  const branch = opts.branch ?? 'main';
  const repo: RepoId = { type: 'dataset', name: opts.repo };
  const common = { hubUrl, accessToken: opts.token, ...(opts.fetch && { fetch: opts.fetch }) };
  const local = files.map((f) => {
    const bytes = typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : Buffer.from(f.content);
    return { path: f.path, bytes, sha256: sha256(bytes), gitOid: gitBlobOid(bytes) };
  });
  const url = `${hubUrl}/datasets/${opts.repo}${branch === 'main' ? '' : `/tree/${encodeURIComponent(branch)}`}`;
  const summary = local.map((f) => ({ path: f.path, size: f.bytes.length, sha256: f.sha256 }));

  return hubCall(async () => {
    // A bad token fails here, before anything else is asked: the clearest place to say so.
    await whoAmI(common);
    const created = await ignoring(409, () => createRepo({ ...common, repo, ...(opts.private && { visibility: 'private' as const }) }));
    if (branch !== 'main') await ignoring(409, () => createBranch({ ...common, repo, branch }));

    const paths = [...new Set([...local.map((f) => f.path), ...(opts.owned ?? [])])];
    const remote = new Map((await pathsInfo({ ...common, repo, paths, revision: branch })).map((p) => [p.path, p]));
    const changedFiles = local.filter((f) => {
      const held = remote.get(f.path);
      if (!held || held.type !== 'file') return true;
      return held.lfs ? held.lfs.oid !== f.sha256 : held.oid !== f.gitOid;
    });
    const stale = (opts.owned ?? []).filter((p) => remote.get(p)?.type === 'file' && !local.some((f) => f.path === p));
    if (changedFiles.length === 0 && stale.length === 0) return { repo: opts.repo, branch, url, commit: null, changed: false, created, files: summary };

    const operations: CommitOperation[] = [
      ...changedFiles.map((f) => ({ operation: 'addOrUpdate' as const, path: f.path, content: new Blob([f.bytes]) })),
      ...stale.map((path) => ({ operation: 'delete' as const, path })),
    ];
    // useXet false: the Hub's LFS "basic" and "multipart" transfers, which any Hub takes; Xet
    // would need its content-addressed store, which a self-hosted endpoint may not have.
    const out = await commit({ ...common, repo, operations, title: opts.title, description: opts.description, branch, useXet: false });
    return { repo: opts.repo, branch, url, commit: out?.commit.oid ?? null, changed: true, created, files: summary };
  });
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Git's object id of a file: sha1 of `blob <size>\0` and the bytes (what the Hub answers as a regular file's oid). */
export function gitBlobOid(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** Runs a Hub call, true if it made something, false when the Hub answered `status` (it was there already). */
async function ignoring(status: number, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (e) {
    if (e instanceof HubApiError && e.statusCode === status) return false;
    throw e;
  }
}

const BY_STATUS: Record<number, { code: ErrorCode; what: string }> = {
  401: { code: 'hub_unauthorized' satisfies ErrorCode, what: 'refused the token (401): it is expired, revoked or mistyped' },
  403: { code: 'hub_forbidden' satisfies ErrorCode, what: 'forbade the push (403): the token may not write to this namespace or repository' },
  404: { code: 'hub_not_found' satisfies ErrorCode, what: 'found no such namespace, repository or branch (404)' },
  409: { code: 'hub_conflict' satisfies ErrorCode, what: 'answered a conflict (409): the repository or branch changed meanwhile, or the name is taken' },
  412: { code: 'hub_conflict' satisfies ErrorCode, what: 'answered a conflict (412): the branch moved while pushing' },
  413: { code: 'hub_too_large' satisfies ErrorCode, what: "refused a file or the commit as too large (413): over the Hub's limits" },
  429: { code: 'hub_rate_limited' satisfies ErrorCode, what: 'rate-limited the push (429): try again later' },
};

/** Every failure of the Hub's requests as a HubPushError naming what the Hub said. */
async function hubCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof HubPushError) throw e;
    if (e instanceof HubApiError) {
      const known = BY_STATUS[e.statusCode];
      const said = e.message ? `: ${e.message}` : '';
      const details = { hub_status: e.statusCode, ...(e.requestId && { request_id: e.requestId }) };
      if (known) throw new HubPushError(known.code, `the Hugging Face Hub ${known.what}${said}`, details);
      throw new HubPushError('hub_error', `the Hugging Face Hub failed (${e.statusCode})${said}`, details);
    }
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new HubPushError('hub_error', `the Hugging Face Hub could not be reached (${why}); HF_ENDPOINT sets its address`);
  }
}
