#!/usr/bin/env node
'use strict';
/**
 * `npm run start:prod`: the API and the worker in one process from the compiled build, as the
 * Docker image runs them. It never compiles (a start that ran tsc took 17-60 s to ready, against
 * 4-7 s for the build alone): `npm run build` makes dist/ and the console first, and a missing
 * build is an error here rather than a silent compile.
 *
 * TS_NODE_BASEURL (the variable tsconfig-paths/register reads, as in the Dockerfile) names the
 * build folder; it defaults to dist/ beside this file.
 */
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const dist = path.resolve(root, process.env.TS_NODE_BASEURL || 'dist');
const entry = path.join(dist, 'apps', 'all', 'main.js');

if (!fs.existsSync(entry)) {
  process.stderr.write(`error: no compiled build at ${path.relative(process.cwd(), entry) || entry}: run \`npm run build\` first\n`);
  process.exit(1);
}
if (!fs.existsSync(path.join(root, 'apps', 'console', 'dist', 'index.html'))) {
  // The API still starts; /console answers 404 console_not_built until the console is built.
  process.stderr.write('warning: the web console is not built (`npm run build` builds it with the server)\n');
}

// `@amend/<lib>` imports resolve to libs/<lib>/src under the build, as tsconfig-paths/register does in the image.
require('tsconfig-paths').register({ baseUrl: dist, paths: { '@amend/*': ['libs/*/src'] }, addMatchAll: false });
require(entry);
