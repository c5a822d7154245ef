import { join } from 'node:path';
import { SuggestionSetSchema, type SuggestionSet } from '@amend/contracts';
import { AUTHOR, consoleForFile, screenshotsDir, type ConsoleFile } from './support/browser';
import { json, testEnv, waitFor, type Stack } from './support/stack';
import { SEEDED } from './support/seeded-preferences';

/**
 * The console's Suggestions pages in Debian's chromium against the real API, worker, Redis and
 * Postgres: an author starts a set from a preference file, follows it, and reads the ranking; every
 * figure on the page is the API's. The seeded pairs are test/suggestions.spec.ts's (its table works
 * the figures out by hand): the source-citing principle ranks first with agreement 0.80.
 */
const env = testEnv('console_suggestions');
const SHOTS = screenshotsDir('amend-console-suggest-');
const UI_TIMEOUT = 60_000;

let stack: Stack;
let keys: Record<'author', string>;
let signIn: ConsoleFile['signIn'];
consoleForFile(env, { viewport: { width: 1440, height: 1000 }, timeoutMs: UI_TIMEOUT, keys: AUTHOR }, (file) => ({ stack, signIn, keys } = file));

describe('the Suggestions pages', () => {
  it('let an author start a set from a preference file and read the ranking', async () => {
    const { context, page } = await signIn(keys.author);
    await page.click('.topbar nav >> text=Suggestions');
    await page.waitForSelector('[data-testid=suggestions-table]');
    await page.click('text=Learn principles');
    await page.selectOption('[data-testid=suggest-constitution]', 'amend-core');
    await page.selectOption('[data-testid=suggest-source]', 'file');
    await page.setInputFiles('[data-testid=suggest-file]', {
      name: 'prefs.jsonl',
      mimeType: 'application/x-ndjson',
      buffer: Buffer.from(SEEDED.map((p) => JSON.stringify(p)).join('\n')),
    });
    await page.click('button:has-text("Start")');
    await page.waitForURL(/#\/suggestions\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;
    await page.waitForSelector('[data-testid=suggestions-ranking]');
    const set: SuggestionSet = await waitFor(async () => {
      const s = SuggestionSetSchema.parse(await json(await stack.fetch(`/v1/suggestions/${id}`, {}, keys.author)));
      return s.status === 'completed' ? s : undefined;
    });
    // By the hand table of test/suggestions.spec.ts: agreement 4/5, relevance 5/6, score (4-1)/6, four pairs explained.
    const first = page.locator('[data-rank="1"] td');
    expect(await first.allTextContents()).toEqual([
      '1',
      `${set.suggestions[0].principle.id}: ${set.suggestions[0].principle.comparison}`,
      '0.80',
      '0.83',
      '0.50',
      '4',
      `${set.suggestions[0].closest!.id} (${set.suggestions[0].closest!.similarity.toFixed(2)})`,
    ]);
    expect(set.suggestions[0].principle.comparison).toMatch(/cites/);
    expect(await page.locator('[data-testid=suggestions-ranking] tbody tr[data-rank]').count()).toBe(set.suggestions.length);
    // The first suggestion opens with its critique, revision, votes and examples, and the button.
    expect(await page.textContent('[data-testid=suggestions-ranking]')).toContain('4 agree, 1 disagree, 1 not applicable, 0 unreadable');
    expect(await page.locator('[data-testid=add-to-draft-1]').count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'suggestions.png'), fullPage: false });
    await context.close();
  });
});
