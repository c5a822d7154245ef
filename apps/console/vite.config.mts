import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * The console is served by the API at /console (apps/api/src/console). It imports the same zod
 * contracts as the API and the constitution schema and validator from libs/constitution, so the
 * browser shows exactly the errors the server would answer.
 */
export default defineConfig({
  root: here('.'),
  base: '/console/',
  // No @vitejs/plugin-react: its optional babel peers do not resolve with this lock file, and Vite's
  // own Oxc transform compiles JSX (fast refresh is all it would add).
  oxc: { jsx: { runtime: 'automatic' } },
  resolve: {
    alias: [
      { find: /^@amend\/contracts$/, replacement: here('../../libs/contracts/src/index.ts') },
      { find: /^@amend\/constitution$/, replacement: here('./src/lib/constitution.ts') },
      // libs/constitution's loader also reads files and hashes with node:crypto; the browser only
      // calls its YAML parser, so those imports resolve to stubs that throw if ever called.
      { find: /^node:(fs|path|crypto)$/, replacement: here('./src/lib/node-stubs.ts') },
    ],
  },
  // libs/contracts reads limits from process.env at call time; in the browser they are the defaults.
  define: { 'process.env': '{}' },
  build: { outDir: here('./dist'), emptyOutDir: true, chunkSizeWarningLimit: 1500 },
});
