#!/usr/bin/env node
'use strict';
/**
 * The `amend` command. Runs the compiled CLI from dist/ when a build exists (fast start, what the
 * Docker image ships), else the TypeScript sources through ts-node. Paths are resolved from this
 * file, not the working directory, so `npx amend` works from anywhere.
 * Set AMEND_CLI_FROM_SOURCE=1 to ignore a (possibly stale) build while working on the CLI.
 */
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const compiled = path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js');
const fromSource = process.env.AMEND_CLI_FROM_SOURCE === '1' || !fs.existsSync(compiled);

// `@amend/<lib>` imports resolve to libs/<lib>/src, under dist/ for the build.
require('tsconfig-paths').register({
  baseUrl: fromSource ? root : path.join(root, 'dist'),
  paths: { '@amend/*': ['libs/*/src'] },
  addMatchAll: false,
});

let entry = compiled;
if (fromSource) {
  require('ts-node').register({
    project: path.join(root, 'tsconfig.json'),
    transpileOnly: true,
    // Behave as if started in the repo, whatever the caller's cwd (and any tsconfig.json there).
    cwd: root,
  });
  entry = path.join(root, 'apps', 'cli', 'src', 'main.ts');
}

require(entry)
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
