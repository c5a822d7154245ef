import type { KeyRoleName } from './keys';

/**
 * What each role may do, by name (docs/architecture.md#roles-and-access). Every API route names the one it
 * needs (`@Allow('submitRuns')` in apps/api), and the console offers a signed-in key exactly these:
 * one table, so the console cannot offer what the API refuses, nor hide what it allows.
 */
export const ABILITIES = {
  /** Read runs and what they made: samples, pairs, the SFT view, reports, reviews, agreement. Reviewers read their team's, to review them. */
  readRuns: ['submitter', 'auditor', 'reviewer'],
  /** Submit and cancel runs. */
  submitRuns: ['submitter'],
  /** Push a run's HF dataset folder to the Hugging Face Hub with the team's token (AMEND_HF_TOKENS): a team's publication, so its submitters do it. */
  publishRuns: ['submitter'],
  /**
   * Accept or reject pairs and take them from a run's review queue: that changes a team's dataset, so its submitters and
   * reviewers do it; auditors read and change nothing.
   */
  reviewPairs: ['submitter', 'reviewer'],
  /** Set how many reviews each pair of a run needs (the run's review policy): the team that submits runs decides. */
  setReviewPolicy: ['submitter'],
  readConstitutions: ['submitter', 'author', 'auditor'],
  /** Publish, import and deprecate constitution versions. */
  publish: ['author'],
  /** Save drafts of constitutions and read them: a team's own drafts only (another team's are 404). */
  writeDrafts: ['author', 'admin'],
  /** Try a constitution version on sample prompts. */
  preview: ['author'],
  /** Read and verify audit trails. */
  audit: ['auditor'],
  /** Create and revoke keys, and read them with their prefixes and limits. */
  manageKeys: ['admin'],
  /** List keys: admins as above, auditors the key directory that names the actors of events. */
  readKeys: ['admin', 'auditor'],
  /** Read constitution A/B evaluations (authors of the team, auditors and admins of every team). */
  readEvaluations: ['author', 'auditor', 'admin'],
  /** Estimate and start evaluations. */
  evaluate: ['author', 'admin'],
  /** Erase a finished sample's or run's content, keeping its hashes and an erasure event in the trail. */
  erase: ['admin'],
  /** Learn principle suggestions from labelled pairs, and add one to a draft. */
  suggest: ['author'],
  /** Read suggestion sets (authors of the team, auditors of every team). */
  readSuggestions: ['author', 'auditor'],
  /** Read one's own key (`GET /v1/keys/me`): how the console signs in. */
  readOwnKey: ['submitter', 'author', 'auditor', 'admin', 'reviewer'],
} as const satisfies Record<string, readonly KeyRoleName[]>;

export type Ability = keyof typeof ABILITIES;

/** What a key of one role may do, ability by ability. */
export type Abilities = Record<Ability, boolean>;

export function abilitiesOf(role: KeyRoleName): Abilities {
  return Object.fromEntries(Object.entries(ABILITIES).map(([ability, roles]) => [ability, (roles as readonly KeyRoleName[]).includes(role)])) as Abilities;
}
