/**
 * The space API (`GET|POST /api/v1/space[/]?int=jose[&v=1][&org=…]&data=<cipher>`, reference
 * §4.4, §11.7) and the long-link pages (`/{gen|hc}/v1/{login|talk}`), over real HTTP, with
 * tampered, expired, early, forged and foreign tokens: each refused with a clear error in
 * JSON (API) or HTML (page), never a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BrokerService } from '../../src/broker/service.js';
import { isoSeconds } from '../../src/domain/time.js';
import { testFetch } from '../support/inject-fetch.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  AUDIENCE,
  assertEnvelope,
  assertHtml,
  call,
  forgeHeader,
  HTML,
  type HttpAnswer,
  headerOf,
  issue,
  longPath,
  nowSeconds,
} from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const SPACE_KEYS = [
  'userIdentifier',
  'isLoggedIn',
  'isHost',
  'organizationId',
  'orgName',
  'token',
  'spaceId',
  'visitId',
  'integrationType',
];

const q = (cipher: string) => encodeURIComponent(cipher);

/** The space API in every form the samples use (reference §2, E3–E3c). */
const SPACE_FORMS: { name: string; method: 'GET' | 'POST'; url: (cipher: string) => string }[] = [
  { name: 'GET /api/v1/space/', method: 'GET', url: (c) => `/api/v1/space/?int=jose&data=${q(c)}` },
  { name: 'GET /api/v1/space', method: 'GET', url: (c) => `/api/v1/space?int=jose&data=${q(c)}` },
  { name: 'POST /api/v1/space/', method: 'POST', url: (c) => `/api/v1/space/?int=jose&data=${q(c)}` },
  { name: 'POST /api/v1/space', method: 'POST', url: (c) => `/api/v1/space?int=jose&data=${q(c)}` },
  { name: 'GET with v=1', method: 'GET', url: (c) => `/api/v1/space?int=jose&v=1&data=${q(c)}` },
  {
    name: 'GET with org= and v=1 (SVELTE)',
    method: 'GET',
    url: (c) => `/api/v1/space?org=${server.server.context.org.id}&int=jose&v=1&data=${q(c)}`,
  },
];

function space(cipher: string, form = SPACE_FORMS[0]!): Promise<HttpAnswer> {
  return call(`${server.url}${form.url(cipher)}`, { method: form.method });
}

async function spaceOk(cipher: string, form = SPACE_FORMS[0]!): Promise<Record<string, any>> {
  const answer = await space(cipher, form);
  assert.equal(answer.status, 200, `${form.name}: ${answer.text}`);
  assert.match(answer.headers.get('trackingid') ?? '', /^IC_/);
  return answer.body;
}

function page(cipher: string, vertical: 'gen' | 'hc' = 'hc', kind: 'login' | 'talk' = 'talk') {
  return call(`${server.url}${longPath(vertical, kind, cipher)}`, { headers: HTML });
}

/** The room UUID inside a spaceId (base64 of ciscospark://us/ROOM/<uuid>, padding optional). */
function roomOf(spaceId: string): string {
  const decoded = Buffer.from(spaceId, 'base64').toString('utf8');
  const match =
    /^ciscospark:\/\/us\/ROOM\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(decoded);
  assert.ok(match, `spaceId decodes to ${decoded}`);
  return match[1]!;
}

/** Replaces the character at `index` with another base64url character (the token stays well-formed). */
function flipAt(text: string, index: number): string {
  const c = text[index]!;
  return `${text.slice(0, index)}${c === 'A' ? 'B' : 'A'}${text.slice(index + 1)}`;
}

/** Refused by the space API with `status`/`code`, never quoting the token. */
async function assertSpaceRefused(cipher: string, status: number, code: string): Promise<HttpAnswer> {
  const answer = await space(cipher);
  assertEnvelope(answer, status, code);
  for (const segment of cipher.split('.')) {
    if (segment.length >= 12) assert.ok(!answer.text.includes(segment.slice(0, 12)), 'token not echoed');
  }
  return answer;
}

describe('the space API', () => {
  for (const form of SPACE_FORMS) {
    test(`${form.name}: host and guest answers`, async () => {
      const sub = `space ${form.name}`;
      const body = await issue(server, sub);
      const host = await spaceOk(body.host[0]!.cipher, form);
      const guest = await spaceOk(body.guest[0]!.cipher, form);
      const { org } = server.server.context;
      for (const [answer, isHost] of [
        [host, true],
        [guest, false],
      ] as const) {
        assert.deepEqual(Object.keys(answer), SPACE_KEYS);
        assert.deepEqual(
          { ...answer, token: '' },
          {
            userIdentifier: isHost ? 'Host' : 'Guest',
            isLoggedIn: false,
            isHost,
            organizationId: org.id,
            orgName: org.name,
            token: '',
            spaceId: host.spaceId,
            visitId: host.visitId,
            integrationType: 'jose',
          },
        );
        assert.equal(typeof answer['token'], 'string');
        assert.ok(answer['token'].length >= 16);
        assert.match(answer['visitId'], /^\d+$/);
      }
      roomOf(host['spaceId']);
      assert.notEqual(host['token'], guest['token']);
    });
  }

  test('same subject → same space and visit across calls; another subject → another space', async () => {
    const first = await issue(server, 'Visit A', { numHost: 1, numGuest: 2 });
    const second = await issue(server, 'Visit A', { numHost: 1, numGuest: 1 });
    const other = await issue(server, 'Visit B');
    const ciphers = [...first.host, ...first.guest, ...second.host, ...second.guest].map((e) => e.cipher);
    const answers = await Promise.all(ciphers.map((c) => spaceOk(c)));
    const spaces = new Set(answers.map((a) => a['spaceId']));
    const visits = new Set(answers.map((a) => a['visitId']));
    assert.equal(spaces.size, 1, 'one space for Visit A');
    assert.equal(visits.size, 1, 'one visit for Visit A');
    const b = await spaceOk(other.guest[0]!.cipher);
    assert.notEqual(b['spaceId'], answers[0]!['spaceId']);
    assert.notEqual(b['visitId'], answers[0]!['visitId']);
    assert.notEqual(roomOf(b['spaceId']), roomOf(answers[0]!['spaceId']));
    // Opening the same link again answers the same space.
    assert.equal((await spaceOk(ciphers[0]!))['spaceId'], answers[0]!['spaceId']);
  });

  test('subjects differing only in case or spaces are different visits', async () => {
    const a = await issue(server, 'visit c');
    const b = await issue(server, 'Visit C');
    const c = await issue(server, 'visit c ');
    const ids = await Promise.all([a, b, c].map(async (x) => (await spaceOk(x.host[0]!.cipher))['spaceId']));
    assert.equal(new Set(ids).size, 3);
  });
});

test('the largest link the broker issues (25 devices, 256-character subject, 128-byte salt, CBC) opens', async () => {
  const sub = 'S'.repeat(256);
  const uri = (i: number) => `${'r'.repeat(200)}${i}@${'d'.repeat(40)}.example.com`;
  const flow = { id: 'sip-no-knock', data: Array.from({ length: 25 }, (_, i) => ({ uri: uri(i) })) };
  const body = await issue(server, sub, {
    jwt: { sub, flow },
    saltLength: 128,
    enc: 'A256CBC-HS512',
    provideShortUrls: true,
  });
  const host = body.host[0]!;
  assert.ok(host.cipher.length > 12_000, `${host.cipher.length} characters`);
  assert.equal((await spaceOk(host.cipher))['userIdentifier'], 'Host');
  const viaShort = await testFetch(`${server.url}/visit/${host.short}`, { headers: HTML });
  assert.equal(viaShort.status, 200);
  assert.match(await viaShort.text(), />Valid</);
});

describe('the long-link pages', () => {
  test('/{gen|hc}/v1/{login|talk} show the subject, the role from the token (not the path), and Valid', async () => {
    const body = await issue(server, 'Page visit');
    for (const vertical of ['gen', 'hc'] as const) {
      for (const kind of ['login', 'talk'] as const) {
        for (const [role, cipher] of [
          ['host', body.host[0]!.cipher],
          ['guest', body.guest[0]!.cipher],
        ] as const) {
          const html = assertHtml(await page(cipher, vertical, kind), 200);
          assert.match(html, /<h1>Page visit<\/h1>/);
          assert.match(html, new RegExp(`You are ${role === 'host' ? 'the host' : 'a guest'}`));
          assert.match(html, new RegExp(`data-role="${role}"`));
          assert.match(html, />Valid</);
          assert.ok(!html.includes(cipher.split('.')[3]!.slice(0, 16)), 'no cipher in the page');
        }
      }
    }
  });

  test('the page shows when the link expires', async () => {
    const exp = nowSeconds() + 3600;
    const body = await issue(server, 'expiry shown', { jwt: { sub: 'expiry shown', exp } });
    const html = assertHtml(await page(body.guest[0]!.cipher), 200);
    assert.ok(html.includes(`datetime="${isoSeconds(exp)}"`), html);
  });

  test('an unknown vertical or page is a 404', async () => {
    const body = await issue(server, 'wrong path');
    const answer = await call(`${server.url}/xx/v1/talk?int=jose&v=1&data=${q(body.guest[0]!.cipher)}`);
    assertEnvelope(answer, 404, 'ERR_NOT_FOUND');
  });
});

describe('refusals: tampering, missing data, time window, forged headers, foreign keys', () => {
  let cipher: string;
  before(async () => {
    cipher = (await issue(server, 'tamper target')).guest[0]!.cipher;
    await spaceOk(cipher); // the untouched token opens
  });

  test('one flipped character in any segment: 400 ERR_TOKEN_INVALID, page "not valid"', async () => {
    const segments = cipher.split('.');
    for (let s = 0; s < segments.length; s++) {
      // Middle of the segment (never the last character, so the base64url stays canonical).
      const index = Math.floor(segments[s]!.length / 2);
      const tampered = segments.map((seg, i) => (i === s ? flipAt(seg, index) : seg)).join('.');
      assert.notEqual(tampered, cipher);
      const answer = await assertSpaceRefused(tampered, 400, 'ERR_TOKEN_INVALID');
      assert.ok(answer.body.message.length > 0);
      const html = assertHtml(await page(tampered), 400);
      assert.match(html, /This link is not valid/);
    }
  });

  test('a truncated token, a token with a segment dropped, junk: 400, never 500', async () => {
    const parts = cipher.split('.');
    for (const bad of [
      cipher.slice(0, -5),
      parts.slice(0, 4).join('.'),
      `${cipher}.extra`,
      'abc',
      'a.b.c.d.e',
      '....',
      cipher.replaceAll('-', '+'),
      'x'.repeat(12_000),
    ]) {
      await assertSpaceRefused(bad, 400, 'ERR_TOKEN_INVALID');
      assertHtml(await page(bad), 400);
    }
  });

  test('missing data: 400 naming data (JSON), "incomplete" page (HTML)', async () => {
    for (const path of ['/api/v1/space?int=jose', '/api/v1/space/?int=jose&data=', '/api/v1/space']) {
      const answer = await call(`${server.url}${path}`);
      assertEnvelope(answer, 400, 'ERR_VALIDATION');
      assert.deepEqual(
        answer.body.errors.map((e: { path: string }) => e.path),
        ['data'],
      );
    }
    const html = assertHtml(await call(`${server.url}/hc/v1/talk?int=jose&v=1`, { headers: HTML }), 400);
    assert.match(html, /This link is incomplete/);
    const json = await call(`${server.url}/hc/v1/talk?int=jose&v=1`);
    assertEnvelope(json, 400, 'ERR_VALIDATION');
  });

  test('int other than jose: 400 naming int', async () => {
    const answer = await call(`${server.url}/api/v1/space?int=saml&data=${q(cipher)}`);
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    assert.equal(answer.body.errors[0].path, 'int');
  });

  test('an expired token: 403 ERR_TOKEN_EXPIRED (JSON), "expired" page (HTML)', async () => {
    // Issued by the same broker (same store, keys and org) with a clock two hours behind.
    const { context } = server.server;
    const past = nowSeconds() - 7200;
    const lagging = new BrokerService({
      store: context.store,
      keyring: context.keyring,
      limiter: context.limiter,
      publicUrl: server.url,
      now: () => past,
    });
    const issued = await lagging.issue(
      context.org,
      { aud: AUDIENCE, jwt: { sub: 'expired visit', exp: past + 900 }, iterations: 1000 },
      'v2',
    );
    const expired = issued.links.find((l) => l.role === 'host')!.cipher;
    const answer = await assertSpaceRefused(expired, 403, 'ERR_TOKEN_EXPIRED');
    assert.ok(answer.body.message.includes(isoSeconds(past + 900)), answer.body.message);
    for (const kind of ['login', 'talk'] as const) {
      const html = assertHtml(await page(expired, 'hc', kind), 403);
      assert.match(html, /This link has expired/);
      assert.ok(!html.includes('>Valid<'));
    }
  });

  test('a token that expires while waiting: valid first, then refused', async () => {
    const exp = nowSeconds() + 4;
    const body = await issue(server, 'short lived', { jwt: { sub: 'short lived', exp } });
    const link = body.guest[0]!.cipher;
    await spaceOk(link);
    await new Promise((resolve) => setTimeout(resolve, (exp + 1) * 1000 - Date.now()));
    await assertSpaceRefused(link, 403, 'ERR_TOKEN_EXPIRED');
    assertHtml(await page(link), 403);
  });

  test('a token not yet valid: 403 ERR_TOKEN_NOT_YET_VALID, and the page says when it opens', async () => {
    const nbf = nowSeconds() + 3600;
    const body = await issue(server, 'later', { jwt: { sub: 'later', nbf, exp: nbf + 900 } });
    const early = body.host[0]!.cipher;
    const answer = await assertSpaceRefused(early, 403, 'ERR_TOKEN_NOT_YET_VALID');
    assert.ok(answer.body.message.includes(isoSeconds(nbf)), answer.body.message);
    const html = assertHtml(await page(early, 'hc', 'login'), 403);
    assert.match(html, /has not started yet/);
    assert.ok(html.includes(`datetime="${isoSeconds(nbf)}"`), 'the time it opens');
    assert.ok(html.includes(`>${isoSeconds(nbf)}</time>`));
  });

  test('a header forged to p2c 10,000,000 is refused before any PBKDF2 (fast)', async () => {
    const forged = forgeHeader(cipher, (h) => ({ ...h, p2c: 10_000_000 }));
    assert.equal(headerOf(forged)['p2c'], 10_000_000);
    // Count the crypto jobs the server starts (its limiter runs every PBKDF2).
    const { limiter } = server.server.context;
    const run = limiter.run;
    let jobs = 0;
    limiter.run = function (this: typeof limiter, ...args: Parameters<typeof run>) {
      jobs++;
      return run.apply(this, args);
    } as typeof run;
    let elapsed: number;
    let answer: HttpAnswer;
    let html: string;
    try {
      const started = performance.now();
      answer = await assertSpaceRefused(forged, 400, 'ERR_TOKEN_INVALID');
      html = assertHtml(await page(forged), 400);
      elapsed = performance.now() - started;
      assert.equal(jobs, 0, 'no PBKDF2 job was started');
      // The counter counts: an untouched token opened for the first time does start one
      // (a fresh one: tokens already opened are cached until they expire).
      const fresh = (await issue(server, 'p2c counter', { iterations: 1000 })).guest[0]!.cipher;
      jobs = 0;
      await spaceOk(fresh);
      assert.equal(jobs, 1);
    } finally {
      limiter.run = run;
    }
    // 10 M iterations of PBKDF2-SHA512 take many seconds; the header check takes microseconds.
    assert.ok(elapsed < 3000, `took ${elapsed.toFixed(0)} ms`);
    assert.match(answer.body.message, /p2c/);
    assert.match(html, /This link is not valid/);
  });

  test('other forged headers: unknown kid, no kid, another aud, extra members, zip', async () => {
    for (const edit of [
      (h: Record<string, unknown>) => ({ ...h, kid: 'AAAAAAAAAAAA' }),
      ({ kid: _kid, ...h }: Record<string, unknown>) => h,
      (h: Record<string, unknown>) => ({ ...h, aud: '9b5cbbf6-f9bc-42ef-a20c-14028b25372b' }),
      (h: Record<string, unknown>) => ({ ...h, zip: 'DEF' }),
      (h: Record<string, unknown>) => ({ ...h, alg: 'dir' }),
      (h: Record<string, unknown>) => ({ ...h, p2c: 999 }),
      (h: Record<string, unknown>) => ({ ...h, p2s: 'AAAA' }),
    ]) {
      const forged = forgeHeader(cipher, edit);
      await assertSpaceRefused(forged, 400, 'ERR_TOKEN_INVALID');
      assertHtml(await page(forged), 400);
    }
  });

  test("a token from another broker's key is refused (JSON and page)", async () => {
    const other = await startTestServer();
    try {
      const foreign = (await issue(other, 'tamper target')).host[0]!.cipher;
      // It is a good token where it was made ...
      const there = await call(`${other.url}/api/v1/space/?int=jose&data=${q(foreign)}`);
      assert.equal(there.status, 200, there.text);
      // ... and nothing here.
      await assertSpaceRefused(foreign, 400, 'ERR_TOKEN_INVALID');
      assertHtml(await page(foreign, 'hc', 'login'), 400);
      // Not even with its kid removed (then every key here is tried).
      const anonymous = forgeHeader(foreign, ({ kid: _kid, ...h }) => h);
      await assertSpaceRefused(anonymous, 400, 'ERR_TOKEN_INVALID');
    } finally {
      await other.close();
    }
  });
});
