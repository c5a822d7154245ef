import { join } from 'node:path';
import { Client } from 'pg';
import { RunSchema } from '@amend/contracts';
import { consoleForFile, screenshotsDir, type ConsoleFile } from './support/browser';
import { json, pgForFile, testEnv, waitFor, type Stack } from './support/stack';

/**
 * The pair page says whether what it shows is what the audit trail recorded (docs/audit.md): a
 * verified, erased or altered badge, in Debian's chromium against the real stack. The erased pair
 * is erased through the API; the altered one is edited behind the service's back (as the owner,
 * triggers off).
 */
const env = testEnv('console_trail');
const SHOTS = screenshotsDir('amend-console-trail-');
const UI_TIMEOUT = 60_000;

let stack: Stack;
let signIn: ConsoleFile['signIn'];
let pg: Client;
consoleForFile(env, { viewport: { width: 1440, height: 960 }, timeoutMs: UI_TIMEOUT }, (file) => ({ stack, signIn } = file));
pgForFile(env, (c) => (pg = c));
let runId: string;
let samples: string[];

beforeAll(async () => {
  const res = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      constitution: 'amend-core',
      prompts: ['Name a hardy houseplant.', 'My address is 1 Example Road; plan my week.', 'Tell me a short joke.'],
    }),
  });
  runId = RunSchema.parse(await json(res)).id;
  await waitFor(async () => RunSchema.parse(await json(await stack.fetch(`/v1/runs/${runId}`))).status === 'completed', { what: 'the run' });
  samples = (await pg.query(`select id from "${env.DATABASE_SCHEMA}".samples where run_id = $1 order by idx`, [runId])).rows.map((r) => r.id);
  const erased = await stack.fetch(
    `/v1/samples/${samples[1]}/erase`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'data subject request #7' }) },
    stack.adminKey,
  );
  expect(erased.status).toBe(200);
  await pg.query('begin');
  await pg.query('set local session_replication_role = replica');
  await pg.query(`update "${env.DATABASE_SCHEMA}".stage_records set text = 'Nothing to improve.' where sample_id = $1 and seq = 1`, [samples[2]]);
  await pg.query('commit');
});

it('shows a verified, an erased (who, when, why) and an altered pair each with its badge', async () => {
  const { context, page } = await signIn(stack.submitterKey);
  const badgeOf = async (index: number) => {
    await page.goto(`${stack.url}/console/#/runs/${runId}/pairs/${index}`);
    await page.waitForSelector(`[data-testid=pair-position]:text-matches("^Pair ${index + 1} of 3")`);
    const badge = page.locator('[data-testid=trail-badge]');
    await badge.waitFor();
    return { text: (await badge.textContent()) ?? '', title: (await badge.getAttribute('title')) ?? '' };
  };
  expect((await badgeOf(0)).text).toBe('✓ verified');
  await page.screenshot({ path: join(SHOTS, 'pair-verified.png') });
  const erased = await badgeOf(1);
  expect(erased.text).toMatch(/^erased .* · data subject request #7$/);
  expect(erased.title).toMatch(/^erased by key:.* at .*: data subject request #7$/);
  await page.screenshot({ path: join(SHOTS, 'pair-erased.png') });
  expect((await badgeOf(2)).text).toBe('✗ altered: stage_records.1.text');
  await page.screenshot({ path: join(SHOTS, 'pair-altered.png') });
  await context.close();
});
