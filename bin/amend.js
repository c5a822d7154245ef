#!/usr/bin/env node
'use strict';
/**
 * The `amend` command. Runs the compiled CLI from dist/ when a build exists (fast start, what the
 * Docker image ships), else the TypeScript sources through ts-node. Paths are resolved from this
 * file, not the working directory, so `npx amend` works from anywhere.
 *
 * In a checkout, a build older than the sources it came from is skipped: a forgotten
 * `npm run build` must not make `amend` quietly run last week's code. AMEND_CLI_FROM_SOURCE=1
 * forces the sources.
 */
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const compiled = path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js');
const source = path.join(root, 'apps', 'cli', 'src', 'main.ts');

function newestSourceMtime() {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  walk(path.join(root, 'apps', 'cli', 'src'));
  walk(path.join(root, 'libs'));
  return newest;
}

function useBuild() {
  if (process.env.AMEND_CLI_FROM_SOURCE === '1' || !fs.existsSync(compiled)) return false;
  if (!fs.existsSync(source)) return true; // an image or package with only the build
  return fs.statSync(compiled).mtimeMs >= newestSourceMtime();
}

const fromBuild = useBuild();

// `@amend/<lib>` imports resolve to libs/<lib>/src, under dist/ for the build.
require('tsconfig-paths').register({
  baseUrl: fromBuild ? path.join(root, 'dist') : root,
  paths: { '@amend/*': ['libs/*/src'] },
  addMatchAll: false,
});

if (!fromBuild) {
  require('ts-node').register({
    project: path.join(root, 'tsconfig.json'),
    transpileOnly: true,
    // Behave as if started in the repo, whatever the caller's cwd (and any tsconfig.json there).
    cwd: root,
  });
}

require(fromBuild ? compiled : source)
  .runCli(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`error: ${err && err.stack ? err.stack : err}\n`);
      process.exitCode = 1;
    },
  );
