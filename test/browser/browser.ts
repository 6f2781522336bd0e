/**
 * The browser tests' harness: Debian's Chromium driven by playwright-core (never a downloaded
 * browser), the skip rule (skipped with a clear message where Chromium is missing, a failure in
 * CI), contexts that record console errors, page errors, CSP violations and every request, bounded
 * waits, and screenshots under artifacts/screenshots/ (git-ignored).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Locator,
  type Page,
  type Response,
} from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const SKIP_MESSAGE = `Chromium not found at ${CHROMIUM_PATH}: browser tests skipped (apt-get install chromium)`;

/** Every wait of these tests is bounded by this (milliseconds). */
const WAIT = 5000;

const SCREENSHOTS = fileURLToPath(new URL('../../artifacts/screenshots/', import.meta.url));

export type ChromiumPlan =
  | { kind: 'run' }
  | { kind: 'skip'; message: string }
  | { kind: 'fail'; message: string };

/** Run, skip (Chromium missing), or fail (Chromium missing in CI, where these tests must run). */
export function chromiumPlan(
  path: string = CHROMIUM_PATH,
  env: Record<string, string | undefined> = process.env,
): ChromiumPlan {
  if (existsSync(path)) return { kind: 'run' };
  const message = `Chromium not found at ${path}: browser tests skipped (apt-get install chromium)`;
  if (env['CI']) {
    return {
      kind: 'fail',
      message: `${message.replace(': browser tests skipped', '')}; CI is set, so the browser tests must run, not be skipped`,
    };
  }
  return { kind: 'skip', message };
}

const plan = chromiumPlan();

/** The options of each browser suite's `describe`: skipped, with the message, when Chromium is missing. */
export const suiteOptions: { skip?: string } = plan.kind === 'skip' ? { skip: plan.message } : {};

const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Reports every CSP violation as a console error (so the console watcher sees it even if the
 * browser's own report changes). Runs before the page's scripts, in every frame.
 */
const CSP_REPORTER = `document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' on ' + e.documentURI);
});`;

export interface Problem {
  where: string;
  text: string;
}

/** One Chromium for a test file, with the contexts it opened and what they recorded. */
export class BrowserHarness {
  /** Console errors, page errors (uncaught exceptions) and CSP violations. */
  readonly problems: Problem[] = [];
  /** Every request any page made. */
  readonly requests: string[] = [];
  readonly #contexts: BrowserContext[] = [];
  /**
   * `status url` of every page (document) the server answered with an error status on purpose
   * (a wrong key, a form with errors, a cancelled or expired link): Chromium logs each as
   * "Failed to load resource", which is not a problem of the page.
   */
  readonly #errorDocuments = new Set<string>();

  private constructor(
    readonly browser: Browser,
    /** The test server's origin, e.g. http://127.0.0.1:41234 */
    readonly origin: string,
  ) {}

  static async launch(origin: string): Promise<BrowserHarness> {
    if (plan.kind === 'fail') assert.fail(plan.message);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: LAUNCH_ARGS,
      timeout: 15_000,
    });
    return new BrowserHarness(browser, new URL(origin).origin);
  }

  /** A fresh context (its own cookies: another person) that records problems and requests. */
  async context(options: BrowserContextOptions = {}): Promise<BrowserContext> {
    const context = await this.browser.newContext({
      locale: 'en-US',
      timezoneId: 'America/New_York',
      ...options,
    });
    this.#contexts.push(context);
    context.setDefaultTimeout(WAIT);
    context.setDefaultNavigationTimeout(WAIT);
    await context.addInitScript({ content: CSP_REPORTER });
    context.on('request', (request) => {
      this.requests.push(request.url());
    });
    // Nothing leaves this machine: a request elsewhere is recorded above, then refused here.
    await context.route(
      (url) => url.origin !== this.origin,
      (route) => route.abort('blockedbyclient'),
    );
    context.on('response', (response) => {
      if (response.request().resourceType() === 'document' && response.status() >= 400) {
        this.#errorDocuments.add(`${response.status()} ${response.url()}`);
      }
    });
    context.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      const status = /^Failed to load resource: the server responded with a status of (\d{3}) /.exec(
        text,
      )?.[1];
      if (status && this.#errorDocuments.has(`${status} ${message.location().url}`)) return;
      this.problems.push({ where: message.page()?.url() ?? '(no page)', text });
    });
    context.on('weberror', (error) => {
      this.problems.push({ where: error.page()?.url() ?? '(no page)', text: String(error.error()) });
    });
    return context;
  }

  /** A new page in a fresh context. */
  async page(options: BrowserContextOptions = {}): Promise<Page> {
    return (await this.context(options)).newPage();
  }

  /** Requests that went anywhere but this server (data: and blob: URLs are the page's own). */
  outsideRequests(): string[] {
    return this.requests.filter(
      (url) => !(url.startsWith(`${this.origin}/`) || url.startsWith('data:') || url.startsWith('blob:')),
    );
  }

  /** No console error, page error or CSP violation, and no request left 127.0.0.1. */
  assertClean(): void {
    assert.deepEqual(this.problems, [], 'console errors, page errors or CSP violations');
    assert.deepEqual(this.outsideRequests(), [], `requests that left ${this.origin}`);
    assert.ok(this.requests.length > 0, 'the pages made requests (the recorder works)');
  }

  async close(): Promise<void> {
    for (const context of this.#contexts.splice(0)) await context.close().catch(() => {});
    await this.browser.close();
  }
}

/** A full-page screenshot in artifacts/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true, timeout: WAIT });
}

/** Navigates and checks the status the server answered (after redirects). */
export async function open(page: Page, url: string, status = 200): Promise<Response> {
  const response = await page.goto(url, { waitUntil: 'load' });
  assert.ok(response, `no response for ${url}`);
  assert.equal(response.status(), status, `${url} answered ${response.status()}`);
  return response;
}

/** Waits until the locator is visible (bounded). */
export async function visible(locator: Locator, timeout = WAIT): Promise<Locator> {
  await locator.waitFor({ state: 'visible', timeout });
  return locator;
}

/** Waits until `read` gives a value `ok` accepts, polling (bounded); fails with the last value. */
export async function until<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  what: string,
  timeout = WAIT,
): Promise<T> {
  const deadline = Date.now() + timeout;
  let last = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await read();
  }
  return last;
}
