/**
 * POST /hooks/visits, the trigger for workflow engines, over real HTTP: the API key or a hook's
 * HMAC-SHA256 signature (stale, wrong, replayed and revoked refused), flat fields for JSON-path
 * pickers, Idempotency-Key, and delivery of the links by the bot through the Webex emulator.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import type { SentMessage } from '../support/webex-emulator.js';
import { uniqueName } from '../visits/helpers.js';
import {
  allVisits,
  assertNoSecretHeard,
  assertStaysAt,
  type BotHarness,
  eventually,
  request,
  secrets,
  startBotHarness,
  textOf,
  urlOf,
} from './helpers.js';

let h: BotHarness;
let hook: { id: string; secret: string };
before(async () => {
  h = await startBotHarness();
  const made = await h.server.server.context.trigger.createHook(h.server.server.context.org, 'ehr-scheduler');
  hook = { id: made.hook.id, secret: made.secret };
  secrets.add(made.secret);
});
after(async () => {
  await h?.close();
  assertNoSecretHeard();
});

const FAST = { crypto: { iterations: 1000 } };
const now = () => Math.floor(Date.now() / 1000);

function sign(secret: string, timestamp: number | string, raw: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`;
}

/** POST /hooks/visits signed with a hook's secret (or with what `options` overrides). */
function signed(
  body: unknown,
  options: {
    hookId?: string;
    secret?: string;
    timestamp?: number | string;
    signature?: string;
    raw?: string;
    headers?: Record<string, string>;
    server?: TestServer;
  } = {},
) {
  const raw = options.raw ?? JSON.stringify(body);
  const timestamp = options.timestamp ?? now();
  return request(options.server ?? h.server, 'POST', '/hooks/visits', {
    raw,
    key: null,
    headers: {
      'x-ic-hook': options.hookId ?? hook.id,
      'x-ic-timestamp': String(timestamp),
      'x-ic-signature': options.signature ?? sign(options.secret ?? hook.secret, timestamp, raw),
      ...options.headers,
    },
  });
}

function withKey(
  body: unknown,
  options: { headers?: Record<string, string>; raw?: string; server?: TestServer } = {},
) {
  const server = options.server ?? h.server;
  return request(server, 'POST', '/hooks/visits', {
    ...(options.raw !== undefined ? { raw: options.raw } : { body }),
    ...(options.headers ? { headers: options.headers } : {}),
  });
}

async function visitsWithSubject(subject: string, server: TestServer = h.server) {
  return (await allVisits(server)).filter((v) => v.subject === subject);
}

/** A header value carrying the UTF-8 bytes of `text` (as they go on the wire; Node reads them as Latin-1). */
const utf8Bytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** The flat fields are the visit's own links. */
function assertFlat(body: any) {
  assert.match(body.id, /^vis_/);
  assert.equal(body.hostUrl, urlOf(body.hosts[0]));
  assert.equal(body.guestUrl, urlOf(body.guests[0]));
  assert.deepEqual(body.guestUrls, body.guests.map(urlOf));
  for (const url of [body.hostUrl, ...body.guestUrls]) assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\//);
}

describe('POST /hooks/visits: authentication', () => {
  test('with the API key: 201, the visit with flat hostUrl, guestUrl, guestUrls', async () => {
    const subject = uniqueName('trigger key');
    const answer = await withKey({ ...FAST, subject, guests: 2 });
    assert.equal(answer.status, 201, answer.text);
    assertFlat(answer.body);
    assert.equal(answer.body.guestUrls.length, 2);
    assert.equal(answer.body.subject, subject);
    assert.equal(answer.headers.get('location'), `/api/visits/${answer.body.id}`);
    assert.match(answer.body.createdBy, /^key:/);
    const read = await request(h.server, 'GET', `/api/visits/${answer.body.id}`);
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body.guests.map(urlOf), answer.body.guestUrls);
  });

  test('with a hook secret: X-IC-Hook, X-IC-Timestamp, X-IC-Signature v1=HMAC-SHA256("<ts>.<raw body>")', async () => {
    const subject = uniqueName('trigger signed');
    const answer = await signed({ ...FAST, subject });
    assert.equal(answer.status, 201, answer.text);
    assertFlat(answer.body);
    assert.equal(answer.body.createdBy, `hook:${hook.id}`);
    assert.equal((await visitsWithSubject(subject)).length, 1);
  });

  test('the signature covers the raw bytes: \\u escapes signed as sent pass', async () => {
    const subject = uniqueName('Caf\u00e9');
    const raw = JSON.stringify({ ...FAST, subject }).replace('\u00e9', '\\u00e9');
    assert.ok(raw.includes('\\u00e9'));
    const answer = await signed(undefined, { raw });
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.body.subject, subject);
    // Signed over the re-serialised JSON instead of the bytes sent: refused, nothing made.
    const subject2 = uniqueName('Caf\u00e9');
    const raw2 = JSON.stringify({ ...FAST, subject: subject2 }).replace('\u00e9', '\\u00e9');
    const ts = now();
    const other = await signed(undefined, {
      raw: raw2,
      timestamp: ts,
      signature: sign(hook.secret, ts, JSON.stringify(JSON.parse(raw2))),
    });
    assert.equal(other.status, 401, other.text);
    assert.deepEqual(await visitsWithSubject(subject2), []);
  });

  test('refused with 401, and no visit made: stale, future, wrong, malformed, missing, unknown hook, no auth', async () => {
    const subject = uniqueName('trigger refused');
    const body = { ...FAST, subject };
    const raw = JSON.stringify(body);
    const ts = now();
    const cases: [string, Promise<Awaited<ReturnType<typeof signed>>>][] = [
      ['stale timestamp (400 s old)', signed(body, { timestamp: ts - 400 })],
      ['timestamp 400 s ahead', signed(body, { timestamp: ts + 400 })],
      ['signed with another secret', signed(body, { secret: 'ics_not-the-secret-of-this-hook' })],
      [
        'signature of another body',
        signed(body, { signature: sign(hook.secret, ts, `${raw} `), timestamp: ts }),
      ],
      [
        'signature of another timestamp',
        signed(body, { signature: sign(hook.secret, ts - 1, raw), timestamp: ts }),
      ],
      ['no v1= prefix', signed(body, { signature: sign(hook.secret, ts, raw).slice(3), timestamp: ts })],
      [
        'upper-case hex',
        signed(body, { signature: sign(hook.secret, ts, raw).toUpperCase(), timestamp: ts }),
      ],
      ['timestamp in milliseconds', signed(body, { timestamp: Date.now() })],
      ['unknown hook', signed(body, { hookId: 'hook_doesNotExist123' })],
      [
        'no signature',
        request(h.server, 'POST', '/hooks/visits', {
          raw,
          key: null,
          headers: { 'x-ic-hook': hook.id, 'x-ic-timestamp': String(ts) },
        }),
      ],
      ['no authentication at all', request(h.server, 'POST', '/hooks/visits', { raw, key: null })],
      ['a wrong API key', request(h.server, 'POST', '/hooks/visits', { raw, key: 'ic_live_not-a-real-key' })],
    ];
    for (const [what, pending] of cases) {
      const answer = await pending;
      assert.equal(answer.status, 401, `${what}: ${answer.text}`);
      assert.equal(answer.body.code, 'ERR_UNAUTHORIZED', what);
    }
    assert.deepEqual(await visitsWithSubject(subject), []);
  });

  test('no credentials, or signature headers without X-IC-Hook: the 401 says what is missing', async () => {
    const raw = JSON.stringify({ ...FAST, subject: uniqueName('trigger no credentials') });
    const none = await request(h.server, 'POST', '/hooks/visits', { raw, key: null });
    assert.equal(none.status, 401, none.text);
    assert.equal(none.body.code, 'ERR_UNAUTHORIZED');
    assert.doesNotMatch(none.body.message, /unknown|revoked/i);
    for (const needed of ['API key', 'Bearer', 'X-IC-Hook', 'X-IC-Timestamp', 'X-IC-Signature']) {
      assert.ok(none.body.message.includes(needed), `${needed} in ${none.body.message}`);
    }
    const ts = now();
    const noHook = await request(h.server, 'POST', '/hooks/visits', {
      raw,
      key: null,
      headers: { 'x-ic-timestamp': String(ts), 'x-ic-signature': sign(hook.secret, ts, raw) },
    });
    assert.equal(noHook.status, 401, noHook.text);
    assert.match(noHook.body.message, /X-IC-Hook header is missing/);
    // An unknown hook is still called unknown.
    const unknown = await signed(undefined, { raw, hookId: 'hook_doesNotExist123' });
    assert.equal(unknown.status, 401, unknown.text);
    assert.match(unknown.body.message, /Unknown or revoked hook/);
  });

  test('the exact same signed request twice: the second is a replay, refused', async () => {
    const subject = uniqueName('trigger replay');
    const raw = JSON.stringify({ ...FAST, subject });
    const ts = now();
    const signature = sign(hook.secret, ts, raw);
    const first = await signed(undefined, { raw, timestamp: ts, signature });
    assert.equal(first.status, 201, first.text);
    const again = await signed(undefined, { raw, timestamp: ts, signature });
    assert.equal(again.status, 401, again.text);
    assert.match(again.body.message, /replay/i);
    assert.equal((await visitsWithSubject(subject)).length, 1);
    // A fresh signature of the same body (a new timestamp) is a new request.
    const fresh = await signed(undefined, { raw, timestamp: ts + 1 });
    assert.equal(fresh.status, 201, fresh.text);
  });

  test('a revoked hook is refused', async () => {
    const { context } = h.server.server;
    const made = await context.trigger.createHook(context.org, 'to revoke');
    secrets.add(made.secret);
    const ok = await signed(
      { ...FAST, subject: uniqueName('before revoke') },
      { hookId: made.hook.id, secret: made.secret },
    );
    assert.equal(ok.status, 201, ok.text);
    assert.equal(await context.store.revokeHook(context.org.id, made.hook.id, now()), true);
    const subject = uniqueName('after revoke');
    const refused = await signed({ ...FAST, subject }, { hookId: made.hook.id, secret: made.secret });
    assert.equal(refused.status, 401, refused.text);
    assert.deepEqual(await visitsWithSubject(subject), []);
  });
});

describe('Idempotency-Key', () => {
  test('the same key and body again: the same visit, 201 with Idempotent-Replayed, one visit in all', async () => {
    const subject = uniqueName('idempotent');
    const raw = JSON.stringify({ ...FAST, subject });
    const key = `ehr-appt-${randomUUID()}`;
    const first = await withKey(undefined, { raw, headers: { 'idempotency-key': key } });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const second = await withKey(undefined, { raw, headers: { 'idempotency-key': key } });
    assert.equal(second.status, 201, second.text);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(second.body.id, first.body.id);
    assert.deepEqual(second.body.guestUrls, first.body.guestUrls);
    assert.equal(second.body.hostUrl, first.body.hostUrl);
    assert.equal((await visitsWithSubject(subject)).length, 1);
    // Signed requests share the organisation's keys.
    const viaHook = await signed(undefined, { raw, headers: { 'idempotency-key': key } });
    assert.equal(viaHook.status, 201, viaHook.text);
    assert.equal(viaHook.body.id, first.body.id);
  });

  test('the same key with another body: 409, nothing made', async () => {
    const subject = uniqueName('idempotent conflict');
    const key = `conflict-${randomUUID()}`;
    const first = await withKey({ ...FAST, subject }, { headers: { 'idempotency-key': key } });
    assert.equal(first.status, 201, first.text);
    const other = await withKey({ ...FAST, subject, guests: 3 }, { headers: { 'idempotency-key': key } });
    assert.equal(other.status, 409, other.text);
    assert.equal(other.body.code, 'ERR_CONFLICT');
    assert.equal((await visitsWithSubject(subject)).length, 1);
  });

  test('many concurrent requests with one key: one visit', async () => {
    const subject = uniqueName('idempotent race');
    const raw = JSON.stringify({ ...FAST, subject, guests: 2 });
    const key = `race-${randomUUID()}`;
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => withKey(undefined, { raw, headers: { 'idempotency-key': key } })),
    );
    for (const a of answers) assert.ok([201, 409].includes(a.status), `${a.status}: ${a.text}`);
    const created = answers.filter((a) => a.status === 201);
    assert.ok(created.length >= 1, 'at least one made it');
    assert.equal(new Set(created.map((a) => a.body.id)).size, 1, 'every 201 is the same visit');
    assert.equal((await visitsWithSubject(subject)).length, 1, 'one visit');
    // Once done, a retry gets that visit.
    const retry = await withKey(undefined, { raw, headers: { 'idempotency-key': key } });
    assert.equal(retry.status, 201, retry.text);
    assert.equal(retry.body.id, created[0]!.body.id);
  });

  test('a malformed key: 400', async () => {
    const answer = await withKey({ ...FAST }, { headers: { 'idempotency-key': 'has spaces in it' } });
    assert.equal(answer.status, 400, answer.text);
    assert.match(answer.text, /Idempotency-Key/);
  });
});

/**
 * Replays and Idempotency-Keys on one backend (SQLite, then PostgreSQL): `target()` is the server
 * and a hook of its organisation.
 */
function replayAndIdempotency(target: () => { server: TestServer; hook: { id: string; secret: string } }) {
  const on = () => ({ server: target().server, hookId: target().hook.id, secret: target().hook.secret });
  const sha256 = (raw: string) => createHash('sha256').update(raw).digest('hex');

  test('a replay with NO-BREAK SPACE, another Unicode space or another spelling of X-IC-Signature: 401, no extra visit', async () => {
    const { server } = target();
    const subject = uniqueName('replay variants');
    const raw = JSON.stringify({ ...FAST, subject });
    const ts = now();
    const sig = sign(on().secret, ts, raw);
    const wrong = sign('ics_not-the-secret', ts, raw);
    const first = await signed(undefined, { ...on(), raw, timestamp: ts, signature: sig });
    assert.equal(first.status, 201, first.text);
    const unicode: [string, string][] = [
      ['NO-BREAK SPACE after', `${sig}\u00a0`],
      ['NO-BREAK SPACE before', `\u00a0${sig}`],
      ['NO-BREAK SPACE twice', `${sig}\u00a0\u00a0`],
      ['NEXT LINE (0x85)', `${sig}\u0085`],
      ['FIGURE SPACE (UTF-8 bytes)', utf8Bytes(`${sig}\u2007`)],
      ['IDEOGRAPHIC SPACE (UTF-8 bytes)', utf8Bytes(`${sig}\u3000`)],
      ['BYTE ORDER MARK (UTF-8 bytes)', utf8Bytes(`\ufeff${sig}`)],
      ['a tab inside', `v1=\t${sig.slice(3)}`],
    ];
    for (const [what, signature] of unicode) {
      const answer = await signed(undefined, { ...on(), raw, timestamp: ts, signature });
      assert.equal(answer.status, 401, `${what}: ${answer.text}`);
      assert.match(answer.body.message, /printable ASCII/, what);
    }
    const spellings: [string, string][] = [
      ['ASCII spaces around', ` ${sig}  `],
      ['twice', `${sig},${sig}`],
      ['with a wrong second signature', `${sig}, ${wrong}`],
      ['after a wrong signature', `${wrong} ,${sig}`],
    ];
    for (const [what, signature] of spellings) {
      const answer = await signed(undefined, { ...on(), raw, timestamp: ts, signature });
      assert.equal(answer.status, 401, `${what}: ${answer.text}`);
      assert.match(answer.body.message, /replay/i, what);
    }
    for (const [what, signature] of [
      ['upper-case hex', sig.toUpperCase()],
      ['three signatures', `${wrong},${wrong},${sig}`],
    ]) {
      const answer = await signed(undefined, { ...on(), raw, timestamp: ts, signature: signature! });
      assert.equal(answer.status, 401, `${what}: ${answer.text}`);
    }
    assert.equal(
      (await visitsWithSubject(subject, server)).length,
      1,
      'one visit, however the header is spelled',
    );
  });

  test('two v1 signatures in one header (a rotation), one of them right: 201', async () => {
    const { server } = target();
    const subject = uniqueName('two signatures');
    const raw = JSON.stringify({ ...FAST, subject });
    const ts = now();
    const right = sign(on().secret, ts, raw);
    const wrong = sign('ics_the-other-secret', ts, raw);
    const answer = await signed(undefined, { ...on(), raw, timestamp: ts, signature: `${wrong},${right}` });
    assert.equal(answer.status, 201, answer.text);
    const both = await signed(undefined, {
      ...on(),
      raw: `${raw} `,
      timestamp: ts,
      signature: `${sign(on().secret, ts, `${raw} `)}, ${wrong}`,
    });
    assert.equal(both.status, 201, both.text);
    const neither = await signed(undefined, {
      ...on(),
      raw: `${raw}  `,
      timestamp: ts,
      signature: `${wrong},${wrong}`,
    });
    assert.equal(neither.status, 401, neither.text);
    assert.equal((await visitsWithSubject(subject, server)).length, 2);
  });

  test('a replay of a signed request with a known Idempotency-Key: the stored answer (201, same visit); unknown key or none: 401', async () => {
    const { server } = target();
    const subject = uniqueName('replay with key');
    const raw = JSON.stringify({ ...FAST, subject });
    const ts = now();
    const signature = sign(on().secret, ts, raw);
    const key = `replay-${randomUUID()}`;
    const first = await signed(undefined, {
      ...on(),
      raw,
      timestamp: ts,
      signature,
      headers: { 'idempotency-key': key },
    });
    assert.equal(first.status, 201, first.text);
    const again = await signed(undefined, {
      ...on(),
      raw,
      timestamp: ts,
      signature,
      headers: { 'idempotency-key': key },
    });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    assert.deepEqual(again.body.guestUrls, first.body.guestUrls);
    // The same bytes without the key, or with a key never used: a replay, refused; nothing made.
    const bare = await signed(undefined, { ...on(), raw, timestamp: ts, signature });
    assert.equal(bare.status, 401, bare.text);
    assert.match(bare.body.message, /replay/i);
    const unknown = await signed(undefined, {
      ...on(),
      raw,
      timestamp: ts,
      signature,
      headers: { 'idempotency-key': `never-${randomUUID()}` },
    });
    assert.equal(unknown.status, 401, unknown.text);
    assert.equal((await visitsWithSubject(subject, server)).length, 1);
  });

  test('a key whose request crashed (reserved, never completed): 409 while leased; after the lease a retry makes the one visit', async () => {
    const { server } = target();
    const { store, org, visits } = server.server.context;
    const t = now();
    const claimAt = (at: number, visitId: string) => ({
      visitId,
      owner: 'crashed-request',
      leaseUntil: at + 60,
      expiredBefore: at - 86_400,
    });
    // Reserved a moment ago: its lease runs, the first request may still be working.
    const liveRaw = JSON.stringify({ ...FAST, subject: uniqueName('leased') });
    const liveKey = `leased-${randomUUID()}`;
    await store.reserveIdempotencyKey(org.id, liveKey, sha256(liveRaw), t, claimAt(t, 'vis_leasedNow'));
    const leased = await withKey(undefined, {
      server,
      raw: liveRaw,
      headers: { 'idempotency-key': liveKey },
    });
    assert.equal(leased.status, 409, leased.text);
    assert.match(leased.body.message, /still being served/);
    // Reserved 61 s ago by a request that crashed, before or after making its visit.
    for (const visitMade of [false, true]) {
      const subject = uniqueName(`crashed ${visitMade ? 'after' : 'before'} the visit`);
      const body = { ...FAST, subject };
      const raw = JSON.stringify(body);
      const key = `crash-${randomUUID()}`;
      const crashed = claimAt(t - 61, `vis_crash${randomUUID().slice(0, 8)}`);
      await store.reserveIdempotencyKey(org.id, key, sha256(raw), t - 61, crashed);
      if (visitMade) await visits.create(org, 'key:crashed', body, { id: crashed.visitId });
      const retry = await withKey(undefined, { server, raw, headers: { 'idempotency-key': key } });
      assert.equal(retry.status, 201, retry.text);
      assert.equal(retry.body.id, crashed.visitId, 'the visit chosen when the key was first reserved');
      const again = await withKey(undefined, { server, raw, headers: { 'idempotency-key': key } });
      assert.equal(again.status, 201, again.text);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(again.body.id, crashed.visitId);
      assert.equal((await visitsWithSubject(subject, server)).length, 1, 'exactly one visit');
    }
  });

  test('a key first used more than 24 h ago has expired: a new visit', async () => {
    const { server } = target();
    const { store, org } = server.server.context;
    const subject = uniqueName('expired key');
    const raw = JSON.stringify({ ...FAST, subject });
    const key = `old-${randomUUID()}`;
    const long = now() - 86_401;
    const old = {
      visitId: 'vis_longGone',
      owner: 'old',
      leaseUntil: long + 60,
      expiredBefore: long - 86_400,
    };
    await store.reserveIdempotencyKey(org.id, key, sha256(raw), long, old);
    await store.completeIdempotencyKey(org.id, key, 'vis_longGone', long);
    const answer = await withKey(undefined, { server, raw, headers: { 'idempotency-key': key } });
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.headers.get('idempotent-replayed'), null);
    assert.notEqual(answer.body.id, 'vis_longGone');
    const again = await withKey(undefined, { server, raw, headers: { 'idempotency-key': key } });
    assert.equal(again.body.id, answer.body.id, 'and the key is live again');
    assert.equal((await visitsWithSubject(subject, server)).length, 1);
  });

  test('a rotated hook secret: the new one at once, the old one during the grace period only', async () => {
    const { server } = target();
    const { trigger, org } = server.server.context;
    const made = await trigger.createHook(org, 'rotating');
    secrets.add(made.secret);
    const rotated = await trigger.rotateHook(org, made.hook.id, 3600);
    secrets.add(rotated.secret);
    assert.notEqual(rotated.secret, made.secret);
    const subject = uniqueName('rotation');
    const send = (secret: string, extra = '') =>
      signed(undefined, {
        server,
        hookId: made.hook.id,
        secret,
        raw: `${JSON.stringify({ ...FAST, subject })}${extra}`,
      });
    assert.equal((await send(rotated.secret)).status, 201);
    assert.equal((await send(made.secret, ' ')).status, 201, 'the old secret during the grace period');
    const ts = now();
    const raw = `${JSON.stringify({ ...FAST, subject })}  `;
    const both = await signed(undefined, {
      server,
      hookId: made.hook.id,
      raw,
      timestamp: ts,
      signature: `${sign(made.secret, ts, raw)},${sign(rotated.secret, ts, raw)}`,
    });
    assert.equal(both.status, 201, both.text);
    // Rotated again without grace: only the newest secret.
    const last = await trigger.rotateHook(org, made.hook.id, 0);
    secrets.add(last.secret);
    assert.equal((await send(rotated.secret, '   ')).status, 401);
    assert.equal((await send(made.secret, '    ')).status, 401);
    assert.equal((await send(last.secret, '     ')).status, 201);
    assert.equal((await visitsWithSubject(subject, server)).length, 4);
  });
}

describe('replays and Idempotency-Keys on SQLite', () => {
  replayAndIdempotency(() => ({ server: h.server, hook }));
});

const pgBase = testDatabaseUrl();
describe('replays and Idempotency-Keys on PostgreSQL', { skip: pgBase ? false : PG_SKIP }, () => {
  let db: TestDatabase;
  let server: TestServer;
  let pgHook: { id: string; secret: string };
  before(async () => {
    db = await createTestDatabase(pgBase!);
    server = await startTestServer({ databaseUrl: db.url });
    secrets.add(server.key);
    const made = await server.server.context.trigger.createHook(server.server.context.org, 'pg');
    pgHook = { id: made.hook.id, secret: made.secret };
    secrets.add(made.secret);
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });
  replayAndIdempotency(() => ({ server, hook: pgHook }));
});

describe('notify: the bot delivers the links', () => {
  const isHostMessage = (email: string) => (m: SentMessage) => m.toPersonEmail === email;
  const inRoom = (roomId: string) => (m: SentMessage) => m.roomId === roomId;

  test('the host link to the host by email, 1:1; the guest links to the room', async () => {
    const host = h.emulator.addPerson({ email: `${uniqueName('dr')}@clinic.example` });
    const room = h.emulator.addGroupRoom();
    const subject = uniqueName('notify');
    const answer = await withKey({
      ...FAST,
      subject,
      guests: 2,
      notify: { host: host.emails[0], guests: { roomId: room } },
    });
    assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(
      answer.body.delivery.map((d: any) => [d.to, d.status]),
      [
        ['host', 'sent'],
        ['guests', 'sent'],
      ],
    );
    const [hostMessage] = h.emulator.sent.filter(isHostMessage(host.emails[0]!));
    assert.ok(hostMessage, 'the host message');
    assert.equal(hostMessage.roomId, undefined);
    assert.ok(textOf(hostMessage).includes(answer.body.hostUrl));
    assert.ok(hostMessage.markdown, 'markdown');
    const [roomMessage] = h.emulator.sent.filter(inRoom(room));
    assert.ok(roomMessage, 'the guest message');
    for (const url of answer.body.guestUrls) assert.ok(textOf(roomMessage).includes(url));
    assert.ok(!textOf(roomMessage).includes(answer.body.hostUrl), 'no host link in the room');
    assert.ok(!textOf(roomMessage).includes(answer.body.hosts[0].longUrl), 'no host link in the room');
    const events = await request(h.server, 'GET', `/api/visits/${answer.body.id}/events`);
    assert.equal(events.body.items.filter((e: any) => e.type === 'delivery.sent').length, 2);
  });

  test('guests to a person by email', async () => {
    const guest = h.emulator.addPerson({ email: `${uniqueName('patient')}@mail.example` });
    const answer = await withKey({ ...FAST, notify: { guests: { toPersonEmail: guest.emails[0] } } });
    assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(answer.body.delivery, [{ to: 'guests', target: guest.emails[0], status: 'sent' }]);
    const [message] = h.emulator.sent.filter(isHostMessage(guest.emails[0]!));
    assert.ok(message && textOf(message).includes(answer.body.guestUrl));
    assert.ok(!textOf(message).includes(answer.body.hostUrl));
  });

  test('Webex failing (503): 201, delivery queued, the visit exists; the messages arrive later from the job', async () => {
    const host = h.emulator.addPerson({ email: `${uniqueName('dr')}@clinic.example` });
    const room = h.emulator.addGroupRoom();
    h.emulator.fail('POST', '/messages', {
      status: 503,
      match: (c) => c.body?.toPersonEmail === host.emails[0],
    });
    h.emulator.fail('POST', '/messages', { status: 503, match: (c) => c.body?.roomId === room });
    const answer = await withKey({ ...FAST, notify: { host: host.emails[0], guests: { roomId: room } } });
    assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(
      answer.body.delivery.map((d: any) => [d.to, d.status]),
      [
        ['host', 'queued'],
        ['guests', 'queued'],
      ],
    );
    assert.match(answer.body.delivery[0].error, /503/);
    const read = await request(h.server, 'GET', `/api/visits/${answer.body.id}`);
    assert.equal(read.status, 200, 'the visit exists');
    const [later] = await h.emulator.waitForMessages(
      isHostMessage(host.emails[0]!),
      1,
      'the host link, later',
    );
    assert.ok(textOf(later!).includes(answer.body.hostUrl));
    const [guests] = await h.emulator.waitForMessages(inRoom(room), 1, 'the guest link, later');
    assert.ok(textOf(guests!).includes(answer.body.guestUrl));
    await assertStaysAt(
      h.emulator,
      (m) => m.toPersonEmail === host.emails[0] || m.roomId === room,
      2,
      'each delivered once',
    );
    const events = await eventually(
      async () =>
        (await request(h.server, 'GET', `/api/visits/${answer.body.id}/events`)).body.items as any[],
      (items) => items.filter((e) => e.type === 'delivery.sent').length === 2,
      'the deliveries recorded',
    );
    assert.equal(events.filter((e) => e.type === 'delivery.queued').length, 2);
    assert.ok(events.filter((e) => e.type === 'delivery.sent').every((e) => e.data.retried === true));
  });

  test('an unknown person (404): failed, reported; the visit still exists; other deliveries go on', async () => {
    const room = h.emulator.addGroupRoom();
    const nobody = `${uniqueName('nobody')}@nowhere.example`;
    const answer = await withKey({ ...FAST, notify: { host: nobody, guests: { roomId: room } } });
    assert.equal(answer.status, 201, answer.text);
    const [hostDelivery, guestDelivery] = answer.body.delivery;
    assert.equal(hostDelivery.status, 'failed');
    assert.equal(hostDelivery.target, nobody);
    assert.match(hostDelivery.error, /404/);
    // Webex's TrackingID is kept, for Cisco support.
    const refusedCall = h.emulator
      .callsTo('POST', '/messages')
      .find((c) => (c.body as any).toPersonEmail === nobody);
    assert.ok(refusedCall);
    assert.ok(hostDelivery.error.includes(refusedCall.trackingId), hostDelivery.error);
    assert.equal(guestDelivery.status, 'sent');
    const read = await request(h.server, 'GET', `/api/visits/${answer.body.id}`);
    assert.equal(read.status, 200, 'the visit exists');
    // Not retried: nobody gets it later either.
    await assertStaysAt(h.emulator, (m) => m.toPersonEmail === nobody, 0, 'messages to nobody');
    assert.equal(
      h.emulator.callsTo('POST', '/messages').filter((c) => (c.body as any).toPersonEmail === nobody).length,
      1,
    );
  });

  test('notify without a bot configured: 400 naming notify, no visit', async () => {
    const plain = await startTestServer();
    secrets.add(plain.key);
    try {
      const subject = uniqueName('no bot');
      const answer = await withKey(
        { ...FAST, subject, notify: { host: 'dr@clinic.example' } },
        { server: plain },
      );
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.body.code, 'ERR_VALIDATION');
      assert.ok(
        answer.body.errors?.some((i: any) => i.path === 'notify'),
        `names notify: ${answer.text}`,
      );
      const list = await request(plain, 'GET', '/api/visits?limit=100');
      assert.equal(list.body.items.filter((v: any) => v.subject === subject).length, 0);
      // Without notify the trigger works there.
      const ok = await withKey({ ...FAST, subject }, { server: plain });
      assert.equal(ok.status, 201, ok.text);
    } finally {
      await plain.close();
    }
  });
});
