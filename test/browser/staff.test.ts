/**
 * The staff page in Chromium: sign in with the API key, the new visit form with its defaults and
 * the browser's time zone, a visit with a device, its links (host apart from guests, a QR code
 * each, copy to the clipboard with a spoken "Copied"), the visits list, validation next to the
 * fields, keyboard order, labels, and a phone-sized screen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { localDateTime } from '../../src/domain/local-time.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { BrowserHarness, open, screenshot, suiteOptions, until, visible } from './browser.js';

/** Functions given to page.evaluate run in the page; the project compiles without the DOM lib. */
declare const document: any, navigator: any, getComputedStyle: any;

const DEVICE = 'room1@example.room.wbx2.com';

describe('the staff page in a browser', suiteOptions, () => {
  let server: TestServer | undefined;
  let harness: BrowserHarness | undefined;
  let context: BrowserContext;
  let page: Page;
  /** The visit made in "create a visit", for the tests after it. */
  let visitPath = '';
  let subject = '';

  before(async () => {
    server = await startTestServer();
    harness = await BrowserHarness.launch(server.url);
    context = await harness.context({ timezoneId: 'America/New_York' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: harness.origin });
    page = await context.newPage();
  });

  after(async () => {
    try {
      await harness?.close();
    } finally {
      await server?.close();
    }
  });

  const url = (path: string) => `${server!.url}${path}`;

  /** Every visible form control has a name a screen reader reads: a label, aria-label or aria-labelledby. */
  async function unlabelled(p: Page): Promise<string[]> {
    return p.evaluate(() => {
      const missing: string[] = [];
      for (const el of document.querySelectorAll('input, select, textarea')) {
        if (el.tagName === 'INPUT' && el.type === 'hidden') continue;
        const byLabel = [...(el.labels ?? [])].some((l: any) => (l.textContent ?? '').trim() !== '');
        const byAria = (el.getAttribute('aria-label') ?? '').trim() !== '';
        const byIds = (el.getAttribute('aria-labelledby') ?? '')
          .split(/\s+/)
          .filter(Boolean)
          .some((id: string) => (document.getElementById(id)?.textContent ?? '').trim() !== '');
        if (!byLabel && !byAria && !byIds) missing.push(el.outerHTML.slice(0, 120));
      }
      return missing;
    });
  }

  /** How much the page is wider than the screen (0: no horizontal scroll). */
  const overflow = (p: Page) =>
    p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

  /** The id (or tag and text) of the focused element. */
  const focused = (p: Page) =>
    p.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return 'body';
      return el.id || `${el.tagName.toLowerCase()}:${(el.textContent ?? '').trim()}`;
    });

  test('sign in with the API key', async () => {
    await open(page, url('/'));
    await visible(page.getByRole('heading', { name: 'Sign in' }));
    assert.deepEqual(await unlabelled(page), [], 'every field of the sign-in page has a label');
    await screenshot(page, 'sign-in');

    // A wrong key: the message, and the field says it is invalid.
    await page.getByLabel('API key').fill('ick_not-a-key');
    await Promise.all([
      page.waitForURL(url('/session')),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await visible(page.getByRole('alert'));
    assert.match((await page.getByRole('alert').textContent()) ?? '', /not accepted/);
    assert.equal(await page.getByLabel('API key').getAttribute('aria-invalid'), 'true');

    await page.getByLabel('API key').fill(server!.key);
    await Promise.all([page.waitForURL(url('/')), page.getByRole('button', { name: 'Sign in' }).click()]);
    await visible(page.getByRole('heading', { name: 'New visit' }));
    const cookies = await context.cookies(harness!.origin);
    const session = cookies.find((c) => c.name === 'ic_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
  });

  test('the new visit form: defaults and the browser time zone', async () => {
    await open(page, url('/'));
    const before = Date.now();
    assert.equal(await page.getByLabel('Hosts', { exact: true }).inputValue(), '1');
    assert.equal(await page.getByLabel('Guests', { exact: true }).inputValue(), '1');
    assert.equal(await page.getByLabel('Duration', { exact: true }).inputValue(), '30');
    assert.equal(await page.getByLabel('Short links').isChecked(), true);
    assert.equal(await page.getByLabel('Subject').inputValue(), '');
    // The hidden field the form posts: the browser's zone, filled in by staff.js.
    assert.equal(
      await page.locator('input[type="hidden"][name="timeZone"]').inputValue(),
      'America/New_York',
    );
    assert.equal(await page.locator('[data-time-zone-name]').textContent(), 'America/New_York');
    // Starts now, in the browser's zone (the server only knows UTC).
    const start = await page.getByLabel('Start').inputValue();
    const nowThere = [before - 60_000, before, Date.now() + 60_000].map((ms) =>
      localDateTime(ms, 'America/New_York'),
    );
    assert.ok(nowThere.includes(start), `start ${start} is now in New York (${nowThere.join(', ')})`);
    assert.notEqual(start, localDateTime(before, 'UTC'), 'not the UTC time the server rendered');
    assert.deepEqual(await unlabelled(page), [], 'every field of the form has a label');
    await screenshot(page, 'dashboard-new-visit');
  });

  test('keyboard: a skip link first, then the form fields in order', async () => {
    await open(page, url('/'));
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'a:Skip to content', 'the first Tab reaches the skip link');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('href')), '#main');

    // Tab on from the top: the form fields come in reading order (a field with parts, like the
    // date and time, takes several presses but stays the same element).
    const order: string[] = [];
    for (let i = 0; i < 40 && order.at(-1) !== 'button:Create visit'; i++) {
      await page.keyboard.press('Tab');
      const now = await focused(page);
      if (order.at(-1) !== now) order.push(now);
    }
    const fields = [
      'subject',
      'start',
      'duration',
      'hosts',
      'guests',
      'devices',
      'recipients',
      'vertical',
      'alertTo',
      'shortUrls',
      'hostLogin',
    ];
    assert.deepEqual(
      order.filter((id) => fields.includes(id)),
      fields,
      `the fields in order; focus went ${order.join(' → ')}`,
    );
    assert.equal(order.at(-1), 'button:Create visit', 'the submit button after the fields');
    const firstField = order.indexOf('subject');
    assert.deepEqual(
      order.slice(firstField, firstField + fields.length),
      fields,
      'nothing in between the fields',
    );

    // The skip link skips the navigation: Enter on it, then Tab, lands on the first field.
    await open(page, url('/'));
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'subject', 'after the skip link, the first field');
  });

  test('create a visit with a device: host link apart, a QR code per link, copy buttons', async () => {
    subject = `Browser visit ${Date.now().toString(36)}`;
    await open(page, url('/'));
    await page.getByLabel('Subject').fill(subject);
    await page.getByLabel('Room devices').fill(DEVICE);
    await Promise.all([
      page.waitForURL(/\/visits\/[^/]+$/),
      page.getByRole('button', { name: 'Create visit' }).click(),
    ]);
    visitPath = new URL(page.url()).pathname;
    await visible(page.getByRole('heading', { level: 1, name: subject }));
    assert.equal(await page.locator('dl.facts code').textContent(), DEVICE, 'the device is listed');

    // The host link has its own section, apart from the guest links, and looks different.
    const hosts = page.locator('section.links-host');
    const guests = page.locator('section.links-guest');
    await visible(hosts);
    await visible(guests);
    assert.equal(await hosts.getByRole('heading', { level: 2 }).textContent(), 'Host link Host');
    assert.equal(await guests.getByRole('heading', { level: 2 }).textContent(), 'Guest link');
    assert.equal(await hosts.locator('article.link-card').count(), 1);
    assert.equal(await guests.locator('article.link-card').count(), 1);
    assert.equal(await hosts.locator('article.link-card.guest').count(), 0, 'no guest link among the hosts');
    assert.equal(await guests.locator('article.link-card.host').count(), 0, 'no host link among the guests');
    const look = (section: typeof hosts) =>
      section.evaluate((el) => {
        const s = getComputedStyle(el);
        return `${s.borderTopColor} ${s.borderTopWidth} ${s.backgroundColor}`;
      });
    assert.notEqual(await look(hosts), await look(guests), 'the host section is styled apart');

    // A QR code (an inline SVG) for each link, named for screen readers.
    for (const [section, name] of [
      [hosts, 'QR code of host link 1'],
      [guests, 'QR code of guest link 1'],
    ] as const) {
      const svg = section.locator('figure.qr svg');
      assert.equal(await svg.count(), 1);
      assert.equal(await svg.getAttribute('role'), 'img');
      assert.equal(await svg.getAttribute('aria-label'), name);
      const box = await svg.boundingBox();
      assert.ok(box && box.width > 100 && box.height > 100, `the QR code is drawn (${JSON.stringify(box)})`);
      assert.ok((await svg.locator('path').count()) > 0, 'the QR code has modules');
    }

    // Short links: /visit/<code> on this server, with Open going to the same URL.
    const guestUrl = await guests.locator('input.url').inputValue();
    const hostUrl = await hosts.locator('input.url').inputValue();
    assert.match(guestUrl, new RegExp(`^${server!.url}/visit/[A-Za-z0-9_-]+$`));
    assert.match(hostUrl, new RegExp(`^${server!.url}/visit/[A-Za-z0-9_-]+$`));
    assert.notEqual(guestUrl, hostUrl);
    assert.equal(await guests.getByRole('link', { name: /^Open/ }).getAttribute('href'), guestUrl);
    await screenshot(page, 'visit-detail');

    // Copy: the clipboard holds the guest's short URL, the button says so, and so does the live region.
    await visible(guests.getByRole('button', { name: 'Copy guest link 1', exact: true }));
    const copy = guests.locator('button.copy');
    await page.evaluate(() => navigator.clipboard.writeText('before'));
    await copy.click();
    await until(
      () => page.evaluate(() => navigator.clipboard.readText()),
      (text) => text === guestUrl,
      'the guest link on the clipboard',
    );
    assert.equal(await copy.locator('.copy-text').textContent(), 'Copied');
    const status = page.locator('#copy-status');
    assert.equal(await status.getAttribute('aria-live'), 'polite');
    await until(
      () => status.textContent(),
      (text) => text === 'Copied the guest link 1.',
      'the "Copied" announcement',
    );

    // The host's Copy copies the host link, not the guest's.
    await hosts.getByRole('button', { name: 'Copy host link 1', exact: true }).click();
    await until(
      () => page.evaluate(() => navigator.clipboard.readText()),
      (text) => text === hostUrl,
      'the host link on the clipboard',
    );
    assert.deepEqual(await unlabelled(page), [], 'the link fields are labelled');
  });

  test('the visits list shows it under Upcoming', async () => {
    assert.ok(visitPath, 'the visit of the test before');
    await open(page, url('/visits'));
    const tab = page.locator('nav.tabs a[aria-current="page"]');
    assert.equal(await tab.textContent(), 'Upcoming');
    const row = page.locator('table.visits tbody tr', { has: page.getByRole('link', { name: subject }) });
    await visible(row);
    assert.equal(await row.getByRole('link', { name: subject }).getAttribute('href'), visitPath);
    assert.equal(await row.locator('td[data-label="State"]').textContent(), 'open');
    assert.equal(await row.locator('td[data-label="Hosts"]').textContent(), '1');
    assert.equal(await row.locator('td[data-label="Guests"]').textContent(), '1');
    await screenshot(page, 'visits-upcoming');
  });

  test('validation messages next to the fields, the typed values kept', async () => {
    await open(page, url('/'));
    await page.getByLabel('Subject').fill('Kept subject');
    await page.getByLabel('Hosts', { exact: true }).fill('0');
    await page.getByLabel('Guests', { exact: true }).fill('0');
    await page.getByLabel('Duration', { exact: true }).fill('0');
    await page.getByLabel('Room devices').fill(`${DEVICE}\nnot a device`);
    const response = page.waitForResponse(
      (r) => r.url() === url('/visits') && r.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Create visit' }).click();
    assert.equal((await response).status(), 400);
    await visible(page.getByRole('heading', { name: 'The visit was not created' }));

    for (const [field, message] of [
      ['hosts', /both 0/],
      ['duration', /whole number of minutes/],
      ['devices', /Line 2 must be a SIP URI/],
    ] as const) {
      const error = page.locator(`#${field}-error`);
      await visible(error);
      assert.match((await error.textContent()) ?? '', message, field);
      // Next to its field: in the same field block, right after the control.
      const sameBlock = await page
        .locator(`#${field}`)
        .evaluate(
          (el, id) => el.closest('.field')?.contains(document.getElementById(id)) === true,
          `${field}-error`,
        );
      assert.ok(sameBlock, `the ${field} message is in the ${field} field`);
      assert.equal(await page.locator(`#${field}`).getAttribute('aria-invalid'), 'true', field);
      assert.match((await page.locator(`#${field}`).getAttribute('aria-describedby')) ?? '', /-error\b/);
    }
    assert.equal(await page.locator('#guests').getAttribute('aria-invalid'), null, 'guests alone is fine');
    // Nothing typed was lost.
    assert.equal(await page.getByLabel('Subject').inputValue(), 'Kept subject');
    assert.equal(await page.getByLabel('Hosts', { exact: true }).inputValue(), '0');
    assert.equal(await page.getByLabel('Guests', { exact: true }).inputValue(), '0');
    assert.equal(await page.getByLabel('Duration', { exact: true }).inputValue(), '0');
    assert.equal(await page.getByLabel('Room devices').inputValue(), `${DEVICE}\nnot a device`);
    assert.equal(await page.locator('input[name="timeZone"]').inputValue(), 'America/New_York');
    // The first field with a problem has the focus.
    assert.equal(await focused(page), 'duration');
    await screenshot(page, 'dashboard-validation');
  });

  test('a phone-sized screen: no horizontal scroll, labels everywhere', async () => {
    assert.ok(visitPath, 'the visit of the test before');
    const phone = await harness!.context({ viewport: { width: 375, height: 667 }, isMobile: true });
    const small = await phone.newPage();
    await open(small, url('/'));
    assert.ok(
      (await overflow(small)) <= 0,
      `the sign-in page scrolls sideways by ${await overflow(small)} px`,
    );
    await small.getByLabel('API key').fill(server!.key);
    await Promise.all([small.waitForURL(url('/')), small.getByRole('button', { name: 'Sign in' }).click()]);
    for (const path of ['/', '/visits', visitPath, `${visitPath}/cancel`]) {
      await open(small, url(path));
      const width = await small.evaluate(() => document.documentElement.clientWidth);
      assert.equal(width, 375, `${path} is laid out for the phone`);
      assert.ok((await overflow(small)) <= 0, `${path} scrolls sideways by ${await overflow(small)} px`);
      assert.deepEqual(await unlabelled(small), [], `${path}: every field has a label`);
    }
    await open(small, url(visitPath));
    await screenshot(small, 'visit-detail-phone');
  });

  test('no console error, CSP violation, or request away from the server', () => {
    harness!.assertClean();
  });
});
