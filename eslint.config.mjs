// Guard rails that run in `npm test`: type-aware checks for the bugs review misses (a dropped
// promise, a switch that forgot a case) and import rules that keep each layer in its place:
// the database inside libs/store, frameworks and I/O out of libs/pipeline and libs/contracts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The database drivers: only libs/store (with its migrations) may import them. */
const DATABASE = ['kysely', 'kysely/*', 'pg', 'pg-*'];
/** Frameworks, queue, HTTP clients and the libraries that wrap them. */
const FRAMEWORKS = ['@nestjs/*', 'bullmq', 'ioredis', 'openai', 'express', 'undici', '@amend/store', '@amend/runtime', '@amend/llm', '@amend/hub', '@huggingface/hub'];
/** Disk and network: the pure layers take inputs and return values. */
const IO = ['fs', 'node:fs', 'fs/*', 'node:fs/*', 'http', 'node:http', 'https', 'node:https', 'net', 'node:net', 'child_process', 'node:child_process'];

/**
 * Where process.env may be read: the entry points, which pass it to loadConfig (the one schema,
 * validated at boot); the CLI, whose variables (AMEND_URL, AMEND_KEY, ...) are its own; the model
 * registry, which looks up the API-key variables AMEND_MODELS names (read once, at boot); tests.
 * Everything else takes the parsed Config (a Nest provider in the apps, a parameter in libs).
 */
const ENV_READERS = ['apps/api/src/main.ts', 'apps/worker/src/main.ts', 'apps/all/main.ts', 'apps/cli/**', 'libs/llm/src/model-registry.ts', '**/*.spec.ts', '**/testing/**'];
const PROCESS_ENV = { object: 'process', property: 'env', message: 'Configuration is read once at boot: add the variable to ConfigSchema (libs/contracts/src/config.ts) and take the Config (the CONFIG provider, or a parameter).' };
const DB_HANDLE = { property: 'db', message: "The database handle is private to libs/store: add a repository method (tests open their own with createDb)." };

const DATABASE_RULE = { group: DATABASE, message: 'The database belongs to libs/store: add a repository method there.' };
const pure = (layer) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        DATABASE_RULE,
        { group: [...FRAMEWORKS, ...IO], message: `${layer} is pure (inputs in, values out): no framework, queue, client or I/O; talk to a port.` },
      ],
    },
  ],
});

/** What a controller may not import: the database, the Store, and (unless `v1` is false) Nest's bare @Controller. */
const controllerImports = (v1) => ({
  patterns: [DATABASE_RULE],
  paths: [
    { name: '@amend/store', importNames: ['Store'], message: 'Controllers go through a service; the service holds the Store.' },
    ...(v1 ? [{ name: '@nestjs/common', importNames: ['Controller'], message: 'Use @V1Controller(tag, path) from common/v1-controller.ts.' }] : []),
  ],
});

/** `X.transaction().execute(callback)`: the callback, or undefined. */
function transactionCallback(call) {
  const callee = call.callee;
  if (callee?.type !== 'MemberExpression' || callee.property?.name !== 'execute') return undefined;
  const inner = callee.object;
  if (inner?.type !== 'CallExpression' || inner.callee?.type !== 'MemberExpression' || inner.callee.property?.name !== 'transaction') return undefined;
  const fn = call.arguments[0];
  return fn && (fn.type === 'ArrowFunctionExpression' || fn.type === 'FunctionExpression') ? fn : undefined;
}

/**
 * Work inside a transaction uses that transaction only (docs/concurrency.md, issue 23): in a
 * `.transaction().execute(async (tx) => ...)` callback, no `this.db` or `this.pool` (the pool, which
 * a session holding locks may wait on forever), and no awaited callback handed in by the caller
 * unless it is given `tx` (it could read through the pool while the locks are held).
 */
const noPoolInTransaction = {
  meta: {
    type: 'problem',
    messages: {
      pool: '`this.{{name}}` inside a transaction reaches the pool while the transaction holds its locks: use the transaction (`{{tx}}`).',
      callback: 'An awaited callback from the caller inside a transaction may reach the pool while the locks are held: pass it the transaction, or make it synchronous and pure.',
    },
    schema: [],
  },
  create(context) {
    const source = context.sourceCode;
    /** The innermost transaction callback around `node`, with the call it was passed to. */
    const enclosing = (node) => {
      const ancestors = source.getAncestors(node);
      for (let i = ancestors.length - 1; i > 0; i--) {
        const parent = ancestors[i - 1];
        if (parent.type === 'CallExpression' && transactionCallback(parent) === ancestors[i]) return { fn: ancestors[i], call: parent };
      }
      return undefined;
    };
    return {
      MemberExpression(node) {
        if (node.object.type !== 'ThisExpression' || node.computed || !['db', 'pool'].includes(node.property.name)) return;
        const tx = enclosing(node);
        if (tx) context.report({ node, messageId: 'pool', data: { name: node.property.name, tx: tx.fn.params[0]?.name ?? 'tx' } });
      },
      AwaitExpression(node) {
        const call = node.argument?.type === 'CallExpression' ? node.argument : undefined;
        if (!call || call.callee.type !== 'Identifier') return;
        const tx = enclosing(node);
        if (!tx) return;
        const variable = source.getScope(node).references.find((r) => r.identifier === call.callee)?.resolved;
        const def = variable?.defs[0];
        // A parameter of a function around the transaction: the caller's callback.
        if (def?.type !== 'Parameter' || !source.getAncestors(tx.call).includes(def.node)) return;
        const txName = tx.fn.params[0]?.name;
        if (txName && call.arguments.some((a) => a.type === 'Identifier' && a.name === txName)) return;
        context.report({ node, messageId: 'callback' });
      },
    };
  },
};

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'docs/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    ignores: ['apps/console/**'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // Express and Nest take callbacks that return promises; what matters is that none is dropped.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
    },
  },
  {
    // The console (React, built by Vite with its own tsconfig) gets the syntax-level rules only,
    // which keeps `npm run lint` within a minute on two cores.
    files: ['apps/console/**/*.{ts,tsx,mts}'],
  },
  {
    rules: {
      // zod-parsed JSON and test doubles use `any` at the edges; the type-aware rules above matter more.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Flags the `n += k` that keeps a placeholder counter right after its last use in a SQL builder.
      'no-useless-assignment': 'off',
    },
  },
  {
    // Tests, benchmarks and scripts inspect and fill the database from outside, as an operator would.
    files: ['apps/**/*.{ts,tsx}', 'libs/**/*.ts'],
    ignores: ['libs/store/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [DATABASE_RULE] }] },
  },
  {
    // The Store keeps its database handle private; `store['db']` would get past the compiler, not past this.
    files: ['**/*.{ts,tsx}'],
    ignores: ['libs/store/**'],
    rules: { 'no-restricted-properties': ['error', DB_HANDLE] },
  },
  // (These two replace the rule above for the service's own code, so they repeat its option.)
  { files: ['apps/**/*.{ts,tsx}', 'libs/**/*.ts'], ignores: [...ENV_READERS, 'libs/store/**'], rules: { 'no-restricted-properties': ['error', DB_HANDLE, PROCESS_ENV] } },
  { files: ['libs/store/**/*.ts'], ignores: ENV_READERS, rules: { 'no-restricted-properties': ['error', PROCESS_ENV] } },
  {
    // Controllers are thin: HTTP in and out, the work in a service (one per noun); a v1 controller
    // says what it is with @V1Controller (tag, bearer key, path), the health probes excepted.
    files: ['apps/api/src/**/*.controller.ts'],
    rules: { 'no-restricted-imports': ['error', controllerImports(true)] },
  },
  { files: ['apps/api/src/health/health.controller.ts'], rules: { 'no-restricted-imports': ['error', controllerImports(false)] } },
  {
    // A double cast turns the type checker off for one value. The store reads jsonb columns as
    // their contract types (schema.ts), so the few that remain are at foreign type boundaries and
    // say why on a disable comment beside them. Test doubles may cast freely.
    files: ['apps/**/*.{ts,tsx}', 'libs/**/*.ts', 'scripts/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/testing/**', '**/testing.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "TSAsExpression[expression.type='TSAsExpression'][expression.typeAnnotation.type='TSUnknownKeyword']",
          message: 'No `as unknown as` outside tests: type the source (a schema.ts column, a zod parse) or, at a foreign type boundary, disable this rule on that line with the reason.',
        },
      ],
    },
  },
  {
    // Work inside a transaction uses that transaction only (issue 23; docs/concurrency.md).
    files: ['libs/**/*.ts', 'apps/**/*.ts'],
    plugins: { amend: { rules: { 'no-pool-in-transaction': noPoolInTransaction } } },
    rules: { 'amend/no-pool-in-transaction': 'error' },
  },
  { files: ['libs/pipeline/**/*.ts'], rules: pure('libs/pipeline') },
  { files: ['libs/contracts/**/*.ts'], rules: pure('libs/contracts') },
);
