import { ConstitutionError, parseConstitutionYaml, type Constitution, type ConstitutionIssue } from '@amend/constitution';

/** The next patch version: a published version never changes, so an edit is always a new one. */
export function bumpPatch(version: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return m ? `${m[1]}.${m[2]}.${Number(m[3]) + 1}` : version;
}

/** The base version's YAML with the next version number and a changelog to fill in. */
export function nextVersionYaml(yaml: string, next: string): string {
  const out = yaml.replace(/^version:.*$/m, `version: ${next}`);
  // The old changelog with its indented continuation lines (folded text or a block scalar).
  const changelog = /^changelog:.*(\n[ \t]+.*)*/m;
  return changelog.test(out)
    ? out.replace(changelog, 'changelog: Describe what changed.')
    : out.replace(/^version:.*$/m, (l) => `${l}\nchangelog: Describe what changed.`);
}

type Validation = { ok: true; constitution: Constitution } | { ok: false; issues: ConstitutionIssue[] };

/** The same parser and schema the server publishes with, run on every keystroke. */
export function validateYaml(text: string): Validation {
  try {
    return { ok: true, constitution: parseConstitutionYaml(text, 'editor') };
  } catch (e) {
    if (e instanceof ConstitutionError) return { ok: false, issues: e.issues };
    return { ok: false, issues: [{ path: '(top level)', message: String((e as Error).message ?? e), fix: 'check the document' }] };
  }
}

/** Semantic versions in order: 1.0.10 after 1.0.9. */
export function compareSemver(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}
