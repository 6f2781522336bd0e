/**
 * POST /api/visits over real HTTP: the visit answered in the SDK's link shape, short links on by
 * default, local times in a time zone, devices, vertical and host login; and every bad input
 * refused with Webex's envelope naming the field, never a 500, and nothing stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isoSeconds } from '../../src/domain/time.js';
import { nowSeconds } from '../broker/helpers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  api,
  assertEnvelope,
  call,
  createVisit,
  eventsOf,
  FAST,
  getVisit,
  type HttpAnswer,
  type LinkView,
  listVisits,
  type Visit,
} from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const cipherIn = (url: string) => new URL(url).searchParams.get('data');

function assertLinkShape(link: LinkView, role: 'host' | 'guest', index: number, visit: Visit) {
  assert.equal(link.role, role);
  assert.equal(link.index, index);
  assert.match(link.cipher, /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){4}$/, 'a compact JWE');
  const long = new URL(link.longUrl);
  assert.equal(long.origin, server.url);
  const page = role === 'host' && visit.hostLogin ? 'login' : 'talk';
  assert.equal(long.pathname, `/${visit.vertical}/v1/${page}`);
  assert.equal(long.searchParams.get('int'), 'jose');
  assert.equal(long.searchParams.get('v'), '1');
  assert.equal(cipherIn(link.longUrl), link.cipher);
  if (visit.shortUrls) {
    assert.match(link.short ?? '', /^[A-Za-z0-9]{7}$/);
    assert.equal(link.shortUrl, `${server.url}/visit/${link.short}`);
  } else {
    assert.equal(link.short, undefined);
    assert.equal(link.shortUrl, undefined);
  }
  if (role === 'host') {
    assert.ok(link.forcedLoginUrl, 'hosts have a forced-login URL');
    const forced = new URL(link.forcedLoginUrl);
    assert.equal(forced.pathname, `/${visit.vertical}/v1/login`);
    assert.equal(forced.searchParams.get('fli'), 'true');
    assert.equal(cipherIn(link.forcedLoginUrl), link.cipher);
  } else {
    assert.equal(link.forcedLoginUrl, undefined, 'guests have no forced-login URL');
  }
}

describe('POST /api/visits', () => {
  test('answers 201 with Location and the visit in the SDK shape, short links on by default', async () => {
    const before = nowSeconds();
    const answer = await api(server, 'POST', '/api/visits', { ...FAST });
    assert.equal(answer.status, 201, answer.text);
    const visit = answer.body as Visit;
    assert.match(visit.id, /^vis_[A-Za-z0-9_-]+$/);
    assert.equal(answer.headers.get('location'), `/api/visits/${visit.id}`);
    assert.equal(visit.state, 'open');
    assert.equal(visit.source, 'local');
    assert.match(visit.subject, /\S/, 'a subject is generated when none is given');
    assert.equal(visit.shortUrls, true, 'short links are on by default');
    assert.equal(visit.hostLogin, true);
    assert.equal(visit.vertical, 'hc');
    assert.deepEqual(visit.devices, []);
    assert.deepEqual(visit.counts, { hosts: 1, guests: 1 });
    assert.equal(visit.hosts.length, 1);
    assert.equal(visit.guests.length, 1);
    assertLinkShape(visit.hosts[0]!, 'host', 0, visit);
    assertLinkShape(visit.guests[0]!, 'guest', 0, visit);
    // The window: opens now (no notBefore), ends later.
    assert.equal(visit.notBefore, undefined);
    const start = Date.parse(visit.start) / 1000;
    assert.ok(start >= before - 1 && start <= nowSeconds() + 1, `start ${visit.start} is now`);
    assert.equal(visit.end, isoSeconds(visit.expiresAt));
    assert.ok(visit.expiresAt > start, 'the window ends after it starts');
    assert.match(visit.createdBy, /^key:key_[0-9a-f]+$/);
    // The Location is the visit, as stored.
    const read = await call(`${server.url}${answer.headers.get('location')}`, {
      headers: { authorization: `Bearer ${server.key}` },
    });
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body, visit);
  });

  test('generated subjects are unique', async () => {
    const [a, b] = await Promise.all([createVisit(server), createVisit(server)]);
    assert.notEqual(a!.subject, b!.subject);
  });

  test('a given subject is kept', async () => {
    const visit = await createVisit(server, { subject: 'Clinic 4 / Dr Okafor' });
    assert.equal(visit.subject, 'Clinic 4 / Dr Okafor');
  });

  test('start with a timeZone is a local time there; ttl counts from the start', async () => {
    const visit = await createVisit(server, {
      start: '2030-01-15 09:00',
      timeZone: 'America/New_York',
      ttl: '45m',
    });
    assert.equal(visit.notBefore, Date.parse('2030-01-15T14:00:00Z') / 1000);
    assert.equal(visit.start, '2030-01-15T14:00:00Z');
    assert.equal(visit.end, '2030-01-15T14:45:00Z');
    assert.equal(visit.state, 'scheduled');
  });

  test('start and end in a timeZone (summer time applies in its season)', async () => {
    const visit = await createVisit(server, {
      start: '2030-07-01 09:00',
      end: '2030-07-01 10:30',
      timeZone: 'Europe/London',
    });
    assert.equal(visit.start, '2030-07-01T08:00:00Z', 'BST is UTC+1');
    assert.equal(visit.end, '2030-07-01T09:30:00Z');
    assert.equal(visit.state, 'scheduled');
  });

  test('ttl alone: the window opens now and lasts ttl', async () => {
    const before = nowSeconds();
    const visit = await createVisit(server, { ttl: '1h30m' });
    assert.equal(visit.state, 'open');
    const after = nowSeconds();
    assert.ok(visit.expiresAt >= before + 5400 && visit.expiresAt <= after + 5400, visit.end);
  });

  test('devices, vertical gen, hostLogin false, more hosts and guests, short links off', async () => {
    const devices = ['sip:room-1@example.com', 'room-2@example.room.wbx2.com'];
    const visit = await createVisit(server, {
      hosts: 2,
      guests: 3,
      devices,
      vertical: 'gen',
      hostLogin: false,
      shortUrls: false,
    });
    assert.deepEqual(visit.devices, devices);
    assert.equal(visit.vertical, 'gen');
    assert.equal(visit.hostLogin, false);
    assert.equal(visit.shortUrls, false);
    assert.deepEqual(visit.counts, { hosts: 2, guests: 3 });
    visit.hosts.forEach((l, i) => {
      assertLinkShape(l, 'host', i, visit);
    });
    visit.guests.forEach((l, i) => {
      assertLinkShape(l, 'guest', i, visit);
    });
    // hostLogin false: the host's long link is the talk page, not login.
    assert.match(visit.hosts[0]!.longUrl, /\/gen\/v1\/talk\?/);
    const ciphers = [...visit.hosts, ...visit.guests].map((l) => l.cipher);
    assert.equal(new Set(ciphers).size, 5, 'every link has its own token');
  });

  test('the created event records who and what, without any secret', async () => {
    const visit = await createVisit(server, { guests: 2 });
    const events = await eventsOf(server, visit.id);
    assert.equal(events.length, 1);
    const [created] = events;
    assert.equal(created!.type, 'visit.created');
    assert.equal(created!.actor, visit.createdBy);
    assert.equal(created!.data['hosts'], 1);
    assert.equal(created!.data['guests'], 2);
    assert.equal(created!.data['subject'], visit.subject);
  });
});

describe('POST /api/visits refuses bad input', () => {
  /** The total of the list, to prove a refused request stored nothing. */
  const total = async () => (await listVisits(server, { limit: 1 })).total;

  async function refused(
    body: unknown,
    paths: string[],
    init: { raw?: string; contentType?: string; key?: string | null } = {},
  ): Promise<HttpAnswer> {
    const count = await total();
    const headers: Record<string, string> = { 'content-type': init.contentType ?? 'application/json' };
    const key = init.key === undefined ? server.key : init.key;
    if (key !== null) headers['authorization'] = `Bearer ${key}`;
    const answer = await call(`${server.url}/api/visits`, {
      method: 'POST',
      headers,
      body: init.raw ?? JSON.stringify({ ...FAST, ...(body as object) }),
    });
    assert.ok(answer.status < 500, `never a 500: ${answer.status} ${answer.text}`);
    if (paths.length > 0) {
      assertEnvelope(answer, 400, 'ERR_VALIDATION');
      const named = answer.body.errors.map((e: { path: string }) => e.path);
      for (const path of paths) assert.ok(named.includes(path), `errors name ${path}: ${answer.text}`);
    }
    assert.equal(await total(), count, 'a refused request stores nothing');
    return answer;
  }

  test('an unknown field is named, with the field it probably meant', async () => {
    const answer = await refused({ numGuest: 2 }, ['numGuest']);
    const error = answer.body.errors.find((e: { path: string }) => e.path === 'numGuest');
    assert.equal(error.rule, 'unknown');
    assert.match(error.description, /did you mean guests/);
  });

  test('a start that is not a time', async () => {
    const answer = await refused({ start: 'next tuesday-ish' }, ['start']);
    assert.match(answer.body.errors[0].description, /start/);
  });

  test('an end before the start names the window', async () => {
    const answer = await refused({ start: '+2h', end: '+1h' }, []);
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    const paths = answer.body.errors.map((e: { path: string }) => e.path);
    assert.ok(
      paths.some((p: string) => p === 'start' || p === 'end'),
      `start or end is named: ${answer.text}`,
    );
    assert.match(answer.text, /start/);
    assert.match(answer.text, /end/);
    assert.doesNotMatch(answer.text, /notBefore|expiresAt/, 'fields are named as the visit API knows them');
  });

  test('an end in the past', async () => {
    await refused({ end: '2001-01-01T00:00:00Z' }, ['end']);
  });

  test('end and ttl together', async () => {
    await refused({ end: '+1h', ttl: '30m' }, ['ttl']);
  });

  test('a ttl that is not a duration', async () => {
    await refused({ ttl: 'a while' }, ['ttl']);
  });

  test('a ttl of bare digits in a string asks for a unit; a JSON number is seconds', async () => {
    const answer = await refused({ ttl: '45' }, ['ttl']);
    assert.match(answer.body.errors[0].description, /write 45m for minutes or 45s for seconds/);
    const before = nowSeconds();
    const visit = await createVisit(server, { ttl: 45 });
    assert.ok(visit.expiresAt >= before + 45 && visit.expiresAt <= nowSeconds() + 45, visit.end);
  });

  test('an unknown time zone', async () => {
    const answer = await refused({ start: '2030-01-15 09:00', timeZone: 'Mars/Olympus_Mons' }, ['timeZone']);
    assert.match(answer.body.errors[0].description, /Mars\/Olympus_Mons/);
  });

  test('guests without a host: refused, since they would wait for ever', async () => {
    const answer = await refused({ hosts: 0, guests: 2 }, ['hosts']);
    assert.match(
      answer.body.errors[0].description,
      /at least 1: guests wait in the lobby until a host joins/,
    );
  });

  test('no hosts and no guests', async () => {
    await refused({ hosts: 0, guests: 0 }, ['hosts']);
  });

  test('501 links', async () => {
    const answer = await refused({ hosts: 1, guests: 500 }, []);
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    const paths = answer.body.errors.map((e: { path: string }) => e.path);
    assert.ok(
      paths.some((p: string) => p === 'hosts' || p === 'guests'),
      answer.text,
    );
    assert.match(answer.text, /500/);
    await refused({ guests: 501 }, ['guests']);
  });

  test('a device that is not a SIP URI is named by its index', async () => {
    await refused({ devices: ['sip:room@example.com', 'not a uri'] }, ['devices[1]']);
  });

  test('every problem is reported at once', async () => {
    await refused({ hosts: 0, guests: 0, start: 'x', timeZone: 'Bad/Zone', vertical: 'dental' }, [
      'hosts',
      'start',
      'timeZone',
      'vertical',
    ]);
  });

  test('wrong types', async () => {
    await refused({ hosts: '1', shortUrls: 'yes', subject: 7 }, ['hosts', 'shortUrls', 'subject']);
  });

  test('a body that is not an object', async () => {
    for (const raw of ['[]', '"visit"', '42', 'null']) {
      const answer = await refused(undefined, [], { raw });
      assert.equal(answer.status, 400, `${raw}: ${answer.text}`);
      assert.ok(['ERR_VALIDATION', 'ERR_BAD_JSON'].includes(answer.body.code), answer.text);
      assertEnvelope(answer, 400, answer.body.code);
    }
  });

  test('no API key, or a bad one: 401', async () => {
    const missing = await refused({}, [], { key: null });
    assertEnvelope(missing, 401, 'ERR_UNAUTHORIZED');
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
    const malformed = await refused({}, [], { key: 'not-a-key' });
    assertEnvelope(malformed, 401, 'ERR_UNAUTHORIZED');
    // Well-formed, but no such key.
    const last = server.key.at(-1) === 'A' ? 'B' : 'A';
    const unknown = await refused({}, [], { key: `${server.key.slice(0, -1)}${last}` });
    assertEnvelope(unknown, 401, 'ERR_UNAUTHORIZED');
    // Reading needs a key too.
    assertEnvelope(
      await api(server, 'GET', '/api/visits', undefined, { key: null }),
      401,
      'ERR_UNAUTHORIZED',
    );
  });

  test('not JSON: 415', async () => {
    const answer = await refused(undefined, [], { raw: 'hosts=1&guests=1', contentType: 'text/plain' });
    assertEnvelope(answer, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
    const form = await refused(undefined, [], {
      raw: 'hosts=1&guests=1',
      contentType: 'application/x-www-form-urlencoded',
    });
    assertEnvelope(form, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  test('malformed JSON: 400 ERR_BAD_JSON', async () => {
    const answer = await refused(undefined, [], { raw: '{"hosts": 1,' });
    assertEnvelope(answer, 400, 'ERR_BAD_JSON');
  });

  test('an empty body with Content-Type: application/json is no body: a visit with every default', async () => {
    const count = await total();
    const answer = await call(`${server.url}/api/visits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.key}` },
      body: '',
    });
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.body.hosts.length, 1);
    assert.equal(answer.body.guests.length, 1);
    assert.equal(await total(), count + 1);
  });

  test('a valid request after all those still works (nothing left half-done)', async () => {
    const count = await total();
    const visit = await createVisit(server);
    assert.equal(await total(), count + 1);
    assert.equal((await getVisit(server, visit.id)).state, 'open');
  });
});
