import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT, cleanup, startStack, type KeyRole, type Stack } from './stack';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Debian's chromium, headless, as root in a container: no sandbox, no GPU, and none of the
 * background connections (updates, sync, QUIC probes) a closed network refuses. Playwright adds
 * its own headless flags and a new, empty profile folder for each launch.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * `npm test` builds the console first; a test file run on its own builds it here when the build
 * is missing or older than the console's sources or the contracts it bundles.
 */
export function ensureConsoleBuilt(): void {
  const index = join(ROOT, 'apps/console/dist/index.html');
  const sources = Math.max(
    newestMtime(join(ROOT, 'apps/console/src')),
    statSync(join(ROOT, 'apps/console/index.html')).mtimeMs,
    newestMtime(join(ROOT, 'libs/contracts/src')),
    newestMtime(join(ROOT, 'libs/constitution/src')),
  );
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  const build = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'apps/console/vite.config.mts', '--logLevel', 'warn'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  if (build.status !== 0) throw new Error(`console build failed:\n${build.stdout}\n${build.stderr}`);
}

/** Where a console test saves its pages: AMEND_SCREENSHOTS (npm run screenshots, for docs/console.md), else a new temporary folder. */
export function screenshotsDir(prefix: string): string {
  const dir = process.env.AMEND_SCREENSHOTS ? join(ROOT, process.env.AMEND_SCREENSHOTS) : mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A fresh browser context (its own session storage) on the console at `url`, signed in with `key`.
 * Uncaught page errors go to `onPageError`; `beforeSubmit` runs with the key typed in (a screenshot of the sign-in page).
 */
export async function signInToConsole(
  browser: Browser,
  url: string,
  key: string,
  opts: {
    viewport: { width: number; height: number };
    timeoutMs: number;
    onPageError: (message: string) => void;
    acceptDownloads?: boolean;
    beforeSubmit?: (page: Page) => Promise<void>;
  },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: opts.viewport, ...(opts.acceptDownloads && { acceptDownloads: true }) });
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeoutMs);
  page.on('pageerror', (e) => opts.onPageError(`${e.name}: ${e.message}`));
  await page.goto(`${url}/console/`);
  await page.fill('input[name=key]', key);
  await opts.beforeSubmit?.(page);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=identity] .role');
  return { context, page };
}

type SignInOptions = Parameters<typeof signInToConsole>[3];

/** What a console test file works with: its stack, and a sign-in that opens a fresh context per call. */
export interface ConsoleFile {
  stack: Stack;
  signIn(key: string, more?: Pick<SignInOptions, 'beforeSubmit'>): Promise<{ context: BrowserContext; page: Page }>;
}

/** consoleForFile's `keys` for a spec that works as one policy author. */
export const AUTHOR: Record<'author', [KeyRole, string]> = { author: ['author', 'policy'] };

/**
 * The frame of a console test file: the console built, a stack and chromium started before its
 * tests and closed after them, and each test ending by expecting no uncaught error in any page.
 * `keys` names the keys to mint first, each as [role, team]. `set` receives the stack, the
 * sign-in and those keys; a file's own beforeAll (declared after) runs next.
 */
export function consoleForFile<K extends string = never>(
  env: Record<string, string>,
  { keys, ...opts }: Omit<SignInOptions, 'onPageError' | 'beforeSubmit'> & { keys?: Record<K, [role: KeyRole, team: string]> },
  set: (file: ConsoleFile & { keys: Record<K, string> }) => void,
): void {
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  let pageErrors: string[] = [];
  beforeAll(async () => {
    ensureConsoleBuilt();
    const started = await startStack(env);
    stack = started;
    const launched = await launchBrowser();
    browser = launched;
    const minted = {} as Record<K, string>;
    for (const [name, [role, team]] of Object.entries(keys ?? {}) as [K, [KeyRole, string]][]) minted[name] = await started.mintKey(role, team);
    set({
      keys: minted,
      stack: started,
      signIn: (key, more = {}) => signInToConsole(launched, started.url, key, { ...opts, ...more, onPageError: (e) => pageErrors.push(e) }),
    });
  });
  beforeEach(() => {
    pageErrors = [];
  });
  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await cleanup(env);
  });
}
