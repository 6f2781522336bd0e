/**
 * Hostile input against the staff page (`/`, `/session`, `/session/end`, `/visits…`), the health
 * and metrics routes, the static assets (path traversal in every encoding), very long URLs and
 * headers, odd methods on every route, and garbage on the socket. Bad cookies sign nobody in,
 * forged CSRF tokens and foreign origins change nothing, hostile forms are answered with the form
 * again; never a 5xx, never a file outside public/.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { FIELDS } from '../../src/server/staff/form.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  type Ans,
  appRoutes,
  assertAlive,
  assertEnvelope,
  assertNoPollution,
  assertSane,
  BAD_PERCENT,
  expectAnswer,
  hostileKey,
  malformedPercent,
  nastyString,
  q,
  type Req,
  runs,
  send,
  statusesFor,
} from './support.js';

const FORM = 'application/x-www-form-urlencoded';

/**
 * The routes this suite fuzzes (api, links, hooks, pages and logs files). A route the app
 * registers that is not here fails the coverage test: add its hostile-input tests, then add it.
 */
const FUZZED_ROUTES = new Set([
  // api.test.ts
  '/api/v1/joseencrypt',
  '/api/v2/joseencrypt',
  '/api/visits',
  '/api/visits/:id',
  '/api/visits/:id/events',
  '/api/visits/:id/deliveries',
  '/api/visits/:id/links',
  // events.test.ts
  '/api/events/subscriptions',
  '/api/events/subscriptions/:id',
  '/api/events/subscriptions/:id/rotate',
  '/api/events/deliveries',
  '/api/events/deliveries/:id/replay',
  '/api/visits/:id/links/:role/:index',
  '/api/visits/:id/links/:role/:index/resend',
  // links.test.ts
  '/visit/:code',
  '/:vertical/v1/:page',
  '/api/v1/space',
  '/api/v1/space/',
  '/live/join',
  '/live/leave',
  '/live/end',
  '/live/status',
  '/live/events',
  // hooks.test.ts
  '/hooks/visits',
  '/hooks/webex',
  // meetings.test.ts
  '/hooks/webex/meetings',
  // sms.test.ts
  '/hooks/sms/twilio/status',
  '/hooks/sms/twilio/inbound',
  // this file
  '/',
  '/session',
  '/session/end',
  '/visits',
  '/visits/:id',
  '/visits/:id/cancel',
  '/visits/:id/links/:role/:index/resend',
  '/staff/events',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/docs',
  '/*',
]);
const HTML = { accept: 'text/html' };

let server: TestServer;
let cookie: string;
let csrf: string;
let visitId: string;

const form = (fields: [string, string][]) => new URLSearchParams(fields).toString();

async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const answer = await send(server.url, {
    method: 'POST',
    path: '/session',
    headers: { 'content-type': FORM },
    body: form([['key', server.key]]),
  });
  assert.equal(answer.status, 303, answer.text);
  const line = [answer.headers['set-cookie']].flat().find((l) => l?.startsWith('ic_session='));
  assert.ok(line, 'a session cookie');
  const c = line.split(';')[0]!;
  const page = await send(server.url, { path: '/', headers: { cookie: c } });
  assert.equal(page.status, 200);
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
  assert.ok(token, 'the dashboard holds a CSRF token');
  return { cookie: c, csrf: token };
}

async function visitCount(): Promise<number> {
  const answer = await send(server.url, {
    path: '/api/visits?limit=1',
    headers: { authorization: `Bearer ${server.key}` },
  });
  return answer.json.total;
}

async function visitState(id: string): Promise<string> {
  const answer = await send(server.url, {
    path: `/api/visits/${id}`,
    headers: { authorization: `Bearer ${server.key}` },
  });
  return answer.json.state;
}

/** Still signed in: the dashboard, not the sign-in page. */
async function assertSignedIn(c = cookie): Promise<void> {
  const page = await send(server.url, { path: '/', headers: { cookie: c } });
  assert.equal(page.status, 200);
  assert.match(page.text, /name="_csrf"/, 'the session survived');
}

before(async () => {
  server = await startTestServer();
  ({ cookie, csrf } = await signIn());
  const made = await send(server.url, {
    method: 'POST',
    path: '/api/visits',
    headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'hostile staff', crypto: { iterations: 1000 } }),
  });
  assert.equal(made.status, 201, made.text);
  visitId = made.json.id;
});
after(async () => {
  await assertSignedIn();
  assert.notEqual(await visitState(visitId), 'cancelled');
  await assertAlive(server.url);
  assertNoPollution();
  await server.close();
});

const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e]/g, '');

/** Cookie headers that hold no valid session. */
const badCookie = fc.oneof(
  fc
    .string({ unit: 'binary-ascii', maxLength: 300 })
    .map((s) => `ic_session=${headerSafe(s).replace(/[;,]/g, '')}`),
  fc.string({ unit: 'binary-ascii', maxLength: 300 }).map(headerSafe),
  fc.constantFrom(
    'ic_session=',
    'ic_session',
    'ic_session=%E0%A4%A',
    'ic_session=%',
    'ic_session="unterminated',
    `ic_session=${'A'.repeat(201)}`,
    `ic_session=${'A'.repeat(8000)}`,
    '=; ==; ;;;',
    '__proto__=x; constructor=y',
    'ic_session=a; ic_session=b',
  ),
  fc.nat().map((n) => `CHANGED:${n}`),
  fc.nat().map((n) => `CUT:${n}`),
);

function resolveCookie(c: string): string {
  const value = cookie.slice('ic_session='.length);
  if (c.startsWith('CHANGED:')) {
    const i = Number(c.slice(8)) % value.length;
    return `ic_session=${value.slice(0, i)}${value[i] === 'A' ? 'B' : 'A'}${value.slice(i + 1)}`;
  }
  if (c.startsWith('CUT:')) return `ic_session=${value.slice(0, Number(c.slice(4)) % value.length)}`;
  return c;
}

describe('the staff page', () => {
  test('bad session cookies: the sign-in page, redirects to it, nobody signed in', async () => {
    const routes: Req[] = [
      { path: '/' },
      { path: '/visits' },
      { path: '/visits?tab=past' },
      { path: `/visits/${visitId}` },
      { path: `/visits/${visitId}/cancel` },
      { method: 'POST', path: '/visits', headers: { 'content-type': FORM }, body: form([['_csrf', csrf]]) },
      {
        method: 'POST',
        path: '/session/end',
        headers: { 'content-type': FORM },
        body: form([['_csrf', csrf]]),
      },
      {
        method: 'POST',
        path: `/visits/${visitId}/cancel`,
        headers: { 'content-type': FORM },
        body: form([['_csrf', csrf]]),
      },
    ];
    const before = await visitCount();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), badCookie, async (route, c) => {
        const header = resolveCookie(c);
        const answer = await send(server.url, { ...route, headers: { ...route.headers, cookie: header } });
        if (route.path === '/') {
          assertSane(answer, { kind: 'page', status: 200 });
          assert.match(answer.text, /<h1>Sign in<\/h1>/);
          assert.doesNotMatch(answer.text, /name="_csrf"/);
        } else {
          assertSane(answer, { kind: 'page', status: 303 });
          assert.equal(answer.headers['location'], '/');
        }
      }),
      runs(250),
    );
    assert.equal(await visitCount(), before, 'no visit was made');
  });

  test('forged, truncated, repeated and missing CSRF tokens: 403, nothing changed', async () => {
    const other = await signIn();
    const token = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        '',
        ' ',
        csrf.slice(0, -1),
        `${csrf}x`,
        csrf.toUpperCase(),
        other.csrf,
        `${csrf}\u0000`,
      ),
      nastyString,
      fc.nat().map((n) => {
        const i = n % csrf.length;
        return `${csrf.slice(0, i)}${csrf[i] === 'A' ? 'B' : 'A'}${csrf.slice(i + 1)}`;
      }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url')),
    );
    const route = fc.constantFrom(
      '/visits',
      '/session/end',
      `/visits/${visitId}/cancel`,
      `/visits/${visitId}/links/guest/0/resend`,
    );
    const before = await visitCount();
    await fc.assert(
      fc.asyncProperty(route, token, fc.boolean(), async (path, t, asArray) => {
        fc.pre(t !== csrf);
        const fields: [string, string][] = [['subject', 'csrf forged']];
        if (t !== undefined) fields.push([asArray ? '_csrf[]' : '_csrf', t]);
        if (asArray && t !== undefined) fields.push(['_csrf', t]);
        await expectAnswer(
          server.url,
          { method: 'POST', path, headers: { 'content-type': FORM, cookie }, body: form(fields) },
          { kind: 'page', status: 403 },
        );
      }),
      runs(200),
    );
    // The first of two tokens counts: a forged one first is refused.
    await expectAnswer(
      server.url,
      {
        method: 'POST',
        path: '/session/end',
        headers: { 'content-type': FORM, cookie },
        body: form([
          ['_csrf', 'forged'],
          ['_csrf', csrf],
        ]),
      },
      { kind: 'page', status: 403 },
    );
    assert.equal(await visitCount(), before, 'no visit was made');
    assert.notEqual(await visitState(visitId), 'cancelled');
    await assertSignedIn();
    await assertSignedIn(other.cookie);
  });

  test('forms from another origin: 403, even with the right session and token', async () => {
    const origin = fc.oneof(
      fc.constantFrom(
        'https://evil.example',
        'null',
        'http://127.0.0.1.evil.example',
        'http://127.0.0.1:1',
        'file://',
        '*',
        ' ',
        'javascript:alert(1)',
      ),
      fc.webUrl().map((u) => new URL(u).origin),
      fc.string({ unit: 'binary-ascii', maxLength: 60 }).map(headerSafe),
    );
    const before = await visitCount();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/visits',
          '/session/end',
          `/visits/${visitId}/cancel`,
          `/visits/${visitId}/links/guest/0/resend`,
          '/session',
        ),
        origin,
        async (path, o) => {
          fc.pre(o !== '' && o !== new URL(server.url).origin);
          const fields: [string, string][] = path === '/session' ? [['key', server.key]] : [['_csrf', csrf]];
          await expectAnswer(
            server.url,
            {
              method: 'POST',
              path,
              headers: { 'content-type': FORM, cookie, origin: o },
              body: form(fields),
            },
            { kind: 'page', status: 403 },
          );
        },
      ),
      runs(150),
    );
    assert.equal(await visitCount(), before);
    await assertSignedIn();
  });

  test('hostile "New visit" forms with a valid session and token: the form again with its errors (400), or a visit', async () => {
    const field = fc.constantFrom(...FIELDS, 'timeZone');
    const value = fc.oneof(
      nastyString,
      fc.constantFrom(
        '-1',
        '1e308',
        '999999',
        '0',
        '501',
        'NaN',
        '1h30m',
        'PT45M',
        '2026-02-30T25:61',
        'Mars/Olympus',
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.oneof({ weight: 4, arbitrary: field }, { weight: 1, arbitrary: hostileKey }), value),
          {
            maxLength: 6,
          },
        ),
        async (fields) => {
          const body = form([['_csrf', csrf], ...fields]);
          fc.pre(body.length < 60_000);
          const answer = await send(server.url, {
            method: 'POST',
            path: '/visits',
            headers: { 'content-type': FORM, cookie },
            body,
          });
          assertSane(answer, { kind: 'page', status: [303, 400] });
          if (answer.status === 303) assert.match(String(answer.headers['location']), /^\/visits\/vis_/);
          else assert.match(answer.text, /<form method="post" action="\/visits"/);
        },
      ),
      runs(200),
    );
    // Raw bodies: prototype keys, bad %-encodings, nesting syntax.
    for (const body of [
      `_csrf=${q(csrf)}&__proto__[polluted]=yes&subject=x`,
      `_csrf=${q(csrf)}&constructor[prototype][polluted]=yes`,
      `_csrf=${q(csrf)}&__proto__=polluted&__proto__=again`,
      `_csrf=${q(csrf)}&subject=${BAD_PERCENT.join('')}`,
      `_csrf=${q(csrf)}&hosts=%00&guests=%FF`,
      `_csrf=${q(csrf)}&${'a=1&'.repeat(2000)}`,
      `_csrf=${q(csrf)}&subject[]=a&subject[]=b`,
      `_csrf=${q(csrf)}&devices=${q('sip:a@b.c\r\n'.repeat(30))}`,
    ]) {
      const answer = await send(server.url, {
        method: 'POST',
        path: '/visits',
        headers: { 'content-type': FORM, cookie },
        body,
      });
      assertSane(answer, { kind: 'page', status: [303, 400] });
    }
    assertNoPollution();
  });

  test('sign-in with hostile keys and bodies: 401 (415 or 413 for what is no form), never signed in', async () => {
    const key = fc.oneof(
      nastyString,
      fc.constantFrom(
        `${server.key}x`,
        server.key.slice(0, -1),
        `Bearer ${server.key.slice(1)}`,
        'Bearer',
        'ic_live_',
      ),
    );
    await fc.assert(
      fc.asyncProperty(key, fc.constantFrom(FORM, 'application/json', 'text/plain'), async (k, type) => {
        fc.pre(k.trim() !== server.key && k.trim().replace(/^Bearer\s+/i, '') !== server.key);
        const body =
          type === FORM ? form([['key', k]]) : type === 'application/json' ? JSON.stringify({ key: k }) : k;
        const answer = await send(server.url, {
          method: 'POST',
          path: '/session',
          headers: { 'content-type': type },
          body,
        });
        assertSane(answer, { kind: 'page', status: [400, 401] });
        assert.equal(answer.headers['set-cookie'], undefined, 'no session cookie');
      }),
      runs(150),
    );
    for (const [type, body, status] of [
      ['multipart/form-data; boundary=x', '--x--', 415],
      ['application/xml', '<key/>', 415],
      [FORM, `key=${'x'.repeat(70_000)}`, 413],
      ['application/json', '{"key":', 400],
      ['application/json', '{"__proto__":{"polluted":"yes"},"key":"x"}', 400],
    ] as const) {
      const answer = await expectAnswer(
        server.url,
        { method: 'POST', path: '/session', headers: { 'content-type': type }, body },
        { kind: 'page', status },
      );
      assert.match(answer.contentType, /^text\/html/);
    }
    assertNoPollution();
  });

  test('lists and visit pages with odd tabs, pages and ids: 200, or 404 for no such visit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          nastyString,
          fc.constantFrom('upcoming', 'live', 'past', 'cancelled', '__proto__', 'constructor'),
        ),
        fc.oneof(nastyString, fc.constantFrom('0', '-1', '1e308', '999999', '1000000', '2', '01')),
        async (tab, page) => {
          const path = `/visits?tab=${q(tab)}&page=${q(page)}&tab=past`;
          await expectAnswer(
            server.url,
            { path, headers: { cookie } },
            { kind: 'page', status: statusesFor(path, [200]) },
          );
        },
      ),
      runs(150),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          nastyString.filter((s) => s.length > 0).map(q),
          fc.constantFrom(...BAD_PERCENT, 'vis_', '..', '%2e%2e'),
        ),
        fc.constantFrom('', '/cancel', '/links/guest/0/resend'),
        fc.boolean(),
        async (id, suffix, post) => {
          fc.pre(id !== visitId);
          const path = `/visits/${id}${suffix}`;
          const req: Req =
            post && suffix
              ? {
                  method: 'POST',
                  path,
                  headers: { cookie, 'content-type': FORM },
                  body: form([['_csrf', csrf]]),
                }
              : { path, headers: { cookie, ...HTML } };
          const expected = malformedPercent(id) ? [400] : [404];
          // The resend route is POST only: a GET of it is 405.
          if (suffix.endsWith('/resend') && !post) expected.push(405);
          await expectAnswer(server.url, req, { kind: 'page', status: statusesFor(path, expected) });
        },
      ),
      runs(200),
    );
    // Resend with odd roles and indexes (this visit has no recipients): 400 or 404, a page each time.
    const segment = fc.oneof(
      nastyString.filter((s) => s.length > 0).map(q),
      fc.constantFrom(...BAD_PERCENT, 'host', 'guest', 'GUEST', '0', '1', '-1', '1e3', '01', '9999999'),
    );
    await fc.assert(
      fc.asyncProperty(segment, segment, async (role, index) => {
        const path = `/visits/${visitId}/links/${role}/${index}/resend`;
        await expectAnswer(
          server.url,
          { method: 'POST', path, headers: { cookie, 'content-type': FORM }, body: form([['_csrf', csrf]]) },
          { kind: 'page', status: statusesFor(path, [400, 404]) },
        );
      }),
      runs(150),
    );
  });
});

describe('health, readiness, metrics and the API description', () => {
  test('any query, HEAD, and other methods: 200 or 405, never a secret in /metrics', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/healthz', '/readyz', '/metrics', '/openapi.json', '/docs'),
        fc.array(fc.tuple(hostileKey, nastyString), { maxLength: 4 }),
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
        async (path, params, method) => {
          const query = params.map(([k, v]) => `${q(k)}=${q(v)}`).join('&');
          const full = `${path}${query ? `?${query}` : ''}`;
          const answer = await send(server.url, { method, path: full });
          if (method === 'GET' || method === 'HEAD') {
            assertSane(answer, { kind: 'api', status: statusesFor(full, [200]) });
          } else
            assertSane(answer, {
              kind: 'api',
              status: statusesFor(full, [405]),
              code: 'ERR_METHOD_NOT_ALLOWED',
            });
          if (path === '/metrics' && answer.status === 200 && method === 'GET') {
            assert.ok(!answer.text.includes(server.key), 'no API key in the metrics');
            assert.ok(!answer.text.includes(cookie.slice(11)), 'no session in the metrics');
          }
        },
      ),
      runs(150),
    );
  });
});

describe('static assets', () => {
  const publicFiles = new Set(readdirSync(new URL('../../public/', import.meta.url)));
  const secretTexts = [
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8').slice(0, 200),
    readFileSync(new URL('../../src/server/app.ts', import.meta.url), 'utf8').slice(0, 200),
    'root:x:0:0',
  ];

  function assertNothingOutside(answer: Ans): void {
    for (const text of secretTexts) {
      assert.ok(!answer.text.includes(text), `${answer.req.path} served a file outside public/`);
    }
  }

  test('path traversal in every encoding: 403, 404 or 400; never a file outside public/', async () => {
    const traversals = [
      '/assets/../package.json',
      '/assets/../../etc/passwd',
      '/assets/..%2fpackage.json',
      '/assets/%2e%2e/package.json',
      '/assets/%2e%2e%2fpackage.json',
      '/assets/%2E%2E%2Fpackage.json',
      '/assets/%252e%252e/package.json',
      '/assets/%252e%252e%252fpackage.json',
      '/assets/..\\package.json',
      '/assets/..%5cpackage.json',
      '/assets/%c0%ae%c0%ae/package.json',
      '/assets/%c0%af',
      '/assets/.%2e/.%2e/src/server/app.ts',
      '/assets/....//package.json',
      '/assets/..;/package.json',
      '/assets//etc/passwd',
      '/assets/%2fetc%2fpasswd',
      '/assets/app.css%00.js',
      '/assets/app.css%00',
      '/assets/%00',
      '/assets/./../package.json',
      '/assets/app.css/../../package.json',
      '/assets/.',
      '/assets/..',
      '/assets/...',
      '/assets/.git/config',
      '/assets/.env',
      '/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      `/assets/${'../'.repeat(50)}etc/passwd`,
      `/assets/${'%2e%2e%2f'.repeat(50)}etc/passwd`,
      '//assets/../package.json',
      '/assets/../src/server/app.ts',
      '/assets/..%252fpackage.json',
    ];
    for (const path of traversals) {
      for (const method of ['GET', 'HEAD']) {
        const answer = await expectAnswer(
          server.url,
          { method, path },
          { kind: 'any', status: [400, 403, 404] },
        );
        assertNothingOutside(answer);
        if (method === 'GET') assertEnvelope(answer);
      }
    }
  });

  test('fuzzed asset paths and ranges: a file of public/ or a 4xx', async () => {
    const segment = fc.oneof(
      fc.constantFrom(...publicFiles, '..', '.', '', '%2e%2e', '%2f', '%00', '%5c', 'package.json', 'src'),
      nastyString.map(q),
      fc.constantFrom(...BAD_PERCENT),
    );
    const range = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        'bytes=0-0',
        'bytes=999999-',
        'bytes=5-1',
        'bytes=-1',
        'bytes=0-',
        'bytes=a-b',
        'items=0-1',
        'bytes=0-1,2-3,4-5',
      ),
      fc.tuple(fc.integer(), fc.integer()).map(([a, b]) => `bytes=${a}-${b}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 5 }), range, async (segments, r) => {
        const path = `/assets/${segments.join('/')}`;
        const answer = await send(server.url, { path, headers: r ? { range: r } : {} });
        const isFile = segments.length === 1 && publicFiles.has(segments[0]!);
        // `docs.css/x/%2e%2e` is `docs.css` once dot segments are resolved: serving it is no
        // traversal (assertNothingOutside below is the guard), refusing it is fine too.
        const resolved = posix.normalize(
          `/${segments.map((x) => (/^%2e%2e$/i.test(x) ? '..' : x)).join('/')}`,
        );
        const sameFile = publicFiles.has(resolved.slice(1));
        assertSane(answer, {
          kind: 'any',
          status: statusesFor(
            path,
            isFile ? [200, 206, 416] : sameFile ? [200, 206, 416, 400, 403, 404] : [400, 403, 404],
          ),
        });
        assertNothingOutside(answer);
      }),
      runs(250),
    );
  });
});

describe('very long URLs, headers and odd requests', () => {
  test('URLs and headers past 16 KiB: 431 in the envelope; just under: the route answers', async () => {
    const routes = [
      '/api/visits',
      '/api/v2/joseencrypt',
      '/hc/v1/talk',
      '/visit/abc',
      '/',
      '/visits',
      '/healthz',
      '/assets/app.css',
    ];
    for (const route of routes) {
      for (const length of [17_000, 64_000, 1_000_000]) {
        const answer = await send(server.url, { path: `${route}?x=${'y'.repeat(length)}` });
        assertSane(answer, { kind: 'api', status: 431, code: 'ERR_VALIDATION' });
        const path = await send(server.url, { path: `${route}/${'z'.repeat(length)}` });
        assertSane(path, { kind: 'api', status: 431 });
      }
      const header = await send(server.url, {
        path: route,
        headers: { cookie: `ic_session=${'c'.repeat(20_000)}` },
      });
      assertSane(header, { kind: 'api', status: 431 });
      const many = await send(server.url, {
        path: route,
        headers: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-h${i}`, 'v'.repeat(40)])),
      });
      assertSane(many, { kind: 'api', status: 431 });
    }
    // Just under the limit, routes answer for themselves.
    const near = await send(server.url, {
      path: `/api/visits?q=${'a'.repeat(14_000)}`,
      headers: { authorization: `Bearer ${server.key}` },
    });
    assertSane(near, { kind: 'api', status: 400, code: 'ERR_VALIDATION' });
    await assertAlive(server.url);
  });

  test('every route the app registers is fuzzed by this suite', () => {
    const registered = appRoutes(server.server.app).map((r) => r.url);
    assert.ok(registered.length >= 25, registered.join(' '));
    const missing = registered.filter((url) => !FUZZED_ROUTES.has(url));
    assert.deepEqual(missing, [], `routes with no hostile-input tests: ${missing.join(', ')}`);
  });

  test('any method on any route with any suffix: never a 5xx, the envelope whenever JSON', async () => {
    // The app's own routes, parameters filled in (a real visit, a code, pages that exist or not).
    const routes = appRoutes(server.server.app).flatMap(({ url }) => {
      if (url === '/*') return ['/assets/app.css', '/assets/nothing.js'];
      if (url === '/:vertical/v1/:page') return ['/gen/v1/login', '/hc/v1/talk', '/xx/v1/talk', '/gen/v1/xx'];
      return [url.replace(':id', visitId).replace(':code', 'abc1234')];
    });
    const suffix = fc.oneof(
      fc.constantFrom(
        '',
        '/',
        '//',
        '?',
        '?a=1&a=2',
        '#frag',
        '/..',
        '/%2e%2e',
        '%00',
        '%20',
        ';x',
        '.json',
        '~',
      ),
      fc.constantFrom(...BAD_PERCENT),
      nastyString.map((s) => `?x=${q(s)}`),
    );
    const method = fc.constantFrom(
      'GET',
      'HEAD',
      'POST',
      'PUT',
      'PATCH',
      'DELETE',
      'OPTIONS',
      'PROPFIND',
      'TRACE',
    );
    const body = fc.constantFrom(undefined, '', '{}', 'null', '{', 'a=1', 'x'.repeat(70_000));
    const type = fc.constantFrom(undefined, 'application/json', FORM, 'text/plain', 'application/xml');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        suffix,
        method,
        body,
        type,
        fc.boolean(),
        async (route, s, m, b, t, withCookie) => {
          const headers: Record<string, string> = {};
          if (t) headers['content-type'] = t;
          // A signed-in staff event stream never ends by design (its bounds: test/staff/live.test.ts).
          const stream = route === '/staff/events' && (m === 'GET' || m === 'HEAD');
          if (withCookie && !stream) headers['cookie'] = cookie;
          const answer = await send(server.url, {
            method: m,
            path: `${route}${s}`,
            headers,
            ...(b !== undefined && m !== 'GET' && m !== 'HEAD' ? { body: b } : {}),
          });
          assertSane(answer, {
            kind: 'any',
            status: [200, 201, 204, 206, 302, 303, 304, 400, 401, 403, 404, 405, 409, 410, 413, 415, 431],
          });
        },
      ),
      runs(300),
    );
    // None of that signed the session out, cancelled the visit or made one by accident.
    await assertSignedIn();
    assert.notEqual(await visitState(visitId), 'cancelled');
  });

  test('garbage on the socket: a 400 in the envelope or a closed connection, never a hang', async () => {
    const garbage = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
      fc
        .constantFrom(
          'GET\r\n\r\n',
          'GET / HTTP/9.9\r\n\r\n',
          'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
          'POST /api/visits HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
          'POST /api/visits HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
          'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
          'GET / HTTP/1.1\r\nHost: x\r\nX: a\u0000b\r\n\r\n',
          'GET /\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET /%ZZ HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
          'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n',
          '\r\n\r\n\r\n',
        )
        .map((s) => Buffer.from(s, 'latin1')),
    );
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const reply = await rawExchange(server.url, bytes);
        const status = /^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1];
        if (status !== undefined) {
          assert.ok(Number(status) < 500, `a server error for garbage: ${reply.slice(0, 300)}`);
          if (/content-type: application\/json/i.test(reply)) {
            const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
            const parsed = JSON.parse(
              body.includes('\r\n') ? body.split('\r\n').find((l) => l.startsWith('{'))! : body,
            );
            assert.match(String(parsed.code), /^ERR_/);
            assert.match(String(parsed.trackingId), /^IC_/);
          }
        }
      }),
      runs(100),
    );
    await assertAlive(server.url);
  });
});

/** Writes raw bytes, half-closes, and reads whatever comes back until the server closes (or 5 s). */
function rawExchange(base: string, bytes: Buffer): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      // A request the parser is still waiting on is no hang of ours: the header timeout ends it.
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, 5000);
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE')
        resolve(Buffer.concat(chunks).toString('latin1'));
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}
