/**
 * The pages a visit's links open, over real HTTP: the lobby, not yet valid (when, with a
 * countdown), expired, cancelled and bad links, each a clear HTML page with the right status,
 * never the cipher or a secret, and only scripts from /assets/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isoSeconds } from '../../src/domain/time.js';
import { longPath, nowSeconds } from '../broker/helpers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  api,
  assertHtml,
  assertNoSecret,
  assertScriptsFromAssets,
  call,
  createVisit,
  getPage,
  type LinkView,
  live,
  openPage,
  sleep,
  ticketOf,
} from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

/** Checks shared by every page: HTML, CSP, no secret, scripts only from /assets/. */
async function checkPage(html: string, links: LinkView[], what: string, answerHeaders?: Headers) {
  assert.match(html, /^<!doctype html>/, what);
  assertScriptsFromAssets(html, what);
  await assertNoSecret(server, html, links, what);
  assert.doesNotMatch(html, /\bat [\w.<>]+ \(.*:\d+:\d+\)|Error:/, `${what}: no stack trace`);
  if (answerHeaders) {
    const csp = answerHeaders.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/, `${what}: CSP`);
    assert.doesNotMatch(csp, /unsafe-inline/, `${what}: CSP forbids inline script`);
    assert.equal(
      answerHeaders.get('referrer-policy'),
      'no-referrer',
      `${what}: no Referer carries the cipher`,
    );
  }
}

/** Opens a link through its short URL (302 → long page) and returns the page's answer. */
async function viaShortLink(link: LinkView, status: number) {
  const redirect = await getPage(link.shortUrl!);
  assert.equal(redirect.status, 302, redirect.text);
  const location = redirect.headers.get('location')!;
  assert.equal(location, link.longUrl, 'the short link leads to the long link');
  const answer = await getPage(location);
  assertHtml(answer, status);
  return answer;
}

describe('visit pages', () => {
  test('the lobby page: subject, role, state, a ticket and no token', async () => {
    const visit = await createVisit(server, { subject: 'Physio <b>review</b> & "follow-up"' });
    for (const link of [visit.guests[0]!, visit.hosts[0]!]) {
      const answer = await viaShortLink(link, 200);
      const html = answer.text;
      await checkPage(html, [...visit.hosts, ...visit.guests], `the ${link.role} page`, answer.headers);
      assert.match(
        html,
        /Physio &lt;b&gt;review&lt;\/b&gt; &amp; &quot;follow-up&quot;/,
        'the subject, escaped',
      );
      assert.doesNotMatch(html, /<b>review<\/b>/);
      assert.match(html, new RegExp(`data-role="${link.role}"`));
      assert.match(html, /data-state="open"/);
      assert.match(html, link.role === 'host' ? /You are the host/ : /You are a guest/);
      assert.match(html, /no audio or video/, 'says plainly this broker carries no media');
      assert.match(html, /<script src="\/assets\/visit\.js"/);
      ticketOf(html);
    }
    const script = await call(`${server.url}/assets/visit.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
  });

  test('not yet valid: 403 with when it opens, in a <time>, and a countdown', async () => {
    const visit = await createVisit(server, { start: '+3h', ttl: '30m' });
    assert.equal(visit.state, 'scheduled');
    const notBefore = visit.notBefore!;
    for (const link of [visit.guests[0]!, visit.hosts[0]!]) {
      const answer = await viaShortLink(link, 403);
      const html = answer.text;
      await checkPage(html, [...visit.hosts, ...visit.guests], 'the not-yet page', answer.headers);
      assert.match(html, /has not started yet/);
      assert.match(html, new RegExp(`data-countdown="${notBefore}"`));
      assert.match(html, new RegExp(`<time[^>]* datetime="${isoSeconds(notBefore)}"`));
      assert.doesNotMatch(html, /data-ticket/, 'no ticket before the window opens');
    }
  });

  test('a scheduled visit opens by itself when its start comes', async () => {
    const start = nowSeconds() + 2;
    const visit = await createVisit(server, { start, ttl: '10m' });
    assert.equal(visit.state, 'scheduled');
    assert.match((await viaShortLink(visit.guests[0]!, 403)).text, /has not started yet/);
    while (nowSeconds() < start) await sleep(100);
    const html = (await viaShortLink(visit.guests[0]!, 200)).text;
    assert.match(html, /data-state="open"/);
    ticketOf(html);
  });

  test('expired: a clear 403 page', async () => {
    const visit = await createVisit(server, { ttl: 2 });
    while (nowSeconds() < visit.expiresAt + 1) await sleep(100);
    for (const link of [visit.guests[0]!, visit.hosts[0]!]) {
      const answer = await viaShortLink(link, 403);
      await checkPage(answer.text, [...visit.hosts, ...visit.guests], 'the expired page', answer.headers);
      assert.match(answer.text, /expired/);
      assert.doesNotMatch(answer.text, /data-ticket/);
    }
  });

  test('cancelled: a clear 410 page', async () => {
    const visit = await createVisit(server);
    assert.equal((await api(server, 'DELETE', `/api/visits/${visit.id}`)).status, 200);
    for (const link of [visit.guests[0]!, visit.hosts[0]!]) {
      const answer = await viaShortLink(link, 410);
      await checkPage(answer.text, [...visit.hosts, ...visit.guests], 'the cancelled page', answer.headers);
      assert.match(answer.text, /cancelled/);
      assert.doesNotMatch(answer.text, /data-ticket/);
    }
  });

  test('ended: the page says so', async () => {
    const visit = await createVisit(server);
    const ticket = ticketOf(await openPage(visit.hosts[0]!.longUrl));
    assert.equal((await live(server, 'join', { ticket })).status, 200);
    assert.equal((await live(server, 'end', { ticket })).status, 200);
    const html = await openPage(visit.guests[0]!.longUrl);
    await checkPage(html, [...visit.hosts, ...visit.guests], 'the ended page');
    assert.match(html, /data-state="ended"/);
    assert.match(html, /This visit has ended/);
  });

  test('a garbage or altered cipher: 400 "not valid", never echoed, never a 500', async () => {
    const visit = await createVisit(server);
    const cipher = visit.guests[0]!.cipher;
    const parts = cipher.split('.');
    const flip = (s: string) => `${s.slice(0, 5)}${s[5] === 'A' ? 'B' : 'A'}${s.slice(6)}`;
    const bad = [
      'garbage',
      'a.b.c.d.e',
      `${parts[0]}.${parts[1]}.${parts[2]}.${flip(parts[3]!)}.${parts[4]}`,
      `${parts[0]}.${parts[1]}.${parts[2]}.${parts[3]}.${flip(parts[4]!)}`,
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.x.y.z.w`,
      '%00%ff',
    ];
    for (const data of bad) {
      for (const kind of ['talk', 'login'] as const) {
        const answer = await getPage(`${server.url}${longPath('hc', kind, data)}`);
        const html = assertHtml(answer, 400);
        await checkPage(
          html,
          [...visit.hosts, ...visit.guests],
          `the page for ${data.slice(0, 20)}`,
          answer.headers,
        );
        assert.match(html, /not valid/);
        if (data.length > 8) assert.ok(!html.includes(data), 'the bad cipher is not echoed');
      }
    }
  });

  test('a link without its data, or with another integration: 400 page', async () => {
    for (const path of ['/hc/v1/talk', '/gen/v1/login?int=jose&v=1', '/hc/v1/talk?int=jose&data=']) {
      const answer = await getPage(`${server.url}${path}`);
      const html = assertHtml(answer, 400);
      assertScriptsFromAssets(html, path);
      assert.match(html, /incomplete/);
    }
    const other = await getPage(`${server.url}/hc/v1/talk?int=oauth&data=abc`);
    assertHtml(other, 400);
  });

  test('an unknown short link: 404 page; unknown vertical or page: 404', async () => {
    const answer = await getPage(`${server.url}/visit/NoSuch1`);
    const html = assertHtml(answer, 404);
    assertScriptsFromAssets(html, 'not found');
    assert.match(html, /Link not found/);
    for (const path of ['/xx/v1/talk?int=jose&data=abc', '/hc/v1/dial?int=jose&data=abc']) {
      assert.equal((await getPage(`${server.url}${path}`)).status, 404, path);
    }
  });

  test('the space API of a link answers JSON errors (not pages) for the same cases', async () => {
    const scheduled = await createVisit(server, { start: '+1h' });
    const space = (cipher: string) =>
      call(`${server.url}/api/v1/space?int=jose&data=${encodeURIComponent(cipher)}`);
    const early = await space(scheduled.guests[0]!.cipher);
    assert.equal(early.status, 403);
    assert.equal(early.body.code, 'ERR_TOKEN_NOT_YET_VALID');
    const garbage = await space('garbage');
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.code, 'ERR_TOKEN_INVALID');
  });
});
