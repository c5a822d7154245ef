import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConstitutionError } from './errors';
import { loadConstitutionFile, type LoadedConstitution } from './loader';

export interface CheckResult {
  /** Every file looked at, in order. */
  files: string[];
  loaded: LoadedConstitution[];
  /** One error per file with problems; each lists all the problems found in that file. */
  errors: ConstitutionError[];
}

/**
 * Checks a constitution file, a `<name>/` folder or a whole `constitutions/` folder, and keeps
 * going after a bad file so that an author (or CI) sees every problem in one pass. Layout is
 * checked too: a file's name must match its folder and its version its file name.
 */
export function checkConstitutions(path: string, opts: { checkLayout?: boolean } = {}): CheckResult {
  const result: CheckResult = { files: [], loaded: [], errors: [] };
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    result.errors.push(
      new ConstitutionError('constitution_unreadable', path, [
        {
          path: '(file)',
          message: `no such file or folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
          fix: 'pass a constitution file or a folder of <name>/<version>.yaml files (default constitutions/)',
        },
      ]),
    );
    return result;
  }
  const files = isDir ? yamlFilesUnder(path) : [path];
  for (const file of files) {
    result.files.push(file);
    try {
      result.loaded.push(loadConstitutionFile(file, { checkLayout: opts.checkLayout ?? true }));
    } catch (e) {
      if (!(e instanceof ConstitutionError)) throw e;
      result.errors.push(e);
    }
  }
  return result;
}

/** YAML files directly in `dir` (when it is one constitution's folder) and one level down. */
function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) {
      for (const file of readdirSync(full).sort()) {
        const p = join(full, file);
        if (isYaml(file) && statSync(p).isFile()) out.push(p);
      }
    } else if (isYaml(entry)) {
      out.push(full);
    }
  }
  return out;
}

function isYaml(name: string): boolean {
  return name.endsWith('.yaml') || name.endsWith('.yml');
}
