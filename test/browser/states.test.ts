/**
 * The pages a link opens outside a live visit, in Chromium: cancelled from the staff page (and an
 * open lobby switching to it live), not yet valid (the opening time in the visitor's zone, a
 * ticking countdown, and the page that lets itself in when the window opens), expired, and a
 * tampered link. The harness itself is checked too: it must see what it is meant to catch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.js';
import { createVisit, getVisit, type Visit } from '../visits/helpers.js';
import {
  BrowserHarness,
  CHROMIUM_PATH,
  chromiumPlan,
  open,
  SKIP_MESSAGE,
  screenshot,
  suiteOptions,
  until,
  visible,
} from './browser.js';

/** Functions given to page.evaluate run in the page; the project compiles without the DOM lib. */
declare const document: any, window: any;

describe('the skip rule', () => {
  test('no Chromium: skipped with a clear message, outside CI', () => {
    assert.equal(
      SKIP_MESSAGE,
      'Chromium not found at /usr/bin/chromium: browser tests skipped (apt-get install chromium)',
    );
    assert.equal(CHROMIUM_PATH, '/usr/bin/chromium');
    assert.deepEqual(chromiumPlan('/nonexistent/chromium', {}), {
      kind: 'skip',
      message:
        'Chromium not found at /nonexistent/chromium: browser tests skipped (apt-get install chromium)',
    });
  });

  test('no Chromium in CI: a failure, never a skip', () => {
    for (const ci of ['true', '1']) {
      const plan = chromiumPlan('/nonexistent/chromium', { CI: ci });
      assert.equal(plan.kind, 'fail', `CI=${ci}`);
      assert.match((plan as { message: string }).message, /not found at \/nonexistent\/chromium/);
      assert.match((plan as { message: string }).message, /CI is set/);
    }
  });

  test('Chromium present: the tests run, in CI or not', () => {
    // Any existing file stands for the browser here.
    assert.deepEqual(chromiumPlan(process.execPath, {}), { kind: 'run' });
    assert.deepEqual(chromiumPlan(process.execPath, { CI: 'true' }), { kind: 'run' });
  });
});

describe('link states in a browser', suiteOptions, () => {
  let server: TestServer | undefined;
  let harness: BrowserHarness | undefined;
  /** Made first, so its wait overlaps the other tests. */
  let expiring: Visit;

  before(async () => {
    server = await startTestServer();
    harness = await BrowserHarness.launch(server.url);
    expiring = await createVisit(server, { subject: `Expires soon ${Date.now()}`, ttl: 3 });
  });

  after(async () => {
    try {
      await harness?.close();
    } finally {
      await server?.close();
    }
  });

  const url = (path: string) => `${server!.url}${path}`;
  const marker = (p: Page) => p.evaluate(() => window.__marker as number | undefined);
  const overflow = (p: Page) =>
    p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

  test('cancelled from the staff page: the open lobby switches live, the link then says cancelled', async () => {
    const visit = await createVisit(server!, { subject: `To cancel ${Date.now()}` });
    const guest = await harness!.page();
    await open(guest, visit.guests[0]!.shortUrl!);
    await visible(guest.getByRole('heading', { name: 'Waiting for the host' }));
    await guest.evaluate(() => {
      window.__marker = 1;
    });

    const staff = await harness!.page();
    await open(staff, url('/'));
    await staff.getByLabel('API key').fill(server!.key);
    await Promise.all([staff.waitForURL(url('/')), staff.getByRole('button', { name: 'Sign in' }).click()]);
    await open(staff, url(`/visits/${visit.id}`));

    // "No, keep it" changes nothing.
    await Promise.all([
      staff.waitForURL(url(`/visits/${visit.id}/cancel`)),
      staff.getByRole('link', { name: 'Cancel visit' }).click(),
    ]);
    await visible(staff.getByRole('heading', { name: 'Cancel this visit?' }));
    await Promise.all([
      staff.waitForURL(url(`/visits/${visit.id}`)),
      staff.getByRole('link', { name: 'No, keep it' }).click(),
    ]);
    assert.equal((await getVisit(server!, visit.id)).state, 'waiting', 'the guest waits in the lobby');

    await Promise.all([
      staff.waitForURL(url(`/visits/${visit.id}/cancel`)),
      staff.getByRole('link', { name: 'Cancel visit' }).click(),
    ]);
    await visible(staff.getByRole('heading', { name: 'Cancel this visit?' }));
    assert.match((await staff.locator('main').textContent()) ?? '', /Its links stop working at once/);
    await screenshot(staff, 'cancel-confirmation');
    await Promise.all([
      staff.waitForURL(url(`/visits/${visit.id}`)),
      staff.getByRole('button', { name: 'Yes, cancel the visit' }).click(),
    ]);
    assert.equal(await staff.locator('dl.facts .state').textContent(), 'cancelled');
    assert.equal(await staff.getByRole('link', { name: 'Cancel visit' }).count(), 0, 'no second cancel');
    assert.equal((await getVisit(server!, visit.id)).state, 'cancelled');

    // The guest's open page hears it at once, without a reload.
    await visible(guest.getByRole('heading', { name: 'This visit was cancelled' }));
    assert.equal(await guest.locator('[data-section="lobby"]').isVisible(), false);
    assert.equal(await guest.getByRole('button', { name: 'Leave' }).isVisible(), false);
    assert.equal(await marker(guest), 1, 'the same page');

    // Opened again, the link says so (410).
    const fresh = await harness!.page();
    await open(fresh, visit.guests[0]!.shortUrl!, 410);
    await visible(fresh.getByRole('heading', { name: 'This visit was cancelled' }));
    await screenshot(fresh, 'cancelled');
    await open(fresh, visit.hosts[0]!.shortUrl!, 410);
    await visible(fresh.getByRole('heading', { name: 'This visit was cancelled' }));
  });

  test('not yet valid: when it opens, in the visitor’s zone, with a ticking countdown', async () => {
    const visit = await createVisit(server!, { subject: `Later ${Date.now()}`, start: '+2h' });
    const opens = visit.notBefore!;
    assert.ok(opens > Date.now() / 1000 + 7000, 'the window opens in two hours');
    const page = await harness!.page({ timezoneId: 'America/New_York' });
    await open(page, visit.guests[0]!.shortUrl!, 403);
    await visible(page.getByRole('heading', { name: 'This visit has not started yet' }));

    // The opening time, as the visitor's browser tells it (New York), not the server's UTC.
    const shown = (p: Page) => p.locator('time[data-local]').textContent();
    const expected = (timeZone: string) =>
      new Date(opens * 1000).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone });
    const spaces = (text: string | null) => (text ?? '').replace(/\s/g, ' ');
    assert.equal(spaces(await shown(page)), spaces(expected('America/New_York')));
    assert.equal(
      await page.locator('time[data-local]').getAttribute('datetime'),
      new Date(opens * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    );
    const tokyo = await harness!.page({ timezoneId: 'Asia/Tokyo' });
    await open(tokyo, visit.guests[0]!.shortUrl!, 403);
    assert.equal(spaces(await shown(tokyo)), spaces(expected('Asia/Tokyo')));
    assert.notEqual(await shown(tokyo), await shown(page), 'another zone, another time');

    // The countdown ticks, and says about two hours.
    const countdown = page.locator('[data-countdown]');
    const first = (await countdown.textContent()) ?? '';
    const match = /^(?:(\d+) h )?(\d+) min (\d+) s$/.exec(first);
    assert.ok(match, `a countdown: ${first}`);
    const left = Number(match[1] ?? 0) * 3600 + Number(match[2]) * 60 + Number(match[3]);
    assert.ok(left > 7000 && left <= 7200, `about two hours left: ${first}`);
    await until(
      () => countdown.textContent(),
      (text) => text !== first,
      'the countdown to tick',
      // It ticks every second; a loaded CI machine once took longer than 1.5 s to show the next.
      10_000,
    );
    await screenshot(page, 'not-yet-valid');

    const phone = await harness!.page({ viewport: { width: 375, height: 667 }, isMobile: true });
    await open(phone, visit.guests[0]!.shortUrl!, 403);
    assert.ok((await overflow(phone)) <= 0, 'no horizontal scroll on a phone');
  });

  test('not yet valid, then open: the page lets itself in when the window opens', async () => {
    const opening = await createVisit(server!, {
      subject: `Opens soon ${Date.now()}`,
      // Far enough ahead that a busy machine still shows the page before it opens.
      start: Math.floor(Date.now() / 1000) + 8,
      ttl: '30m',
    });
    const openingAt = opening.notBefore!;
    const page = await harness!.page();
    await open(page, opening.guests[0]!.shortUrl!, 403);
    await visible(page.getByRole('heading', { name: 'This visit has not started yet' }));
    const loads: number[] = [];
    page.on('response', (response) => {
      if (response.request().resourceType() === 'document') loads.push(response.status());
    });
    // Generous after the opening: on a loaded CI machine the reload's page itself can take seconds.
    const wait = Math.ceil((openingAt - Date.now() / 1000) * 1000) + 20_000;
    await visible(page.getByRole('heading', { name: 'Waiting for the host' }), wait);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), opening.subject);
    assert.deepEqual(loads, [200], 'one reload, once the window is open (not a burst of early ones)');
  });

  test('expired: the link says so (to a visitor, a no-show link has expired)', async () => {
    await until(
      async () => (await getVisit(server!, expiring.id)).state,
      (state) => state === 'no_show',
      'the 3 s visit to close with nobody',
      8000,
    );
    const page = await harness!.page();
    await open(page, expiring.guests[0]!.shortUrl!, 403);
    await visible(page.getByRole('heading', { name: 'This link has expired' }));
    assert.match((await page.locator('main').textContent()) ?? '', /Ask for a new link/);
    await screenshot(page, 'expired');
    await open(page, expiring.hosts[0]!.longUrl, 403);
    await visible(page.getByRole('heading', { name: 'This link has expired' }));
  });

  test('a tampered link: not valid, and no stack trace', async () => {
    const visit = await createVisit(server!, { subject: `Tampered ${Date.now()}` });
    const long = new URL(visit.guests[0]!.longUrl);
    const cipher = long.searchParams.get('data')!;
    const parts = cipher.split('.');
    assert.equal(parts.length, 5, 'a compact JWE');
    const body = parts[3]!;
    const at = Math.floor(body.length / 2);
    parts[3] = `${body.slice(0, at)}${body[at] === 'A' ? 'B' : 'A'}${body.slice(at + 1)}`;
    long.searchParams.set('data', parts.join('.'));
    const page = await harness!.page();
    await open(page, long.toString(), 400);
    await visible(page.getByRole('heading', { name: 'This link is not valid' }));
    const text = (await page.locator('body').textContent()) ?? '';
    assert.doesNotMatch(text, /at \w+ \(|node:internal|Error:/, 'no stack trace');
    await screenshot(page, 'invalid-link');

    // A short link that does not exist is a clear page too.
    await open(page, url('/visit/nosuchcode'), 404);
    await visible(page.getByRole('heading', { name: 'Link not found' }));
  });

  test('a phone-sized screen: the lobby and the host view fit, with no horizontal scroll', async () => {
    const visit = await createVisit(server!, {
      subject: `A visit with a rather long subject to see how it wraps on a phone ${Date.now()}`,
      devices: ['room1@example.room.wbx2.com', 'sip:another-long-room-name@example.room.wbx2.com'],
    });
    const phone = { viewport: { width: 375, height: 667 }, isMobile: true };
    const guest = await harness!.page(phone);
    await open(guest, visit.guests[0]!.shortUrl!);
    await visible(guest.getByRole('heading', { name: 'Waiting for the host' }));
    assert.equal(await guest.evaluate(() => document.documentElement.clientWidth), 375);
    assert.ok((await overflow(guest)) <= 0, `the lobby scrolls sideways by ${await overflow(guest)} px`);
    const host = await harness!.page(phone);
    await open(host, visit.hosts[0]!.shortUrl!);
    await until(
      () => host.locator('[data-field="devices"] li[data-status="connected"]').count(),
      (n) => n === 2,
      'both devices connected',
    );
    assert.ok((await overflow(host)) <= 0, `the host view scrolls sideways by ${await overflow(host)} px`);
    await visible(guest.getByRole('heading', { name: 'You are in the visit' }));
    assert.ok(
      (await overflow(guest)) <= 0,
      `the admitted guest scrolls sideways by ${await overflow(guest)} px`,
    );
    await screenshot(host, 'host-live-phone');
  });

  test('no console error, CSP violation, or request away from the server', () => {
    harness!.assertClean();
  });

  test('the harness sees a CSP violation, an uncaught error, a failed request and a request elsewhere', async () => {
    // A harness of its own, so the checks above are not disturbed.
    const probe = await BrowserHarness.launch(server!.url);
    try {
      const page = await probe.page();
      await open(page, url('/'));
      probe.assertClean();
      await page.evaluate(() => {
        const script = document.createElement('script');
        script.textContent = 'window.inline = 1';
        document.body.append(script);
      });
      await until(
        async () => probe.problems.map((p) => p.text).join('\n'),
        (text) => /CSP violation: script-src/.test(text),
        'the CSP violation reported',
      );
      await page.evaluate(() => {
        setTimeout(() => {
          throw new Error('uncaught in the page');
        });
      });
      await until(
        async () => probe.problems.map((p) => p.text).join('\n'),
        (text) => text.includes('uncaught in the page'),
        'the page error reported',
      );
      // A resource that fails (not the page itself) is a problem.
      await page.evaluate(() => fetch('/assets/no-such-file.js').catch(() => {}));
      await until(
        async () => probe.problems.map((p) => p.text).join('\n'),
        (text) => /status of 404/.test(text),
        'the failed request reported',
      );
      assert.throws(() => probe.assertClean(), /console errors, page errors or CSP violations/);
      probe.problems.splice(0);
      // A request elsewhere is recorded (and refused before it leaves).
      await page.goto('http://example.invalid/').catch(() => {});
      assert.deepEqual(probe.outsideRequests(), ['http://example.invalid/']);
      assert.throws(() => probe.assertClean(), /requests that left/);
    } finally {
      await probe.close();
    }
  });
});
