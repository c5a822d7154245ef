import { join } from 'node:path';
import { ConstitutionSummarySchema, DraftSchema, EvaluationSchema } from '@amend/contracts';
import { AUTHOR, consoleForFile, screenshotsDir, type ConsoleFile } from './support/browser';
import { json, testEnv, type Stack } from './support/stack';

/**
 * The editor's Drafts panel in Debian's chromium against the real API: an author saves the text as
 * a draft, the API reads back the content typed (the expected content is written out here), a bad
 * version is refused with the server's error shown on the page, and the draft is published.
 */
const env = testEnv('console_drafts');
const SHOTS = screenshotsDir('amend-console-drafts-');
const UI_TIMEOUT = 60_000;

const YAML = `name: tutor-tone
version: 0.1.0
title: Tutor tone
description: How a tutor answers a learner.
changelog: First draft.
principles:
  - id: encourage
    critique: Does the response encourage the learner, or does it make them feel small?
    revision: Rewrite the response so that it encourages the learner.
`;

let stack: Stack;
let keys: Record<'author', string>;
let signIn: ConsoleFile['signIn'];
consoleForFile(env, { viewport: { width: 1440, height: 1000 }, timeoutMs: UI_TIMEOUT, keys: AUTHOR }, (file) => ({ stack, signIn, keys } = file));

describe('the editor Drafts panel', () => {
  it('saves the editor text as a draft, shows a refused publish, publishes the draft, then previews and evaluates it against that version', async () => {
    const { context, page } = await signIn(keys.author);
    await page.goto(`${stack.url}/console/#/constitutions/new`);
    const editor = page.locator('textarea[name=constitution-yaml]');
    await editor.fill(YAML);
    await page.waitForSelector('[data-testid=validation-ok]');
    await page.fill('input[name=draft-name]', 'kinder');
    await page.click('button:has-text("Save draft")');
    expect(await (await page.waitForSelector('[data-testid=draft-saved]')).textContent()).toContain('Saved new draft tutor-tone#kinder (0.1.0');
    await page.waitForSelector('[data-testid=drafts-list] >> text=kinder');

    const res = await stack.fetch('/v1/constitutions/tutor-tone/drafts/kinder', {}, keys.author);
    expect(res.status).toBe(200);
    const draft = DraftSchema.parse(await json(res));
    expect(draft).toMatchObject({ name: 'tutor-tone', draft: 'kinder', team: 'policy', version: '0.1.0', title: 'Tutor tone', principles: 1 });
    expect(draft.content).toMatchObject({
      name: 'tutor-tone',
      version: '0.1.0',
      title: 'Tutor tone',
      description: 'How a tutor answers a learner.',
      changelog: 'First draft.',
      principles: [
        {
          id: 'encourage',
          critique: 'Does the response encourage the learner, or does it make them feel small?',
          revision: 'Rewrite the response so that it encourages the learner.',
        },
      ],
    });

    // A version that is not x.y.z: the server's 422 (docs/errors.md) is shown on the page, and nothing is published.
    await page.fill('input[name=draft-version]', '1.0');
    await page.click('button:has-text("Publish draft")');
    const refused = await (await page.waitForSelector('[data-testid=draft-error]')).textContent();
    expect(refused).toContain('422 invalid_request: version: a semantic version');
    expect((await stack.fetch('/v1/constitutions/tutor-tone', {}, keys.author)).status).toBe(404);

    await page.fill('input[name=draft-version]', '1.0.0');
    await page.click('button:has-text("Publish draft")');
    expect(await (await page.waitForSelector('[data-testid=draft-published]')).textContent()).toContain('Published tutor-tone@1.0.0');
    expect(await page.locator('[data-testid=draft-error]').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'constitution-drafts.png'), fullPage: true });

    const summary = ConstitutionSummarySchema.parse(await json(await stack.fetch('/v1/constitutions/tutor-tone', {}, keys.author)));
    expect(summary.versions.map((v) => v.version)).toEqual(['1.0.0']);
    expect(summary.versions[0]).toMatchObject({ changelog: 'First draft.' });

    // On the published constitution's editor: open the draft from the list, preview it, and evaluate it against 1.0.0.
    await page.goto(`${stack.url}/console/#/constitutions/tutor-tone/edit`);
    await page.waitForSelector('[data-testid=validation-ok] >> text=tutor-tone@1.0.1');
    // Another constitution's editor starts afresh: no notice from the page before.
    expect(await page.locator('[data-testid=draft-published]').count()).toBe(0);
    await page.click('[data-testid=drafts-list] button:has-text("kinder")');
    await page.waitForSelector('[data-testid=validation-ok] >> text=tutor-tone@0.1.0');
    expect(await editor.inputValue()).toContain('critique: Does the response encourage the learner, or does it make them feel small?');
    await page.fill('textarea[name=draft-prompt]', 'Why is my answer to 7 x 8 wrong?');
    await page.click('button:has-text("Preview draft")');
    const preview = await (await page.waitForSelector('[data-testid=draft-preview]')).textContent();
    expect(preview).toMatch(/^completed \(simulator\): revised /);
    await page.click('button:has-text("Evaluate #kinder against 1.0.0")');
    const link = await (await page.waitForSelector('[data-testid=draft-evaluation] a')).getAttribute('href');
    const id = /#\/evaluations\/([0-9a-f-]{36})$/.exec(link!)![1];
    const evaluation = EvaluationSchema.parse(await json(await stack.fetch(`/v1/evaluations/${id}`, {}, keys.author)));
    expect(evaluation.baseline.constitution).toMatchObject({ name: 'tutor-tone', version: '1.0.0' });
    expect(evaluation.candidate.constitution).toMatchObject({ name: 'tutor-tone', version: '#kinder', sha256: draft.sha256 });
    expect(evaluation.progress.total).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'constitution-drafts-evaluate.png'), fullPage: true });
    await context.close();
  });
});
