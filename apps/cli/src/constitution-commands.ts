import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  checkConstitutions,
  ConstitutionError,
  ConstitutionSchema,
  constitutionSha256,
  constitutionToYaml,
  diffConstitutions,
  exportH4,
  importH4,
  loadConstitutionFile,
  parseConstitutionYaml,
  type Constitution,
} from '@amend/constitution';
import type { ApiClient } from './api-client';
import { parseInteger } from './arg-parsers';
import { renderDiff, renderPreview } from './constitution-render';
import { readPromptsFile, singleTurnPrompts } from './prompts-file';

type Print = (s: string) => void;

export interface ConstitutionCommandsContext {
  client: (cmd: Command) => ApiClient;
  out: Print;
  err: Print;
  setExitCode: (code: number) => void;
  /** Relative paths (default folder, --out) resolve from here; the process's cwd by default. */
  cwd?: string;
}

/** `name@x.y.z` (or `name`, meaning its latest version) as the registry knows it. */
interface VersionRef {
  name: string;
  version: string;
}

/**
 * `amend constitution ...`: what a policy author needs. `validate`, `import-h4` and `diff` or
 * `export-h4` of files work offline; the rest talk to the API.
 */
export function addConstitutionCommands(program: Command, ctx: ConstitutionCommandsContext): void {
  const { out, err } = ctx;
  const cwd = ctx.cwd ?? process.cwd();
  const resolvePath = (p: string) => (p === '-' ? p : resolve(cwd, p));

  const group = program.command('constitution').description('validate, publish, compare, preview, deprecate, import and export constitution versions');

  group
    .command('validate')
    .description('check constitution files offline (exit 0 when all are valid, 1 otherwise); for CI')
    .argument('[path]', 'a file, a <name>/ folder or the constitutions/ folder', 'constitutions')
    .option('--no-layout', 'do not require <name>/<version>.yaml paths (for drafts outside the folder)')
    .option('--json', 'print the result as JSON')
    .action((path: string, opts: { layout: boolean; json?: boolean }) => {
      const result = checkConstitutions(resolvePath(path), { checkLayout: opts.layout });
      const show = (p: string) => relative(cwd, p) || p;
      if (opts.json) {
        out(
          JSON.stringify(
            {
              valid: result.errors.length === 0 && result.files.length > 0,
              files: result.files.map(show),
              constitutions: result.loaded.map((l) => ({ file: show(l.path), name: l.constitution.name, version: l.constitution.version, sha256: l.sha256 })),
              errors: result.errors.map((e) => ({ file: e.file && show(e.file), code: e.code, issues: e.issues })),
            },
            null,
            2,
          ),
        );
      } else {
        for (const l of result.loaded) out(`ok  ${show(l.path)}  ${l.constitution.name}@${l.constitution.version}  sha256 ${l.sha256.slice(0, 12)}`);
        for (const e of result.errors) err(e.file ? e.message.split(e.file).join(show(e.file)) : e.message);
        if (result.files.length === 0 && result.errors.length === 0)
          err(`no constitution files under ${show(resolvePath(path))}; expected <name>/<version>.yaml`);
        else err(`${result.files.length} file(s) checked: ${result.loaded.length} valid, ${result.errors.length} with problems`);
      }
      ctx.setExitCode(result.errors.length === 0 && result.files.length > 0 ? 0 : 1);
    });

  group
    .command('publish')
    .description('publish a constitution file as a new version (checked locally first)')
    .argument('<file>', 'constitutions/<name>/<version>.yaml')
    .option('--no-layout', 'do not require the file to sit at <name>/<version>.yaml')
    .action(async (file: string, opts: { layout: boolean }, cmd: Command) => {
      const path = resolvePath(file);
      loadConstitutionFile(path, { checkLayout: opts.layout });
      const v = await ctx.client(cmd).publishConstitutionYaml(readFileSync(path, 'utf8'));
      out(
        v.created
          ? `published ${v.name}@${v.version} (sha256 ${v.sha256})`
          : `${v.name}@${v.version} is already published with this content (sha256 ${v.sha256}); nothing changed`,
      );
    });

  const draft = group.command('draft').description("your team's drafts: save, read and list (try them with preview and eval as name#draft)");
  draft
    .command('save')
    .description('save a constitution file as a draft (created or replaced; validated like a publish)')
    .argument('<draft>', 'name#draft')
    .argument('<file>', "a constitution YAML file whose name is the draft's")
    .action(async (refText: string, file: string, _opts: unknown, cmd: Command) => {
      const ref = parseDraftRef(refText);
      const text = readFileSync(resolvePath(file), 'utf8');
      const d = await ctx.client(cmd).saveDraftYaml(ref.name, ref.draft, text);
      out(`${d.created ? 'saved new draft' : 'saved draft'} ${d.name}#${d.draft} (version ${d.version}, ${d.principles} principles, sha256 ${d.sha256})`);
    });
  draft
    .command('get')
    .description('print a draft as YAML')
    .argument('<draft>', 'name#draft')
    .option('--json', 'print the draft and its content as JSON')
    .action(async (refText: string, opts: { json?: boolean }, cmd: Command) => {
      const ref = parseDraftRef(refText);
      const api = ctx.client(cmd);
      out(opts.json ? JSON.stringify(await api.getDraft(ref.name, ref.draft), null, 2) : await api.getDraftYaml(ref.name, ref.draft));
    });
  draft
    .command('list')
    .description("your team's drafts of a constitution")
    .argument('<name>', 'a constitution name')
    .option('--json', 'print them as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const { drafts } = await ctx.client(cmd).listDrafts(name);
      if (opts.json) return out(JSON.stringify({ drafts }, null, 2));
      if (drafts.length === 0) return out(`no drafts of ${name} in your team`);
      for (const d of drafts)
        out(`${d.name}#${d.draft}  version ${d.version}  ${d.principles} principles  saved ${d.saved_at} by ${d.saved_by}  sha256 ${d.sha256.slice(0, 12)}`);
    });

  group
    .command('publish-draft')
    .description('publish a draft as an immutable version (the draft stays)')
    .argument('<draft>', 'name#draft')
    .option('--version <x.y.z>', "the version to publish (default: the draft content's own)")
    .option('--changelog <text>', "replaces the draft's changelog")
    .action(async (refText: string, opts: { version?: string; changelog?: string }, cmd: Command) => {
      const ref = parseDraftRef(refText);
      const v = await ctx.client(cmd).publishDraft(ref.name, ref.draft, {
        ...(opts.version && { version: opts.version }),
        ...(opts.changelog && { changelog: opts.changelog }),
      });
      out(
        v.created
          ? `published ${v.name}@${v.version} from draft ${ref.name}#${ref.draft} (sha256 ${v.sha256})`
          : `${v.name}@${v.version} is already published with this content (sha256 ${v.sha256}); nothing changed`,
      );
    });

  group
    .command('show')
    .description('print a published version as YAML')
    .argument('<constitution>', 'name@x.y.z, or a name for its latest version')
    .option('--json', 'print the version and its content as JSON')
    .action(async (refText: string, opts: { json?: boolean }, cmd: Command) => {
      const ref = parseRef(refText);
      const api = ctx.client(cmd);
      out(opts.json ? JSON.stringify(await api.getConstitution(ref.name, ref.version), null, 2) : await api.getConstitutionYaml(ref.name, ref.version));
    });

  group
    .command('diff')
    .description('what changed between two versions: principles added, removed and changed word by word, examples, metadata')
    .argument('<from>', 'name@x.y.z (published) or a file')
    .argument('<to>', 'name@x.y.z (published) or a file')
    .option('--json', 'print the diff as JSON')
    .action(async (fromText: string, toText: string, opts: { json?: boolean }, cmd: Command) => {
      const from = locate(fromText, cwd);
      const to = locate(toText, cwd);
      let diff;
      if (from.kind === 'ref' && to.kind === 'ref' && from.ref.name === to.ref.name) {
        diff = await ctx.client(cmd).diffConstitutions(from.ref.name, from.ref.version, to.ref.version);
      } else {
        const load = async (x: Located): Promise<Constitution> =>
          x.kind === 'file'
            ? loadConstitutionFile(x.path, { checkLayout: false }).constitution
            : ConstitutionSchema.parse((await ctx.client(cmd).getConstitution(x.ref.name, x.ref.version)).content);
        diff = diffConstitutions(await load(from), await load(to));
      }
      out(opts.json ? JSON.stringify(diff, null, 2) : renderDiff(diff));
    });

  group
    .command('deprecate')
    .description('deprecate a version: runs may still name it exactly, a bare name no longer resolves to it')
    .argument('<constitution>', 'name@x.y.z')
    .option('--reason <text>', 'why, for whoever reads the registry')
    .action(async (refText: string, opts: { reason?: string }, cmd: Command) => {
      const ref = parseRef(refText, { exact: true });
      const v = await ctx.client(cmd).deprecateConstitution(ref.name, ref.version, opts.reason);
      out(`${v.name}@${v.version} is deprecated (since ${v.deprecated_at})`);
    });

  group
    .command('preview')
    .description('run draft, critique and revision on a few prompts (at most 5) and show every stage')
    .argument('<constitution>', 'name@x.y.z, a name for its latest version, or a draft of your team, name#draft')
    .option('-p, --prompt <text>', 'a prompt (repeat for more)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--prompts <file>', 'prompts file (.jsonl, .json or .txt)')
    .option('--principle <id>', 'try this principle only')
    .option('--rounds <n>', 'critique/revision rounds (default 1)', parseInteger)
    .option('--seed <n>', 'seed for principle sampling', parseInteger)
    .option('--model <alias>', 'model alias configured on the server')
    .option('--timeout <seconds>', 'how long the server may take (default 60)', parseInteger)
    .option('--json', 'print the result as JSON')
    .action(async (refText: string, opts: PreviewOptions, cmd: Command) => {
      const draftRef = refText.includes('#') ? parseDraftRef(refText) : undefined;
      const ref = draftRef ? { name: draftRef.name, version: '' } : parseRef(refText);
      const fromFile = opts.prompts
        ? singleTurnPrompts(await readPromptsFile(resolvePath(opts.prompts)), opts.prompts, 'a preview').map((p) => (typeof p === 'string' ? p : p.prompt))
        : [];
      const prompts = [...opts.prompt, ...fromFile];
      if (prompts.length === 0) throw new Error('give at least one prompt with --prompt or --prompts');
      const api = ctx.client(cmd);
      const preview = draftRef ? api.previewDraft.bind(api, draftRef.name, draftRef.draft) : api.previewConstitution.bind(api, ref.name, ref.version);
      const result = await preview({
        prompts,
        ...(opts.principle ? { principle: opts.principle } : {}),
        ...(opts.rounds !== undefined ? { rounds: opts.rounds } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.model ? { model: opts.model } : {}),
        ...(opts.timeout !== undefined ? { timeout_ms: opts.timeout * 1000 } : {}),
      });
      out(opts.json ? JSON.stringify(result, null, 2) : renderPreview(result));
      ctx.setExitCode(result.status === 'completed' ? 0 : 1);
    });

  group
    .command('import-h4')
    .description('convert a Hugging Face H4 constitution (JSON) into a constitution file, and optionally publish it')
    .argument('<file>', 'H4 JSON: {"constitutions": [{"critic", "revision"}], "system_chat": [[messages]]}')
    .requiredOption('--name <name>', 'constitution name (a lowercase slug)')
    .requiredOption('--version <x.y.z>', 'version to give it')
    .option('--title <text>', 'title')
    .option('--description <text>', 'description')
    .option('--changelog <text>', 'changelog entry')
    .option('--tags <a,b>', 'tags for every imported principle, e.g. harmlessness')
    .option('-o, --out <file>', 'where to write the YAML ("-" for stdout; default constitutions/<name>/<version>.yaml)')
    .option('--publish', 'also publish it through the API')
    .action(async (file: string, opts: ImportOptions, cmd: Command) => {
      const h4 = readJson(resolvePath(file));
      const tags = opts.tags
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const constitution = importH4(h4, {
        name: opts.name,
        version: opts.version,
        title: opts.title,
        description: opts.description,
        changelog: opts.changelog,
        tags,
      });
      const yaml = `# Imported from ${file} (Hugging Face H4 format) with amend constitution import-h4.\n${constitutionToYaml(constitution)}`;
      const target = opts.out ?? join('constitutions', opts.name, `${opts.version}.yaml`);
      if (target === '-') {
        out(yaml);
      } else {
        const path = resolvePath(target);
        if (existsSync(path)) {
          // A version never changes: an existing file with other content is not overwritten.
          const existing = parseConstitutionYaml(readFileSync(path, 'utf8'), path);
          if (constitutionSha256(existing) !== constitutionSha256(constitution)) {
            throw new Error(`${target} already exists with other content; a version never changes: choose another --version or --out`);
          }
          err(`${target} already holds this content`);
        } else {
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, yaml);
          err(
            `wrote ${target}: ${constitution.principles.length} principles, ${constitution.examples.length} examples, sha256 ${constitutionSha256(constitution)}`,
          );
        }
      }
      if (opts.publish) {
        const v = await ctx.client(cmd).importH4(h4, {
          name: opts.name,
          version: opts.version,
          ...(opts.title ? { title: opts.title } : {}),
          ...(opts.description ? { description: opts.description } : {}),
          ...(opts.changelog ? { changelog: opts.changelog } : {}),
          ...(tags?.length ? { tags: tags.join(',') } : {}),
        });
        err(v.created ? `published ${v.name}@${v.version} (sha256 ${v.sha256})` : `${v.name}@${v.version} was already published with this content`);
      }
    });

  group
    .command('export-h4')
    .description('write a version in the Hugging Face H4 JSON format (ids, tags, weights and comparisons have no place there)')
    .argument('<constitution>', 'name@x.y.z (published) or a file')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (refText: string, opts: { out?: string }, cmd: Command) => {
      const source = locate(refText, cwd);
      const h4 =
        source.kind === 'file'
          ? exportH4(loadConstitutionFile(source.path, { checkLayout: false }).constitution)
          : await ctx.client(cmd).getConstitutionH4(source.ref.name, source.ref.version);
      const text = `${JSON.stringify(h4, null, 2)}\n`;
      if (opts.out) {
        writeFileSync(resolvePath(opts.out), text);
        err(`wrote ${opts.out}`);
      } else {
        out(text);
      }
    });
}

interface PreviewOptions {
  prompt: string[];
  prompts?: string;
  principle?: string;
  rounds?: number;
  seed?: number;
  model?: string;
  timeout?: number;
  json?: boolean;
}

interface ImportOptions {
  name: string;
  version: string;
  title?: string;
  description?: string;
  changelog?: string;
  tags?: string;
  out?: string;
  publish?: boolean;
}

type Located = { kind: 'file'; path: string } | { kind: 'ref'; ref: VersionRef };

/** A file when one exists at that path or the argument ends in .yaml; otherwise name@version. */
function locate(text: string, cwd: string): Located {
  const path = resolve(cwd, text);
  if (/\.ya?ml$/.test(text) || (existsSync(path) && !/^[a-z0-9][a-z0-9-]*(@\d+\.\d+\.\d+)?$/.test(text))) return { kind: 'file', path };
  return { kind: 'ref', ref: parseRef(text) };
}

function parseRef(text: string, opts: { exact?: boolean } = {}): VersionRef {
  const m = /^([a-z0-9][a-z0-9-]*)(?:@(\d+\.\d+\.\d+|latest))?$/.exec(text);
  if (!m || (opts.exact && !m[2])) {
    throw new Error(`"${text}" is not ${opts.exact ? 'name@x.y.z' : 'a constitution name or name@x.y.z'}`);
  }
  return { name: m[1], version: m[2] ?? 'latest' };
}

/** `name#draft`: a draft of the key's team. */
function parseDraftRef(text: string): { name: string; draft: string } {
  const m = /^([a-z0-9][a-z0-9-]*)#([a-z0-9][a-z0-9-]{0,63})$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a draft; write name#draft, e.g. harmless#kinder-tone`);
  return { name: m[1], draft: m[2] };
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConstitutionError('constitution_syntax', path, [
      { path: '(file)', message: `not valid JSON: ${(e as Error).message}`, fix: 'an H4 constitution is a JSON document' },
    ]);
  }
}
