import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './support/stack';

/*
 * The lint rule that keeps work inside a transaction on that transaction (eslint.config.mjs,
 * `amend/no-pool-in-transaction`; issue 23), run through the repository's own config on an example
 * that makes both mistakes once and does the right thing twice. The example is linted as if it
 * were a file of libs/store (its content replaces the file's for this run only).
 */

const EXAMPLE = `import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema';

export class Example {
  constructor(private readonly db: Kysely<Database>) {}

  async poolInside(id: string) {
    return this.db.transaction().execute(async (tx) => {
      await tx.selectFrom('runs').select('id').where('id', '=', id).forUpdate().execute();
      return this.db.selectFrom('samples').select('id').where('run_id', '=', id).execute();
    });
  }

  async callbackInside(id: string, build: (id: string) => Promise<string>) {
    return this.db.transaction().execute(async (tx) => {
      await tx.selectFrom('runs').select('id').where('id', '=', id).forUpdate().execute();
      return await build(id);
    });
  }

  async rightWays(id: string, check: (tx: Transaction<Database>) => Promise<void>, decide: (n: number) => number) {
    return this.db.transaction().execute(async (tx) => {
      await check(tx);
      const rows = await tx.selectFrom('samples').select('id').where('run_id', '=', id).execute();
      return decide(rows.length);
    });
  }
}
`;

it('the lint refuses the pool and an awaited outside callback inside a transaction, and lets the transaction and pure callbacks pass', () => {
  let out: string;
  try {
    out = execFileSync(join(ROOT, 'node_modules', '.bin', 'eslint'), ['--stdin', '--stdin-filename', 'libs/store/src/lock-retry.ts', '--format', 'json'], {
      cwd: ROOT,
      input: EXAMPLE,
      encoding: 'utf8',
    });
  } catch (e) {
    // eslint exits 1 when it reports errors; its report is still on stdout.
    out = (e as { stdout: string }).stdout;
  }
  const messages = (JSON.parse(out) as { messages: { ruleId: string | null; line: number; message: string }[] }[])[0].messages;
  // Lines of EXAMPLE (1-based): `this.db` in poolInside, `await build(id)` in callbackInside.
  expect(messages.map((m) => ({ rule: m.ruleId, line: m.line }))).toEqual([
    { rule: 'amend/no-pool-in-transaction', line: 10 },
    { rule: 'amend/no-pool-in-transaction', line: 17 },
  ]);
});
