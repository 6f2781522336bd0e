/**
 * The staff page's visits over real HTTP: the form's defaults, CSRF, creating a visit and its
 * result page (links, copy buttons, QR codes, the host apart), validation next to the fields,
 * the list's tabs and paging, cancelling through the confirmation, the event log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';
import { api, fieldBlock, StaffClient, section, tagOf, visitForm } from './helpers.js';

const visitIdOf = (location: string | null) => {
  const match = /^\/visits\/(vis_[A-Za-z0-9_-]+)$/.exec(location ?? '');
  assert.ok(match, `a visit's page: ${location}`);
  return match[1]!;
};

describe('staff visits', () => {
  let server: TestServer;
  let client: StaffClient;
  let csrf: string;
  before(async () => {
    server = await startTestServer();
    client = new StaffClient(server.url);
    await client.signIn(server.key);
    csrf = await client.csrf();
  });
  after(() => server.close());

  const visitCount = async () => (await api(server, '/api/visits?limit=1')).total as number;

  test('the dashboard shows the new-visit form with its defaults', async () => {
    const before = Date.now();
    const page = await client.get('/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<form method="post" action="\/visits"/);
    assert.match(page.text, /<script src="\/assets\/staff\.js" defer><\/script>/);
    assert.match(page.text, /<main id="main">/);
    assert.match(page.text, /<nav aria-label="Staff">/);

    const subject = tagOf(page.text, 'subject');
    assert.match(subject, /value=""/);
    assert.match(subject, /placeholder="[^"]*unique[^"]*"/);
    const start = tagOf(page.text, 'start');
    assert.match(start, /type="datetime-local"/);
    const shown = /value="(\d{4}-\d\d-\d\dT\d\d:\d\d)"/.exec(start)?.[1];
    assert.ok(shown, start);
    const shownMs = Date.parse(`${shown}:00Z`);
    assert.ok(shownMs >= before - 60_000 && shownMs <= Date.now(), `starts now (UTC): ${shown}`);
    assert.match(tagOf(page.text, 'duration'), /value="30"/);
    assert.match(tagOf(page.text, 'hosts'), /value="1"/);
    assert.match(tagOf(page.text, 'guests'), /value="1"/);
    assert.match(page.text, /<textarea id="devices" name="devices"[^>]*><\/textarea>/);
    assert.match(tagOf(page.text, 'shortUrls'), /type="checkbox"[^>]*checked/);
    assert.match(tagOf(page.text, 'hostLogin'), /type="checkbox"[^>]*checked/);
    assert.match(page.text, /<option value="hc" selected>/);
    assert.doesNotMatch(page.text, /<option value="gen" selected>/);
    assert.match(tagOf(page.text, 'timeZone'), /type="hidden" name="timeZone"[^>]*value=""/);
    for (const id of [
      'subject',
      'start',
      'duration',
      'hosts',
      'guests',
      'devices',
      'shortUrls',
      'hostLogin',
      'vertical',
    ]) {
      assert.match(page.text, new RegExp(`<label for="${id}">`), `a label for ${id}`);
    }
  });

  test('POST /visits without or with a wrong _csrf: 403, and no visit is made', async () => {
    const count = await visitCount();
    const { _csrf: _, ...withoutToken } = visitForm(csrf);
    const missing = await client.post('/visits', withoutToken);
    assert.equal(missing.status, 403);
    assert.match(missing.text, /security token/);
    const wrong = await client.post('/visits', visitForm(`${csrf.slice(0, -2)}zz`));
    assert.equal(wrong.status, 403);
    const other = new StaffClient(server.url);
    await other.signIn(server.key);
    const crossed = await client.post('/visits', visitForm(await other.csrf()));
    assert.equal(crossed.status, 403, "another session's token is not this session's");
    const foreign = await client.post('/visits', visitForm(csrf), { origin: 'https://evil.example' });
    assert.equal(foreign.status, 403, 'a foreign Origin, even with the token');
    assert.equal(await visitCount(), count);
  });

  test('a valid form: 303 to the visit, whose page has the links, copy buttons, QR codes and the host apart', async () => {
    const answer = await client.post(
      '/visits',
      visitForm(csrf, {
        subject: 'Clinic <3> & co',
        guests: '2',
        devices: ' room@example.room.wbx2.com \n\n',
      }),
      { origin: server.url },
    );
    assert.equal(answer.status, 303, answer.text);
    const id = visitIdOf(answer.location);
    const visit = await api(server, `/api/visits/${id}`);
    assert.equal(visit.subject, 'Clinic <3> & co');
    assert.equal(
      visit.createdBy,
      `staff:${(await server.server.context.apiKeys.list(server.server.context.org))[0]!.id}`,
    );
    assert.equal(visit.counts.hosts, 1);
    assert.equal(visit.counts.guests, 2);
    assert.deepEqual(visit.devices, ['room@example.room.wbx2.com']);
    assert.equal(visit.shortUrls, true);
    assert.equal(
      Date.parse(visit.end) - Date.parse(visit.start),
      30 * 60_000,
      'lasts the 30 minutes asked for',
    );

    const page = await client.get(answer.location!);
    assert.equal(page.status, 200);
    assert.match(page.text, /Clinic &lt;3&gt; &amp; co/);
    assert.ok(!page.text.includes('Clinic <3>'), 'the subject is escaped');
    const host = visit.hosts[0];
    const guests = visit.guests as { shortUrl: string }[];
    assert.ok(host.shortUrl && guests.every((g) => g.shortUrl), 'short links by default');

    const hostSection = section(page.text, 'links-host');
    const guestSection = section(page.text, 'links-guest');
    assert.match(hostSection, /<h2 id="hosts-heading">Host link/);
    assert.match(guestSection, /<h2 id="guests-heading">Guest links/);
    assert.match(hostSection, /class="link-card host"/);
    assert.doesNotMatch(guestSection, /link-card host/);
    assert.ok(hostSection.includes(host.shortUrl));
    for (const g of guests) {
      assert.ok(guestSection.includes(g.shortUrl), g.shortUrl);
      assert.ok(!hostSection.includes(g.shortUrl), 'no guest link among the hosts');
    }
    assert.ok(!guestSection.includes(host.shortUrl), 'no host link among the guests');

    for (const url of [host.shortUrl, ...guests.map((g) => g.shortUrl)]) {
      assert.ok(page.text.includes(`data-copy="${url}"`), `a copy button for ${url}`);
      assert.ok(page.text.includes(`<a class="button secondary" href="${url}"`), `an Open link for ${url}`);
    }
    assert.equal(page.text.match(/<button type="button" class="copy"/g)?.length, 3);
    assert.equal(page.text.match(/<svg\b[^>]*role="img"/g)?.length, 3, 'a QR code for each link');
    assert.match(page.text, /aria-live="polite"/);
    assert.match(page.text, /<a class="button danger" href="\/visits\/[^"]+\/cancel">Cancel visit<\/a>/);
    assert.ok(!page.text.includes(server.key), 'no API key on the page');

    // The QR code is the short URL's: the library's output for that URL, as it is.
    const QRCode = (await import('qrcode')).default;
    const expected = await QRCode.toString(host.shortUrl, {
      type: 'svg',
      errorCorrectionLevel: 'M',
      margin: 2,
    });
    const path = /<path stroke="#000000" d="([^"]+)"/.exec(expected)![1]!;
    assert.ok(hostSection.includes(path), "the host's QR code encodes its short URL");
  });

  test('the start is read in the browser’s time zone; the length comes from the minutes', async () => {
    const answer = await client.post(
      '/visits',
      visitForm(csrf, {
        start: '2031-01-02T09:00',
        duration: '45',
        timeZone: 'Europe/Paris',
        shortUrls: '',
        hostLogin: '',
        vertical: 'gen',
      }),
    );
    assert.equal(answer.status, 303, answer.text);
    const visit = await api(server, `/api/visits/${visitIdOf(answer.location)}`);
    assert.equal(visit.start, '2031-01-02T08:00:00Z');
    assert.equal(visit.end, '2031-01-02T08:45:00Z');
    assert.equal(visit.state, 'scheduled');
    assert.equal(visit.shortUrls, false);
    assert.equal(visit.hostLogin, false);
    assert.equal(visit.vertical, 'gen');
    const page = await client.get(answer.location!);
    assert.ok(
      page.text.includes(`data-copy="${visit.hosts[0].longUrl.replaceAll('&', '&amp;')}"`),
      'the long URL without short links',
    );
  });

  test('the duration field takes what its hint says: minutes, or a duration such as 1h30m', async () => {
    const form = await client.get('/');
    assert.match(tagOf(form.text, 'duration'), /type="text"/, 'a number input would refuse 1h30m');
    assert.match(form.text, /Minutes \(30\), or a duration such as 1h30m/);
    const answer = await client.post(
      '/visits',
      visitForm(csrf, { start: '2031-01-02T09:00', duration: '1h30m', timeZone: 'UTC' }),
    );
    assert.equal(answer.status, 303, answer.text);
    const visit = await api(server, `/api/visits/${visitIdOf(answer.location)}`);
    assert.equal(visit.start, '2031-01-02T09:00:00Z');
    assert.equal(visit.end, '2031-01-02T10:30:00Z');
  });

  test('invalid input: 400, the form again with each message next to its field and the values kept', async () => {
    const count = await visitCount();
    const answer = await client.post(
      '/visits',
      visitForm(csrf, {
        subject: 'Kept "subject"',
        hosts: '0',
        guests: '0',
        devices: 'room@example.com\nnope',
        duration: '0',
        timeZone: 'Europe/Paris',
      }),
    );
    assert.equal(answer.status, 400);
    assert.match(answer.text, /<div class="error-summary" role="alert"/);
    assert.match(answer.text, /The visit was not created/);

    const expected: Record<string, RegExp> = {
      hosts: /both 0/,
      devices: /Line 2 must be a SIP URI/,
      duration: /Duration must be a whole number of minutes/,
    };
    for (const [field, message] of Object.entries(expected)) {
      const block = fieldBlock(answer.text, field);
      assert.match(block, new RegExp(`<p class="field-error" id="${field}-error">`), field);
      assert.match(block, message, field);
      const tag = tagOf(answer.text, field);
      assert.match(tag, /aria-invalid="true"/, field);
      assert.match(tag, new RegExp(`aria-describedby="[^"]*\\b${field}-error\\b`), field);
      assert.match(answer.text, new RegExp(`<li><a href="#${field}">`), `the summary links to ${field}`);
    }
    for (const field of ['subject', 'start', 'guests']) {
      assert.doesNotMatch(tagOf(answer.text, field), /aria-invalid/, field);
    }
    assert.match(tagOf(answer.text, 'subject'), /value="Kept &quot;subject&quot;"/);
    assert.match(tagOf(answer.text, 'hosts'), /value="0"/);
    assert.match(tagOf(answer.text, 'guests'), /value="0"/);
    assert.match(tagOf(answer.text, 'duration'), /value="0"/);
    assert.match(answer.text, /<textarea id="devices"[^>]*>room@example.com\nnope<\/textarea>/);
    assert.match(tagOf(answer.text, 'timeZone'), /value="Europe\/Paris"/);
    assert.doesNotMatch(
      tagOf(answer.text, 'start'),
      /data-default-now/,
      'the script leaves a typed start alone',
    );
    assert.equal(await visitCount(), count);
  });

  test('a start or time zone the API refuses is shown at the start field', async () => {
    const answer = await client.post(
      '/visits',
      visitForm(csrf, { start: '2031-13-40T25:00', timeZone: 'Mars/Olympus' }),
    );
    assert.equal(answer.status, 400);
    const block = fieldBlock(answer.text, 'start');
    assert.match(block, /time zone/);
    assert.match(tagOf(answer.text, 'start'), /value="2031-13-40T25:00"/);
  });

  test('"Tell when a guest waits": an email address is kept for the alert; anything else is shown at the field', async () => {
    const bad = await client.post('/visits', visitForm(csrf, { alertTo: 'not an address' }));
    assert.equal(bad.status, 400);
    assert.match(fieldBlock(bad.text, 'alertTo'), /email address/);
    assert.match(tagOf(bad.text, 'alertTo'), /value="not an address"/);
    const made = await client.post('/visits', visitForm(csrf, { alertTo: 'dr.lee@clinic.example' }));
    assert.equal(made.status, 303, made.text);
    const id = made.location!.split('/').pop()!;
    const { store, org } = server.server.context;
    assert.equal((await store.getVisit(org.id, id))?.alertTo, 'email:dr.lee@clinic.example');
  });

  test('the tabs list a visit under upcoming; cancelled through the confirmation, it moves to cancelled', async () => {
    const made = await client.post(
      '/visits',
      visitForm(csrf, { subject: 'To cancel', start: '2032-05-01T10:00' }),
    );
    assert.equal(made.status, 303);
    const id = visitIdOf(made.location);
    const row = (html: string) => html.includes(`<a href="/visits/${id}">To cancel</a>`);

    const upcoming = await client.get('/visits?tab=upcoming');
    assert.equal(upcoming.status, 200);
    assert.ok(row(upcoming.text), 'listed under upcoming');
    assert.match(upcoming.text, /<a href="\/visits\?tab=upcoming" aria-current="page">Upcoming<\/a>/);
    const rowHtml = upcoming.text.slice(
      upcoming.text.indexOf(`/visits/${id}`),
      upcoming.text.indexOf('</tr>', upcoming.text.indexOf(`/visits/${id}`)),
    );
    assert.match(rowHtml, /scheduled/);
    assert.match(rowHtml, /<time datetime="2032-05-01T10:00:00Z"/);
    assert.match(rowHtml, /<time datetime="2032-05-01T10:30:00Z"/);
    assert.match(rowHtml, /data-label="Hosts" class="num">1</);
    assert.match(rowHtml, /data-label="Guests" class="num">1</);
    assert.ok(!row((await client.get('/visits?tab=cancelled')).text), 'not cancelled yet');
    assert.ok(!row((await client.get('/visits?tab=past')).text));
    assert.ok(row((await client.get('/visits')).text), 'upcoming is the default tab');

    const confirm = await client.get(`/visits/${id}/cancel`);
    assert.equal(confirm.status, 200);
    assert.match(confirm.text, /Cancel this visit\?/);
    assert.match(confirm.text, new RegExp(`<form method="post" action="/visits/${id}/cancel"`));
    assert.match(confirm.text, /name="_csrf"/);
    assert.match(confirm.text, /stop working at once/);

    const noToken = await client.post(`/visits/${id}/cancel`, {});
    assert.equal(noToken.status, 403);
    assert.equal(
      (await api(server, `/api/visits/${id}`)).state,
      'scheduled',
      'not cancelled without the token',
    );

    const cancelled = await client.post(`/visits/${id}/cancel`, { _csrf: csrf });
    assert.equal(cancelled.status, 303);
    assert.equal(cancelled.location, `/visits/${id}`);
    assert.equal((await api(server, `/api/visits/${id}`)).state, 'cancelled');

    assert.ok(row((await client.get('/visits?tab=cancelled')).text), 'listed under cancelled');
    assert.ok(!row((await client.get('/visits?tab=upcoming')).text), 'no longer upcoming');

    const page = await client.get(`/visits/${id}`);
    assert.match(page.text, /<span class="state bad" data-state="cancelled"[^>]*>cancelled<\/span>/);
    assert.doesNotMatch(page.text, /Cancel visit<\/a>/, 'nothing left to cancel');
    const log = page.text.slice(page.text.indexOf('<h2 id="events-heading">'));
    const created = log.indexOf('<code>visit.created</code>');
    const cancelledAt = log.indexOf('<code>visit.cancelled</code>');
    assert.ok(created > 0 && cancelledAt > created, 'created, then cancelled');
    assert.match(log, /<code>visit\.cancelled<\/code> by staff:key_/);

    const again = await client.get(`/visits/${id}/cancel`);
    assert.equal(again.status, 409);
    const twice = await client.post(`/visits/${id}/cancel`, { _csrf: csrf });
    assert.equal(twice.status, 409);
    assert.match(twice.text, /already cancelled/);
  });

  test('a body that is not a form: an HTML error page, nothing made', async () => {
    const count = await visitCount();
    const answer = await client.request('/visits', {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: `<visit _csrf="${csrf}"/>`,
    });
    assert.equal(answer.status, 415);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(answer.text, /The form could not be read/);
    assert.doesNotMatch(answer.text, /at .*\.ts:\d+/, 'no stack');
    assert.equal(await visitCount(), count);
  });

  test('an unknown visit: a 404 page', async () => {
    for (const path of ['/visits/vis_doesNotExist', '/visits/nope/cancel']) {
      const answer = await client.get(path);
      assert.equal(answer.status, 404, path);
      assert.match(answer.text, /Visit not found/);
    }
    const post = await client.post('/visits/vis_doesNotExist/cancel', { _csrf: csrf });
    assert.equal(post.status, 404);
  });
});

describe('staff visit list paging', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('twenty a page, soonest first under upcoming, with previous and next links', async () => {
    for (let i = 0; i < 21; i++) {
      await api(server, '/api/visits', {
        method: 'POST',
        body: JSON.stringify({
          subject: `Paged ${String(i).padStart(2, '0')}`,
          start: `2033-01-01T${String(i).padStart(2, '0')}:00Z`,
          ttl: '30m',
          hosts: 1,
          guests: 0,
          shortUrls: false,
          crypto: { iterations: 1000 },
        }),
      });
    }
    const client = new StaffClient(server.url);
    await client.signIn(server.key);
    const first = await client.get('/visits?tab=upcoming');
    const subjects = (html: string) => [...html.matchAll(/>(Paged \d\d)<\/a>/g)].map((m) => m[1]);
    assert.equal(subjects(first.text).length, 20);
    assert.equal(subjects(first.text)[0], 'Paged 00', 'soonest first');
    assert.match(first.text, /Page 1 of 2/);
    assert.match(first.text, /<a href="\/visits\?tab=upcoming&amp;page=2" rel="next">Next page<\/a>/);
    assert.doesNotMatch(first.text, /rel="prev"/);
    const second = await client.get('/visits?tab=upcoming&page=2');
    assert.deepEqual(subjects(second.text), ['Paged 20']);
    assert.match(second.text, /rel="prev"/);
    assert.doesNotMatch(second.text, /rel="next"/);
    const live = await client.get('/visits?tab=live');
    assert.match(live.text, /No live visits/);
    const odd = await client.get('/visits?tab=nonsense&page=-3');
    assert.equal(odd.status, 200);
    assert.equal(
      subjects(odd.text).length,
      20,
      'an unknown tab or page falls back to the first upcoming page',
    );
    const dashboard = await client.get('/');
    assert.deepEqual(subjects(dashboard.text), ['Paged 00', 'Paged 01', 'Paged 02', 'Paged 03', 'Paged 04']);
  });
});
