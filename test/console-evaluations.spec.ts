import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { EvaluationSchema, RUBRIC_DIMENSIONS, type Evaluation } from '@amend/contracts';
import { AUTHOR, consoleForFile, screenshotsDir, type ConsoleFile } from './support/browser';
import { json, testEnv, type Stack } from './support/stack';

/**
 * The console's Evaluations pages in Debian's chromium against the real API, worker, Redis and
 * Postgres: an author starts an evaluation from the form (cost first), and the report shows as a
 * forest plot of win rates with intervals (recharts), refusal rates side by side, and the most
 * different prompts with a word diff; every number on the page is the API's.
 */
const env = testEnv('console_evaluations');
const SHOTS = screenshotsDir('amend-console-eval-');
const UI_TIMEOUT = 90_000;

let stack: Stack;
let keys: Record<'author' | 'auditor' | 'submitter', string>;
let signInAs: ConsoleFile['signIn'];
consoleForFile(
  env,
  {
    viewport: { width: 1440, height: 1100 },
    timeoutMs: UI_TIMEOUT,
    keys: { ...AUTHOR, auditor: ['auditor', 'audit'], submitter: ['submitter', 'ml'] },
  },
  (file) => ({ stack, signIn: signInAs, keys } = file),
);

async function signIn(key: string): Promise<Page> {
  return (await signInAs(key)).page;
}

describe('the Evaluations pages', () => {
  let evaluation: Evaluation;

  it('let an author see the cost, start an evaluation, and read its report as pictures', async () => {
    const page = await signIn(keys.author);
    expect(await page.locator('.topbar nav a').allTextContents()).toEqual(['Constitutions', 'Evaluations', 'Suggestions']);
    await page.click('.topbar nav >> text=Evaluations');
    await page.waitForSelector('[data-testid=evaluations-table]');
    await page.click('text=New evaluation');
    await page.selectOption('select[aria-label=baseline]', 'amend-core@1.0.0');
    await page.selectOption('select[aria-label=candidate]', 'anthropic-cai@1.0.0');
    await page.selectOption('select[aria-label=set]', 'amend-edge');
    await page.fill('input[aria-label=limit]', '8');
    // Start stays off until the cost has been shown.
    expect(await page.isDisabled('text=Start evaluation')).toBe(true);
    await page.click('text=Show cost');
    const estimate = await (await page.waitForSelector('[data-testid=estimate]')).textContent();
    expect(estimate).toContain('8 prompts (4 red-team, 4 benign)');
    expect(estimate).toContain(`${8 * 5 + 4 * 14 + 4 * 12} calls`);
    await page.click('text=Start evaluation');
    await page.waitForURL(/#\/evaluations\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;
    await page.waitForSelector('[data-testid=evaluation-progress]');
    // The page polls until the report is there.
    await page.waitForSelector('[data-testid=forest-plot] svg');
    evaluation = EvaluationSchema.parse(await json(await stack.fetch(`/v1/evaluations/${id}`, {}, keys.author)));
    const report = evaluation.report!;

    // The forest plot: one row per dimension, each with its interval as an error bar, 0.5 marked.
    // Recharts draws the axes once it has measured its container: wait for the last tick.
    await page.waitForSelector('[data-testid=forest-plot] .recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value >> text=over-refusal');
    await page.waitForSelector('[data-testid=refusal-chart] .recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value >> text=benign');
    const ticks = await page.locator('[data-testid=forest-plot] .recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value').allTextContents();
    expect(ticks).toEqual([...RUBRIC_DIMENSIONS]);
    expect(await page.locator('[data-testid=forest-plot] .recharts-errorBar').count()).toBe(7);
    expect(await page.locator('[data-testid=forest-plot] .recharts-scatter-symbol').count()).toBe(7);
    expect(await page.locator('[data-testid=forest-plot] .recharts-reference-line').count()).toBe(1);
    for (const d of report.dimensions) {
      const row = (await page.textContent(`[data-testid=dimension-table] tr[data-dimension="${d.dimension}"]`))!;
      expect(row).toContain(d.win_rate!.toFixed(3));
      expect(row).toContain(`[${d.ci95![0].toFixed(3)}, ${d.ci95![1].toFixed(3)}]`);
      expect(row).toContain(String(d.n));
    }

    // Refusal rates side by side: a bar chart with both sides, and the numbers behind it.
    const legend = await page.locator('[data-testid=refusal-chart] .recharts-legend-item-text').allTextContents();
    expect(legend).toEqual(['baseline', 'candidate']);
    expect(await page.locator('[data-testid=refusal-chart] .recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value').allTextContents()).toEqual([
      'red-team',
      'benign',
    ]);
    const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
    const red = (await page.textContent('[data-testid=refusal-table] tr[data-kind=red_team]'))!;
    expect(red).toContain(String(report.refusals.red_team.n));
    expect(red).toContain(pct(report.refusals.red_team.baseline));

    // The most different prompts: both answers as the API has them, and a word diff between them.
    expect(report.most_different.length).toBeGreaterThan(0);
    const first = report.most_different[0];
    const card = page.locator(`[data-testid=most-different] article[data-index="${first.index}"]`);
    expect(await card.locator('[data-side=baseline]').textContent()).toBe(first.baseline);
    expect(await card.locator('[data-side=candidate]').textContent()).toBe(first.candidate);
    expect(await card.locator('.diff ins, .diff del').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid=most-different] article').count()).toBe(report.most_different.length);
    await page.screenshot({ path: join(SHOTS, 'evaluation.png'), fullPage: false });
    await page.context().close();
  });

  it('shows auditors every team’s evaluations and gives submitters no Evaluations page', async () => {
    const page = await signIn(keys.auditor);
    await page.click('.topbar nav >> text=Evaluations');
    await page.waitForSelector(`[data-testid=evaluations-table] a[href="#/evaluations/${evaluation.id}"]`);
    expect(await page.locator('text=New evaluation').count()).toBe(0);
    await page.context().close();
    const other = await signIn(keys.submitter);
    expect(await other.locator('.topbar nav a').allTextContents()).toEqual(['Runs', 'Search', 'Constitutions']);
    await other.context().close();
  });
});
