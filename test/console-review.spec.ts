import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { PairReviewDetailSchema, RunSchema } from '@amend/contracts';
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

describe('the review workspace', () => {
  let reviewRun: string;
  let ann: { key: string; id: string };
  let bo: { key: string; id: string };
  const reviewer = async () => {
    const key = await stack.mintKey('reviewer', 'default');
    return { key, id: (await json(await stack.fetch('/v1/keys/me', {}, key))).id as string };
  };
  /** A key's own latest review of each pair: decision and texts, as the API has them. */
  async function decisionsOf(keyId: string, pairs: string[]) {
    const out: Record<string, { decision: string; chosen: string; reason: string }> = {};
    for (const id of pairs) {
      const detail = PairReviewDetailSchema.parse(await json(await stack.fetch(`/v1/pairs/${id}/review`)));
      const mine = detail.history.filter((h) => h.reviewer_key_id === keyId).pop();
      if (mine) out[id] = { decision: mine.decision, chosen: mine.chosen, reason: mine.reason };
    }
    return out;
  }
  const workspacePair = async (page: Page, not?: string) =>
    (await page.waitForSelector(`[data-testid=workspace][data-decided=""]${not ? `:not([data-pair="${not}"])` : ''}`)).getAttribute(
      'data-pair',
    ) as Promise<string>;

  beforeAll(async () => {
    const res = await stack.fetch('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        constitution: 'amend-core',
        prompts: ['Name a hardy houseplant.', 'How do I descale a kettle?', 'Plan a rainy-day picnic.', 'What is a good first bicycle?'],
        seed: 5,
        review: { per_pair: 2 },
      }),
    });
    reviewRun = RunSchema.parse(await json(res)).id;
    await waitForRun(stack, reviewRun);
    ann = await reviewer();
    bo = await reviewer();
  });

  it('takes a reviewer through the queue from the keyboard: accept, reject, swap, edit, next, each decision landing through the API', async () => {
    const { context, page } = await signIn(ann.key);
    expect(await page.locator('.topbar nav a').allTextContents()).toEqual(['Runs', 'Search']);
    await page.goto(`${stack.url}/console/#/runs/${reviewRun}`);
    await page.click('[data-testid=workspace-link]');
    await page.waitForURL(new RegExp(`#/runs/${reviewRun}/review$`));

    // 1. Reason first, then Esc and `a`.
    const p1 = await workspacePair(page);
    await page.fill('textarea[name=reason]', 'clear and safe');
    await page.press('textarea[name=reason]', 'Escape');
    await page.keyboard.press('a');
    await page.waitForSelector(`[data-testid=workspace][data-pair="${p1}"][data-decided=accept]`);
    // `n` before deciding does nothing but say why; after, it moves on.
    await page.keyboard.press('n');
    // 2. `r` first: the page asks for the reason, Enter sends it.
    const p2 = await workspacePair(page, p1);
    await page.keyboard.press('r');
    await page.waitForSelector('textarea[name=reason]:focus');
    await page.keyboard.type('off topic');
    await page.keyboard.press('Enter');
    await page.waitForSelector(`[data-testid=workspace][data-pair="${p2}"][data-decided=reject]`);
    await page.keyboard.press('n');
    // 3. swap.
    const p3 = await workspacePair(page, p2);
    await page.keyboard.press('n');
    expect(await page.textContent('.workspace .notice')).toContain('Decide on this pair first');
    expect(await page.getAttribute('[data-testid=workspace]', 'data-pair')).toBe(p3);
    await page.fill('textarea[name=reason]', 'the draft was better');
    await page.press('textarea[name=reason]', 'Escape');
    await page.keyboard.press('s');
    await page.waitForSelector(`[data-testid=workspace][data-pair="${p3}"][data-decided=swap]`);
    await shot(page, 'review-workspace');
    await page.keyboard.press('n');
    // 4. edit: the texts become boxes; Enter in the reason box saves.
    const p4 = await workspacePair(page, p3);
    await page.keyboard.press('e');
    await page.fill('textarea[name=edit-chosen]', 'A snake plant: it takes low light and little water.');
    await page.fill('textarea[name=reason]', 'tightened the answer');
    await page.press('textarea[name=reason]', 'Enter');
    await page.waitForSelector(`[data-testid=workspace][data-pair="${p4}"][data-decided=edit]`);
    await page.keyboard.press('n');
    await page.waitForSelector('[data-testid=queue-empty]');
    // Progress per reviewer: this key reviewed 4 pairs.
    await page.waitForSelector(`[data-testid=reviewer-progress] tr.selected td.reviewed:text-is("4")`);

    expect(new Set([p1, p2, p3, p4]).size).toBe(4);
    const landed = await decisionsOf(ann.id, [p1, p2, p3, p4]);
    expect(Object.fromEntries(Object.entries(landed).map(([id, d]) => [id, [d.decision, d.reason]]))).toEqual({
      [p1]: ['accept', 'clear and safe'],
      [p2]: ['reject', 'off topic'],
      [p3]: ['swap', 'the draft was better'],
      [p4]: ['edit', 'tightened the answer'],
    });
    expect(landed[p4].chosen).toBe('A snake plant: it takes low light and little water.');
    await context.close();
  });

  it('shows where reviewers disagree: both decisions and reasons side by side, from the agreement endpoint', async () => {
    // The second reviewer accepts every pair over the API: it disagrees with the first on the reject, the swap and the edit.
    for (;;) {
      const res = await stack.fetch(`/v1/runs/${reviewRun}/review-queue/next`, {}, bo.key);
      if (res.status === 204) break;
      expect(res.status).toBe(200);
      const { pair } = await json(res);
      const post = await stack.fetch(
        `/v1/pairs/${pair.id}/review`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decision: 'accept', reason: 'looks fine to me' }) },
        bo.key,
      );
      expect(post.status).toBe(201);
    }
    const annDecisions = await decisionsOf(ann.id, Object.keys(await decisionsOf(bo.id, await pairIds(reviewRun))));
    const expected = Object.entries(annDecisions)
      .filter(([, d]) => d.decision !== 'accept')
      .map(([id]) => id)
      .sort();
    expect(expected).toHaveLength(3);

    const { context, page } = await signIn(stack.submitterKey);
    await page.goto(`${stack.url}/console/#/runs/${reviewRun}/review/disagreements`);
    await page.waitForSelector('[data-testid=disagreements]');
    const shown = (await page.locator('.disagreement').evaluateAll((els) => els.map((e) => e.getAttribute('data-pair')))).sort();
    expect(shown).toEqual(expected);
    const rejected = expected.find((id) => annDecisions[id].decision === 'reject')!;
    const sides = await page.locator(`.disagreement[data-pair="${rejected}"] .side`).allTextContents();
    expect(sides).toHaveLength(2);
    expect(sides.join(' | ')).toContain('reject');
    expect(sides.join(' | ')).toContain('off topic');
    expect(sides.join(' | ')).toContain('looks fine to me');
    await shot(page, 'disagreements');
    await context.close();
  });
});

async function pairIds(run: string): Promise<string[]> {
  return ndjson(await (await stack.fetch(`/v1/runs/${run}/pairs?exclude=`)).text()).map((l) => l.id as string);
}
