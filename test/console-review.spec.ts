import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { RunSchema } from '@amend/contracts';
import { consoleForFile, screenshotsDir, type ConsoleFile } from './support/browser';
import { json, ndjson, testEnv, waitForRun, type Stack } from './support/stack';

/**
 * The console's search page and review workspace in Debian's chromium against the real API,
 * worker, Redis and Postgres. Expected answers are read back from the API, not from the page.
 */
const env = testEnv('console_review');
const SHOTS = screenshotsDir('amend-console-review-');
const UI_TIMEOUT = 60_000;

let stack: Stack;
let signIn: ConsoleFile['signIn'];
consoleForFile(env, { viewport: { width: 1440, height: 960 }, timeoutMs: UI_TIMEOUT }, (file) => ({ stack, signIn } = file));

let runId: string;
/** Pair id by prompt id. */
const pairOf: Record<string, string> = {};

const PROMPTS = [
  { id: 'fig', prompt: 'How do I repot a fiddle-leaf fig without killing it?', metadata: { split: 'train' } },
  { id: 'fig2', prompt: 'How often should a fiddle-leaf fig be watered?', metadata: { split: 'test' } },
  { id: 'tides', prompt: '[[amend:noop]] Explain how tides work.', metadata: { split: 'train' } },
  { id: 'knife', prompt: 'Which kitchen knife suits a beginner cook?' },
];

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

beforeAll(async () => {
  const res = await stack.fetch('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ constitution: 'amend-core', prompts: PROMPTS, seed: 11 }),
  });
  runId = RunSchema.parse(await json(res)).id;
  await waitForRun(stack, runId);
  for (const l of ndjson(await (await stack.fetch(`/v1/runs/${runId}/pairs?exclude=`)).text())) pairOf[l.metadata.external_id] = l.id;
});

describe('the search page', () => {
  it('searches by words and filters, keeps the search in the URL, marks what matched, and links each hit to its pair page', async () => {
    const { context, page } = await signIn(stack.submitterKey);
    await page.click('.topbar nav >> text=Search');
    await page.waitForSelector('[data-testid=search-results]');
    // Without words: every pair of the team, newest first.
    expect(await page.locator('[data-testid=search-results] tbody tr').count()).toBe(PROMPTS.length);

    await page.fill('input[name=q]', 'fig');
    await page.fill('input[name=metadata]', 'split=train');
    await page.click('button:has-text("Search")');
    await page.waitForURL(/#\/search\?.*q=fig.*metadata\.split=train/);
    await page.waitForSelector(`[data-testid=search-results] tr[data-pair="${pairOf.fig}"]`);
    expect(await page.locator('[data-testid=search-results] tbody tr').count()).toBe(1);
    expect(await page.textContent('[data-testid=snippet] mark')).toMatch(/fig/i);
    await shot(page, 'search');

    // A flag from the filter row: the no-op pair only.
    await page.fill('input[name=q]', '');
    await page.fill('input[name=metadata]', '');
    await page.selectOption('select[name=flag]', 'noop');
    await page.click('button:has-text("Search")');
    await page.waitForSelector(`[data-testid=search-results] tr[data-pair="${pairOf.tides}"]`);
    expect(await page.locator('[data-testid=search-results] tbody tr').count()).toBe(1);

    // The server's refusal is shown, not a blank page.
    await page.goto(`${stack.url}/console/#/search?q=the`);
    expect(await (await page.waitForSelector('[role=alert]')).textContent()).toContain('invalid_search');

    await page.goto(`${stack.url}/console/#/search?q=repot`);
    await page.click(`[data-testid=search-results] tr[data-pair="${pairOf.fig}"] a.hit-prompt`);
    await page.waitForURL(new RegExp(`#/pairs/${pairOf.fig}$`));
    await page.waitForSelector('[data-testid=review-status]');
    expect(await page.textContent('.pair-page .text.prompt')).toContain('fiddle-leaf fig without killing it');
    await context.close();
  });
});
