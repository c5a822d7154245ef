import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { ConstitutionSummarySchema, CreatedKeySchema, ReviewListSchema, RunListSchema, type CreatedKey } from '@amend/contracts';
import { consoleForFile, screenshotsDir, type ConsoleFile } from './support/browser';
import { json, ndjson, testEnv, type Stack } from './support/stack';

/**
 * The web console in Debian's chromium against the real API, worker, Redis and Postgres. Each
 * test signs in with a key of the role it plays. With AMEND_SCREENSHOTS=<dir> (npm run
 * screenshots) the pages are saved there for docs/console.md; otherwise to a temporary folder.
 */
const ADMIN_KEY = `amd_${randomBytes(32).toString('base64url')}`;
// `slow`: a simulator that takes seconds per call, so a run is still going when the page cancels it.
const env = testEnv('console', {
  AMEND_ADMIN_KEY: ADMIN_KEY,
  AMEND_MODELS: JSON.stringify({ default: { simulator: true }, slow: { simulator: true, latency_ms: 3000 } }),
});
const SHOTS = screenshotsDir('amend-console-');
/** Long enough for a run on the simulator on a busy 2-core machine; every wait ends as soon as the page shows it. */
const UI_TIMEOUT = 60_000;

let stack: Stack;
let signInAs: ConsoleFile['signIn'];
consoleForFile(env, { viewport: { width: 1440, height: 960 }, acceptDownloads: true, timeoutMs: UI_TIMEOUT }, (file) => ({ stack, signIn: signInAs } = file));
const keys: Record<'submitter' | 'author' | 'auditor' | 'admin' | 'otherTeam', CreatedKey> = {} as never;
let runId: string;

async function api(path: string, key: string, init: RequestInit = {}) {
  return fetch(stack.url + path, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
}

async function createKey(role: string, team: string, name: string): Promise<CreatedKey> {
  const res = await api('/v1/keys', ADMIN_KEY, { method: 'POST', body: JSON.stringify({ role, team, name }) });
  if (res.status !== 201) throw new Error(`key for ${role}: ${res.status} ${await res.text()}`);
  return CreatedKeySchema.parse(await res.json());
}

/** A fresh browser context (its own session storage), signed in with `key`; `shot` saves the sign-in page first. */
function signIn(key: string, shot?: string): Promise<{ context: BrowserContext; page: Page }> {
  return signInAs(key, { beforeSubmit: shot ? (page) => screenshot(page, shot) : undefined });
}

async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

beforeAll(async () => {
  keys.admin = await createKey('admin', 'admin', 'console admin');
  keys.submitter = await createKey('submitter', 'ml', 'ana');
  keys.otherTeam = await createKey('submitter', 'other', 'bo');
  keys.author = await createKey('author', 'admin', 'pat');
  keys.auditor = await createKey('auditor', 'audit', 'ada');
});

describe('the web console', () => {
  it('is served by the API at /console, with a JSON 404 for files it does not have', async () => {
    const page = await fetch(`${stack.url}/console/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');
    const missing = await fetch(`${stack.url}/console/nope.js`);
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.code).toBe('not_found');
  });

  it('offers a submitter its team’s runs and no audit, publishing or keys', async () => {
    const { context, page } = await signIn(keys.submitter.key, 'sign-in');
    expect(await page.textContent('[data-testid=identity]')).toContain('submitter');
    expect(await page.textContent('[data-testid=identity]')).toContain('team ml');
    const nav = await page.locator('.topbar nav a').allTextContents();
    expect(nav).toEqual(['Runs', 'Search', 'Constitutions']);
    await page.goto(`${stack.url}/console/#/constitutions/amend-core`);
    await page.waitForSelector('[data-testid=versions]');
    expect(await page.locator('text=New version from').count()).toBe(0);
    await context.close();
  });

  it('goes back to sign-in, saying why, when the key is revoked mid-session', async () => {
    const doomed = await createKey('submitter', 'ml', 'soon revoked');
    const { context, page } = await signIn(doomed.key);
    await page.waitForSelector('[data-testid=runs-table]');
    expect((await api(`/v1/keys/${doomed.id}`, ADMIN_KEY, { method: 'DELETE' })).status).toBe(200);
    // The next request is refused: the page forgets the key and says why.
    await page.click('.topbar nav >> text=Constitutions');
    expect(await (await page.waitForSelector('.signin .notice.warn')).textContent()).toContain('refused your key');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await context.close();
  });

  it('submits a run and watches it finish with live counts, usage and rate', async () => {
    const { context, page } = await signIn(keys.submitter.key);
    await page.click('text=New run');
    const prompts = Array.from({ length: 12 }, (_, i) => `Question ${i}: how do I keep basil alive on a windowsill?`);
    await page.fill('textarea[name=prompts]', prompts.join('\n'));
    await page.selectOption('select[name=constitution]', 'amend-core');
    await page.fill('input[name=rounds]', '2');
    await page.click('text=Submit 12 prompts');
    await page.waitForURL(/#\/runs\/[0-9a-f-]{36}$/);
    runId = page.url().split('/').pop()!;
    // The page polls: the counts reach 12 of 12 without a reload.
    await page.waitForSelector('[data-testid=completed] .stat-value:text-is("12 / 12")');
    await page.waitForSelector('.page-title .status-completed');
    const stats = await page.textContent('[data-testid=run-stats]');
    expect(stats).toContain('model calls');
    expect(stats).toMatch(/samples\/s/);
    await page.waitForSelector('[data-testid=report]');
    await screenshot(page, 'run');

    const downloadEvent = page.waitForEvent('download');
    await page.click('[data-testid=download-h4]');
    const file = await (await downloadEvent).path();
    const lines = ndjson(readFileSync(file!, 'utf8'));
    expect(lines).toHaveLength(12);
    expect(lines[0]).toHaveProperty('init_response');

    await page.goto(`${stack.url}/console/#/runs`);
    await page.waitForSelector(`tr[data-run="${runId}"][data-status=completed]`);
    expect(await page.textContent(`tr[data-run="${runId}"] [data-testid=counts]`)).toContain('12/12');
    await screenshot(page, 'runs');
    await context.close();

    // Another team's submitter does not see the run.
    const other = await RunListSchema.parseAsync(await json(await api('/v1/runs', keys.otherTeam.key)));
    expect(other.runs.map((r) => r.id)).not.toContain(runId);
  });

  it('cancels a running run from its page, which shows it going until then', async () => {
    const res = await api('/v1/runs', keys.submitter.key, {
      method: 'POST',
      body: JSON.stringify({ constitution: 'amend-core', prompts: ['Plan a picnic', 'Fix a bike chain', 'Name a cat'], rounds: 4, model: 'slow' }),
    });
    const slow = (await json(res)).id as string;
    const { context, page } = await signIn(keys.submitter.key);
    await page.goto(`${stack.url}/console/#/runs/${slow}`);
    await page.waitForSelector('.page-title .status-running');
    expect(await page.textContent('[data-testid=completed]')).toContain('0 / 3');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('button:has-text("Cancel run")');
    await page.waitForSelector('.page-title .status-cancelled');
    expect(await page.locator('button:has-text("Cancel run")').count()).toBe(0);
    const run = await json(await api(`/v1/runs/${slow}`, keys.submitter.key));
    expect(run.status).toBe('cancelled');
    expect(run.counts.cancelled).toBe(3);
    await context.close();
  });

  it('says "not available on this server" where the server lacks a route, and shows the rest', async () => {
    const { context, page } = await signIn(keys.submitter.key);
    // An older server without quality reports: Nest's answer for a path it does not have.
    await page.route('**/v1/runs/*/report', (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'not_found', message: `Cannot GET ${new URL(route.request().url()).pathname}` } }),
      }),
    );
    await page.goto(`${stack.url}/console/#/runs/${runId}`);
    expect(await (await page.waitForSelector('#report [data-testid=unavailable]')).textContent()).toBe('The quality report: not available on this server.');
    expect(await page.textContent('[data-testid=completed]')).toContain('12 / 12');
    await context.close();
  });

  it('reviews a pair with keyboard navigation, and the export keeps only accepted pairs', async () => {
    const { context, page } = await signIn(keys.submitter.key);
    await page.goto(`${stack.url}/console/#/runs/${runId}/pairs/0`);
    await page.waitForSelector('[data-testid=pair-position]');
    expect(await page.textContent('[data-testid=pair-position]')).toContain('Pair 1 of 12');
    await page.keyboard.press('j');
    await page.waitForSelector('[data-testid=pair-position]:text-matches("^Pair 2 of 12")');
    await page.keyboard.press('ArrowDown');
    await page.waitForSelector('[data-testid=pair-position]:text-matches("^Pair 3 of 12")');
    await page.keyboard.press('k');
    await page.waitForSelector('[data-testid=pair-position]:text-matches("^Pair 2 of 12")');
    expect(await page.locator('.diff ins, .diff del').count()).toBeGreaterThan(0);
    expect(await page.locator('text=Round 2 · principle').count()).toBe(1);
    await screenshot(page, 'pair');

    // A decision without a reason is refused in the page, before anything is sent.
    await page.click('button:has-text("Swap chosen / rejected")');
    await page.waitForSelector('text=Give a reason first');
    await page.fill('input[name=note]', 'Ana Lopez');
    await page.fill('textarea[name=reason]', 'The draft answers the question; the revision hedges.');
    await page.click('button:has-text("Swap chosen / rejected")');
    // The reviewer is the key (named "ana" by the admin), whatever the form says; the form's text is the note.
    await page.waitForSelector('[data-testid=review-status]:text-is("accepted (swap by ana)")');
    await page.waitForSelector('[data-testid=review-history] li');
    expect(await page.textContent('[data-testid=review-counts]')).toContain('1 accepted');
    await page.locator('#review').scrollIntoViewIfNeeded();
    await screenshot(page, 'review');
    await context.close();

    const list = ReviewListSchema.parse(await json(await api(`/v1/runs/${runId}/reviews?status=accepted`, keys.submitter.key)));
    expect(list.items).toHaveLength(1);
    const reviewed = list.items[0];
    expect(reviewed.pair.metadata.sample_index).toBe(1);
    expect(reviewed.review).toMatchObject({
      decision: 'swap',
      reviewer: 'ana',
      reviewer_key_id: keys.submitter.id,
      note: 'Ana Lopez',
      actor: `key:${keys.submitter.id}`,
    });
    const exported = ndjson(await (await api(`/v1/runs/${runId}/pairs?format=standard&reviewed=accepted`, keys.submitter.key)).text());
    expect(exported).toHaveLength(1);
    expect(exported[0].chosen).toBe(` ${reviewed.pair.rejected}`);
    expect(exported[0].review).toMatchObject({
      decision: 'swap',
      status: 'accepted',
      reviewer: 'ana',
      reviewer_key_id: keys.submitter.id,
      note: 'Ana Lopez',
      reason: 'The draft answers the question; the revision hedges.',
    });
  });

  it('lets an author write a new version with live validation errors, publish it, and diff it', async () => {
    const { context, page } = await signIn(keys.author.key);
    expect(await page.locator('.topbar nav a').allTextContents()).toEqual(['Constitutions', 'Evaluations', 'Suggestions']);
    await page.waitForSelector('[data-constitution=amend-core]');
    await screenshot(page, 'constitutions');
    await page.click('[data-constitution=amend-core]');
    await page.click('text=New version from');
    const editor = page.locator('textarea[name=constitution-yaml]');
    await page.waitForSelector('[data-testid=validation-ok]');
    const valid = await editor.inputValue();

    // A typo in a field name: the same schema as the server's names the field and the fix, with its line.
    await editor.fill(valid.replace(/^(\s+)revision:/m, '$1revison:'));
    await page.waitForSelector('[data-testid=validation-issues]');
    const issues = await page.textContent('[data-testid=validation-issues]');
    expect(issues).toContain('unknown field "revison"');
    expect(issues).toContain('rename "revison" to "revision"');
    expect(issues).toMatch(/line \d+:\d+/);
    expect(await page.locator('button.primary:has-text("Publish")').isDisabled()).toBe(true);
    // Each issue jumps to its line in the editor.
    await page.click('[data-testid=validation-issues] li:last-child button');
    await screenshot(page, 'constitution-editor');

    await editor.fill(
      valid.replace(/^changelog:.*$/m, 'changelog: Helpfulness critique names wrong steps too.').replace('missing steps', 'missing or wrong steps'),
    );
    const ok = await (await page.waitForSelector('[data-testid=validation-ok]')).textContent();
    const version = /amend-core@(\d+\.\d+\.\d+)/.exec(ok!)![1];
    await page.click(`button:has-text("Publish amend-core@${version}")`);
    expect(await (await page.waitForSelector('[data-testid=published]')).textContent()).toContain(`Published amend-core@${version}`);

    const summary = ConstitutionSummarySchema.parse(await json(await api('/v1/constitutions/amend-core', keys.author.key)));
    const published = summary.versions.find((v) => v.version === version);
    expect(published).toMatchObject({ changelog: 'Helpfulness critique names wrong steps too.', published_by: `key:${keys.author.id}`, source: 'api' });

    await page.click('text=diff from');
    await page.waitForSelector('[data-testid=diff]');
    const diff = await page.textContent('[data-testid=diff]');
    expect(diff).toContain('1 changed');
    expect(diff).toContain('~ helpfulness');
    expect(await page.locator('[data-testid=diff] ins').count()).toBeGreaterThan(0);
    await screenshot(page, 'constitution-diff');
    await page.goto(`${stack.url}/console/#/constitutions/amend-core/${version}`);
    await page.waitForSelector('[data-principle]');
    await screenshot(page, 'constitution');
    await context.close();
  });

  it('shows an auditor a sample’s trail as a timeline, with the review, and verifies it intact', async () => {
    const list = ReviewListSchema.parse(await json(await api(`/v1/runs/${runId}/reviews?status=accepted`, keys.auditor.key)));
    const sampleId = list.items[0].pair.sample_id;
    const { context, page } = await signIn(keys.auditor.key);
    expect(await page.locator('.topbar nav a').allTextContents()).toEqual(['Runs', 'Search', 'Constitutions', 'Evaluations', 'Suggestions', 'Audit']);
    await page.goto(`${stack.url}/console/#/audit/samples/${sampleId}`);
    await page.waitForSelector('[data-testid=timeline]');
    const types = await page.locator('[data-testid=timeline] > li').evaluateAll((els) => els.map((e) => e.getAttribute('data-type')));
    expect(types).toEqual(expect.arrayContaining(['draft.generated', 'critique.generated', 'revision.generated', 'pair.emitted', 'pair.reviewed']));
    await page.click('button:has-text("Verify trail")');
    const result = await page.waitForSelector('[data-testid=verify-result]');
    expect(await result.getAttribute('data-ok')).toBe('true');
    expect(await result.textContent()).toContain('Intact');
    await screenshot(page, 'audit');
    await context.close();
  });

  it('shows an operator auditor a run’s samples by prompt and status, key ids by name, and a failing sample as a link to its event', async () => {
    const operatorAuditor = await createKey('auditor', 'admin', 'olga');
    const { context, page } = await signIn(operatorAuditor.key);
    await page.goto(`${stack.url}/console/#/audit/runs/${runId}`);
    // The run was created by the key named "ana" (submitter of team ml): the page says so, not key:<id>.
    const actor = page.locator(`[data-type="run.created"] [data-actor="key:${keys.submitter.id}"]`);
    await actor.waitFor();
    expect(await actor.textContent()).toBe('ana (submitter, ml)');
    const rows = page.locator('[data-testid=audit-samples] tr');
    await page.waitForSelector('[data-testid=audit-samples] tr:nth-child(12)');
    expect(await rows.count()).toBe(12);
    const first = await rows.first().textContent();
    expect(first).toContain('#0');
    expect(first).toContain('completed');
    expect(first).toContain('Question 0: how do I keep basil alive on a windowsill?');

    // An event of one sample edited behind the service's back (as the owner, triggers off).
    const pg = new Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
    await pg.connect();
    const target = (
      await pg.query(`select id, event_id, sample_id, payload from audit_events where run_id = $1 and type = 'critique.generated' order by id limit 1`, [runId])
    ).rows[0];
    const setPayload = async (payload: unknown) => {
      await pg.query('begin');
      await pg.query('set local session_replication_role = replica');
      await pg.query('update audit_events set payload = $1 where id = $2', [JSON.stringify(payload), target.id]);
      await pg.query('commit');
    };
    await setPayload({ ...target.payload, principle_id: 'forged' });
    try {
      await page.click('button:has-text("Verify trail")');
      const result = await page.waitForSelector('[data-testid=verify-result][data-ok=false]');
      await page.waitForSelector(`[data-testid=audit-samples] tr.bad[data-sample="${target.sample_id}"]`);
      const link = page.locator('[data-testid=verify-result] a.failure-link').first();
      expect(await link.getAttribute('href')).toBe(`#/audit/samples/${target.sample_id}?event=${target.event_id}`);
      expect(await result.textContent()).toContain(`sample:${target.sample_id}`);
      await screenshot(page, 'audit-run');
      await link.click();
      await page.waitForSelector(`[data-testid=timeline] > li.focus#event-${target.event_id}`);
      expect(await page.locator(`[data-testid=timeline] > li.focus`).getAttribute('data-type')).toBe('critique.generated');
    } finally {
      await setPayload(target.payload);
      await pg.end();
    }
    await context.close();
  });
});
