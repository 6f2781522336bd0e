/**
 * The link gateway for visits on another broker (issue 15, section 1), over real HTTP on
 * 127.0.0.1: server B is a broker (this project's own, standing in for Cisco's), server A makes
 * its visits at B with an API key of B as the token and has an explicit PUBLIC_URL. A's links are
 * gateway links on A's origin that redirect to B's URLs while the visit is open.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/free-port.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  api,
  assertEnvelope,
  assertHtml,
  call,
  createVisit,
  eventsOf,
  eventually,
  getPage,
  getVisit,
  type LinkView,
  type Visit,
} from './helpers.js';

interface GatewayLink extends LinkView {
  gatewayUrl?: string;
  openedAt?: string;
  revokedAt?: string;
}
type GatewayVisit = Omit<Visit, 'hosts' | 'guests'> & {
  gateway: boolean;
  hosts: GatewayLink[];
  guests: GatewayLink[];
};

const CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

let b: TestServer;
let a: TestServer;
let publicUrl: string;
const logLines: string[] = [];

before(async () => {
  b = await startTestServer();
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  a = await startTestServer({
    port,
    publicUrl,
    linkSource: { broker: b.url, token: b.key },
    logger: {
      level: 'trace',
      stream: new Writable({
        write(chunk, _encoding, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    },
  });
});
after(async () => {
  await a?.close();
  await b?.close();
});

const make = async (input: Record<string, unknown> = {}) =>
  (await createVisit(a, input)) as unknown as GatewayVisit;
const links = (v: GatewayVisit) => [...v.hosts, ...v.guests];
const gatewayOf = (l: GatewayLink) => {
  assert.ok(l.gatewayUrl, `${l.role} ${l.index} has a gateway URL`);
  return l.gatewayUrl;
};
/** A gateway link opened as a browser opens it (HTML), without following the redirect. */
const open = (l: GatewayLink, userAgent = CHROME) =>
  call(gatewayOf(l), { headers: { accept: 'text/html', 'user-agent': userAgent } });
/** … as a JSON client (no text/html in Accept). */
const openJson = (l: GatewayLink) => call(gatewayOf(l), { headers: { accept: 'application/json' } });

/** Nothing a person or a log sees before the redirect carries a cipher (or B's short code). */
function assertNoSecret(text: string, visit: GatewayVisit, where: string) {
  for (const l of links(visit)) {
    assert.ok(!text.includes(l.cipher), `${where} carries no cipher`);
    assert.ok(!text.includes(encodeURIComponent(l.cipher)), `${where} carries no cipher (encoded)`);
    if (l.short) assert.ok(!text.includes(`/visit/${l.short}`), `${where} carries no short URL of B`);
  }
}

describe('gateway links for visits on another broker', () => {
  test("a visit on A has gateway links on A's origin that redirect to B's short URL, and B's page opens", async () => {
    const visit = await make({ hosts: 1, guests: 2 });
    assert.equal(visit.source, 'custom');
    assert.equal(visit.gateway, true);
    for (const l of links(visit)) {
      const url = new URL(gatewayOf(l));
      assert.equal(url.origin, publicUrl, "on A's origin");
      assert.match(url.pathname, /^\/visit\/[A-Za-z0-9]{10}$/);
      assert.equal(url.search, '', 'no query: no cipher in the gateway URL');
      assertNoSecret(l.gatewayUrl!, visit, 'the gateway URL');
      assert.equal(new URL(l.shortUrl!).origin, b.url, "the broker's own short URL is B's");
      assert.equal(l.openedAt, undefined);
    }
    const guest = visit.guests[0]!;
    const redirect = await open(guest);
    assert.equal(redirect.status, 302, redirect.text);
    assert.equal(redirect.headers.get('location'), guest.shortUrl, "to B's short URL");
    assert.equal(redirect.headers.get('cache-control'), 'no-store');
    assertNoSecret(redirect.text, visit, 'the redirect body');
    // Following it: B's short link leads to B's own page of the link (its lobby).
    const atB = await getPage(guest.shortUrl!);
    assert.equal(atB.status, 302);
    const page = assertHtml(await getPage(new URL(atB.headers.get('location')!, b.url).toString()), 200);
    assert.match(page, /data-ticket=/, "B's visit page");

    const events = (await eventsOf(a, visit.id)).filter((e) => e.type === 'link.opened');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.actor, 'guest');
    assert.deepEqual(events[0]!.data, { role: 'guest', index: 0, uaFamily: 'chrome' });
    assert.ok(!JSON.stringify(events[0]).includes('127.0.0.1'), 'no address in the event');
    const read = await getVisit(a, visit.id);
    assert.ok((read.guests[0] as GatewayLink).openedAt, 'openedAt is set');
    assert.equal((read.guests[1] as GatewayLink).openedAt, undefined);

    // A host link goes to B's host URL; Firefox is named as such.
    const host = await open(visit.hosts[0]!, FIREFOX);
    assert.equal(host.status, 302);
    assert.equal(host.headers.get('location'), visit.hosts[0]!.shortUrl);
    const hostEvents = (await eventsOf(a, visit.id)).filter(
      (e) => e.type === 'link.opened' && e.data['role'] === 'host',
    );
    assert.deepEqual(
      hostEvents.map((e) => [e.actor, e.data['uaFamily']]),
      [['host', 'firefox']],
    );
  });

  test('links added to a gateway visit are gateway links too, with fresh codes', async () => {
    const visit = await make();
    const more = await api(a, 'POST', `/api/visits/${visit.id}/links`, { guests: 2 });
    assert.equal(more.status, 201, more.text);
    const all = [...more.body.hosts, ...more.body.guests] as GatewayLink[];
    assert.equal(all.length, 4);
    const urls = all.map(gatewayOf);
    assert.equal(new Set(urls).size, 4, 'every link its own code');
    const added = more.body.guests[2] as GatewayLink;
    const redirect = await open(added);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), added.shortUrl);
  });

  test('a loop that opens one link over and over logs one event per minute, and every opening still redirects', async () => {
    const visit = await make();
    const guest = visit.guests[0]!;
    for (let i = 0; i < 12; i++) assert.equal((await open(guest)).status, 302);
    const opened = (await eventsOf(a, visit.id)).filter((e) => e.type === 'link.opened');
    assert.equal(opened.length, 1, 'at most one link.opened per link per minute after the first');
  });

  test('without a redirect, links made with a broker short URL off go to its long URL', async () => {
    const visit = await make({ shortUrls: false });
    const guest = visit.guests[0]!;
    assert.equal(guest.shortUrl, undefined);
    const redirect = await open(guest);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), guest.longUrl, "to B's long URL");
  });

  test('before the window: the countdown page (HTML) or a 403 envelope, and nothing is recorded', async () => {
    const visit = await make({ start: '+2h' });
    assert.equal(visit.state, 'scheduled');
    const guest = visit.guests[0]!;
    const html = assertHtml(await open(guest), 403);
    assert.match(html, /has not started yet/);
    assertNoSecret(html, visit, 'the countdown page');
    assertEnvelope(await openJson(guest), 403, 'ERR_TOKEN_NOT_YET_VALID');
    assert.equal((await eventsOf(a, visit.id)).filter((e) => e.type === 'link.opened').length, 0);
  });

  test('after the end: the expired page', async () => {
    const visit = await make({ ttl: 2 });
    const guest = visit.guests[0]!;
    const answer = await eventually(
      () => open(guest),
      (r) => r.status !== 302,
      'the gateway link to stop once the window closes',
    );
    const html = assertHtml(answer, 403);
    assert.match(html, /has expired/);
    assertNoSecret(html, visit, 'the expired page');
    assertEnvelope(await openJson(guest), 403, 'ERR_TOKEN_EXPIRED');
  });

  test("gateway: false hands out B's links directly", async () => {
    const visit = await make({ gateway: false });
    assert.equal(visit.gateway, false);
    for (const l of links(visit)) {
      assert.equal(l.gatewayUrl, undefined);
      assert.equal(new URL(l.shortUrl!).origin, b.url);
    }
    // The trigger hands out the gateway URLs when there are (and B's otherwise).
    const hooked = await call(`${a.url}/hooks/visits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ crypto: { iterations: 1000 } }),
    });
    assert.equal(hooked.status, 201, hooked.text);
    assert.equal(hooked.body.gateway, true);
    assert.equal(hooked.body.hostUrl, hooked.body.hosts[0].gatewayUrl);
    assert.deepEqual(
      hooked.body.guestUrls,
      hooked.body.guests.map((g: GatewayLink) => g.gatewayUrl),
    );
  });

  test('cancel: unopened links stop at once (410), and the answer names the opened ones', async () => {
    const visit = await make({ hosts: 1, guests: 2 });
    assert.equal((await open(visit.guests[0]!)).status, 302);
    const cancelled = await api(a, 'DELETE', `/api/visits/${visit.id}`);
    assert.equal(cancelled.status, 200, cancelled.text);
    const { cancellation } = cancelled.body;
    assert.equal(cancellation.linksStopped, false, 'one link was opened: it may still work at Cisco');
    assert.deepEqual(
      cancellation.opened.map((l: { role: string; index: number }) => [l.role, l.index]),
      [['guest', 0]],
    );
    assert.match(cancellation.opened[0].openedAt, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(cancellation.stopped, [
      { role: 'host', index: 0 },
      { role: 'guest', index: 1 },
    ]);
    assert.match(cancellation.detail, /already been opened/);
    for (const l of links(visit)) {
      const html = assertHtml(await open(l), 410);
      assert.match(html, /This visit was cancelled/);
      assertNoSecret(html, visit, 'the cancelled page');
      assertEnvelope(await openJson(l), 410, 'ERR_CANCELLED');
    }
    // The broker was asked to end the subject too (the re-issue with nbf and exp of 0; this
    // project's broker, standing in for Cisco's, refuses an exp in the past, and A says so).
    const event = (await eventsOf(a, visit.id)).find((e) => e.type === 'visit.cancelled');
    assert.match(String(event?.data['revoke']), /re-issue/i);
    assert.equal(typeof event?.data['revokeOk'], 'boolean');
    assert.equal((await api(a, 'DELETE', `/api/visits/${visit.id}`)).status, 409);
  });

  test('cancel of a visit none of whose links was opened: every link stopped', async () => {
    const visit = await make();
    const cancelled = await api(a, 'DELETE', `/api/visits/${visit.id}`);
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.body.cancellation.linksStopped, true);
    assert.deepEqual(cancelled.body.cancellation.opened, []);
    assert.equal(cancelled.body.cancellation.stopped.length, 2);
  });

  test('revoking one link: 410 for it, the others still redirect; the event log says so', async () => {
    const visit = await make({ hosts: 1, guests: 2 });
    const revoked = await api(a, 'DELETE', `/api/visits/${visit.id}/links/guest/1`);
    assert.equal(revoked.status, 200, revoked.text);
    assert.deepEqual(
      { ...revoked.body.revocation, detail: undefined },
      { role: 'guest', index: 1, linkStopped: true, detail: undefined },
    );
    assert.ok(revoked.body.guests[1].revokedAt);
    const html = assertHtml(await open(visit.guests[1]!), 410);
    assert.match(html, /This link was withdrawn/);
    assertNoSecret(html, visit, 'the withdrawn page');
    assertEnvelope(await openJson(visit.guests[1]!), 410, 'ERR_LINK_REVOKED');
    assert.equal((await open(visit.guests[0]!)).status, 302);
    assert.equal((await open(visit.hosts[0]!)).status, 302);
    const log = await eventsOf(a, visit.id);
    assert.deepEqual(
      log.filter((e) => e.type === 'link.revoked').map((e) => e.data),
      [{ role: 'guest', index: 1, opened: false }],
    );
    // An opened link can be withdrawn too; the answer says it may still work at Cisco.
    const again = await api(a, 'DELETE', `/api/visits/${visit.id}/links/guest/0`);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.revocation.linkStopped, false);
    assert.ok(again.body.revocation.openedAt);
    assert.equal((await open(visit.guests[0]!)).status, 410);
  });

  test('revoking: unknown visit or link 404, bad role or index 400, twice or on a visit that is over 409', async () => {
    const visit = await make();
    const del = (path: string) => api(a, 'DELETE', path);
    assertEnvelope(await del('/api/visits/vis_nope/links/guest/0'), 404, 'ERR_NOT_FOUND');
    assertEnvelope(await del(`/api/visits/${visit.id}/links/guest/5`), 404, 'ERR_NOT_FOUND');
    const badRole = await del(`/api/visits/${visit.id}/links/patient/0`);
    assertEnvelope(badRole, 400, 'ERR_VALIDATION');
    assert.match(badRole.text, /role/);
    assertEnvelope(await del(`/api/visits/${visit.id}/links/guest/x`), 400, 'ERR_VALIDATION');
    assert.equal(
      (await api(a, 'DELETE', `/api/visits/${visit.id}/links/guest/0`, undefined, { key: null })).status,
      401,
    );
    assert.equal((await del(`/api/visits/${visit.id}/links/guest/0`)).status, 200);
    assertEnvelope(await del(`/api/visits/${visit.id}/links/guest/0`), 409, 'ERR_CONFLICT');
    assert.equal((await del(`/api/visits/${visit.id}`)).status, 200);
    const over = await del(`/api/visits/${visit.id}/links/host/0`);
    assertEnvelope(over, 409, 'ERR_CONFLICT');
    assert.match(over.text, /cancelled/);
  });

  test("revoking a link handed out as Cisco's own URL (no gateway): 409 saying why", async () => {
    const visit = await make({ gateway: false });
    const answer = await api(a, 'DELETE', `/api/visits/${visit.id}/links/guest/0`);
    assertEnvelope(answer, 409, 'ERR_CONFLICT');
    assert.match(answer.body.message, /Cisco documents no way to revoke one link/);
  });

  test("revoking a link of this broker: its page refuses it, the visit's other links still open", async () => {
    const visit = await createVisit(b, { guests: 2 });
    const answer = await api(b, 'DELETE', `/api/visits/${visit.id}/links/guest/0`);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.revocation.linkStopped, true);
    const html = assertHtml(await getPage(visit.guests[0]!.longUrl), 410);
    assert.match(html, /This link was withdrawn/);
    assertHtml(await getPage(visit.guests[1]!.longUrl), 200);
  });

  test("no log line of A carries a cipher or B's short URL", () => {
    assert.ok(
      logLines.some((l) => l.includes('"/visit/[REDACTED]"')),
      'gateway requests were logged',
    );
    const text = logLines.join('');
    // Every visit A made: their links' ciphers and B's short codes.
    for (const line of logLines) {
      assert.ok(
        !/data=ey|eyJ[\w-]{20,}\.[\w-]+\./.test(line),
        `a log line carries a token: ${line.slice(0, 200)}`,
      );
    }
    assert.ok(!text.includes(`${b.url}/visit/`), "no log line carries B's short URL (the Location header)");
  });
});
