/**
 * Hostile input against the public link routes: short links (/visit/:code), the link pages
 * (/{gen|hc}/v1/{login|talk}), the space API (/api/v1/space[/], GET and POST) and the live visit
 * API (/live/join|leave|end|status|events). Forged ciphers (random base64url, five random
 * segments, forged headers), real tokens truncated or with a character changed, bad tickets, odd
 * codes and query strings. Every answer: never a 5xx, the right 4xx (HTML to browsers, the
 * envelope otherwise); real links still open afterwards. One test keeps the real failed-opening
 * budget and shows forged ciphers cut off with 429.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_RATE_LIMITS } from '../../src/reliability/rate-limit.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  type Ans,
  assertAlive,
  assertNoPollution,
  assertSane,
  BAD_PERCENT,
  b64url,
  expectAnswer,
  forgedCipher,
  hostileTree,
  jsonText,
  malformedPercent,
  nastyString,
  q,
  runs,
  SEED,
  send,
  statusesFor,
} from './support.js';

const HTML = { accept: 'text/html,application/xhtml+xml' };
const PAGES = ['/gen/v1/login', '/gen/v1/talk', '/hc/v1/login', '/hc/v1/talk'];

interface Link {
  cipher: string;
  short?: string;
  longUrl: string;
}

let server: TestServer;
let guest: Link;
let host: Link;
let ticket: string;

/** The path of a link's page on this server (its long URL without the origin). */
const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

before(async () => {
  server = await startTestServer();
  const made = await send(server.url, {
    method: 'POST',
    path: '/api/visits',
    headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'hostile links', hosts: 1, guests: 1, crypto: { iterations: 1000 } }),
  });
  assert.equal(made.status, 201, made.text);
  guest = made.json.guests[0];
  host = made.json.hosts[0];
  const page = await send(server.url, { path: pathOf(guest.longUrl), headers: HTML });
  assert.equal(page.status, 200, page.text.slice(0, 300));
  ticket = /data-ticket="([^"]+)"/.exec(page.text)![1]!;
});
after(async () => {
  // Real links and tickets still work after everything below.
  const page = await send(server.url, { path: pathOf(host.longUrl), headers: HTML });
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const status = await send(server.url, { path: `/live/status?ticket=${q(ticket)}` });
  assert.equal(status.status, 200, status.text);
  await assertAlive(server.url);
  assertNoPollution();
  await server.close();
});

/** A cipher on every route that opens one: the four pages (as a browser and as an API) and the space API. */
function cipherRequests(cipher: string, extra = '') {
  const data = `int=jose&v=1&data=${q(cipher)}${extra}`;
  return [
    ...PAGES.flatMap((page) => [
      { req: { path: `${page}?${data}`, headers: HTML }, kind: 'page' as const },
      { req: { path: `${page}?${data}` }, kind: 'page' as const },
    ]),
    { req: { path: `/api/v1/space?${data}` }, kind: 'api' as const },
    { req: { path: `/api/v1/space/?${data}` }, kind: 'api' as const },
    {
      req: {
        method: 'POST',
        path: `/api/v1/space?${data}`,
        headers: { 'content-type': 'application/json' },
        body: '{}',
      },
      kind: 'api' as const,
    },
  ];
}

/** A browser (Accept: text/html) always gets a page; the space API always JSON; a page asked without HTML either. */
function assertShape(answer: Ans, kind: 'api' | 'page'): void {
  const accept = String((answer.req.headers as Record<string, string> | undefined)?.['accept'] ?? '');
  if (kind === 'api') assert.match(answer.contentType, /^application\/json/, answer.text.slice(0, 200));
  else if (accept.includes('text/html'))
    assert.match(answer.contentType, /^text\/html/, answer.text.slice(0, 200));
}

/** The token with the character at `index` replaced by `c`. */
const replaceAt = (s: string, index: number, c: string) => `${s.slice(0, index)}${c}${s.slice(index + 1)}`;

/** Whether two tokens carry the same bytes in every segment (base64url's last character has spare bits). */
function sameBytes(a: string, b: string): boolean {
  const sa = a.split('.');
  const sb = b.split('.');
  if (sa.length !== sb.length) return false;
  // The protected header is authenticated as its exact text.
  if (sa[0] !== sb[0]) return false;
  return sa.every((seg, i) => {
    const other = sb[i]!;
    if (!/^[A-Za-z0-9_-]*$/.test(seg) || !/^[A-Za-z0-9_-]*$/.test(other)) return seg === other;
    return Buffer.from(seg, 'base64url').equals(Buffer.from(other, 'base64url'));
  });
}

describe('forged and damaged ciphers', () => {
  test('random base64url, five random segments, forged headers: 400 on every page and the space API', async () => {
    await fc.assert(
      fc.asyncProperty(forgedCipher, fc.nat(), async (cipher, pick) => {
        const requests = cipherRequests(cipher);
        const { req, kind } = requests[pick % requests.length]!;
        const answer = await send(server.url, req);
        assertSane(answer, {
          kind,
          status: statusesFor(req.path, [400]),
          code: /^ERR_(TOKEN_INVALID|VALIDATION)$/,
        });
        if (answer.status !== 431) assertShape(answer, kind);
      }),
      runs(300),
    );
  });

  test('a real token truncated anywhere: 400', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(guest, host), fc.nat(), fc.nat(), async (link, cut, pick) => {
        const cipher = link.cipher.slice(0, cut % link.cipher.length);
        const requests = cipherRequests(cipher);
        const { req, kind } = requests[pick % requests.length]!;
        await expectAnswer(server.url, req, { kind, status: 400, code: /^ERR_(TOKEN_INVALID|VALIDATION)$/ });
      }),
      runs(200),
    );
  });

  test('a real token with one character changed: 400, unless its bytes are the same (then it opens)', async () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %';
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(guest, host),
        fc.nat(),
        fc.constantFrom(...alphabet.split('')),
        fc.nat(),
        async (link, at, c, pick) => {
          const index = at % link.cipher.length;
          const cipher = replaceAt(link.cipher, index, c);
          fc.pre(cipher !== link.cipher);
          const requests = cipherRequests(cipher);
          const { req, kind } = requests[pick % requests.length]!;
          const answer = await send(server.url, req);
          if (sameBytes(cipher, link.cipher)) assertSane(answer, { kind, status: [200, 400] });
          else assertSane(answer, { kind, status: 400, code: /^ERR_(TOKEN_INVALID|VALIDATION)$/ });
        },
      ),
      runs(300),
    );
  });

  test("a real token's header with the rest replaced, dropped or doubled: 400", async () => {
    const [header, ...rest] = guest.cipher.split('.');
    const damaged = fc.oneof(
      fc.array(b64url(200), { minLength: 4, maxLength: 4 }).map((r) => [header, ...r].join('.')),
      fc.nat({ max: 3 }).map((n) => [header, ...rest.slice(0, n)].join('.')),
      fc.constant([header, ...rest, ...rest].join('.')),
      fc.constant(`${guest.cipher}.`),
      fc.constant(`.${guest.cipher}`),
      fc.constant(`${guest.cipher}${guest.cipher}`),
      fc.constant(guest.cipher.split('.').reverse().join('.')),
      fc.constant(guest.cipher.replaceAll('.', '..')),
      fc.constant(`${header}.${rest.map((s) => s.split('').reverse().join('')).join('.')}`),
      fc.constant(`${guest.cipher.slice(0, -1)}\u0000`),
    );
    await fc.assert(
      fc.asyncProperty(damaged, fc.nat(), async (cipher, pick) => {
        const requests = cipherRequests(cipher);
        const { req, kind } = requests[pick % requests.length]!;
        await expectAnswer(server.url, req, { kind, status: 400, code: /^ERR_(TOKEN_INVALID|VALIDATION)$/ });
      }),
      runs(150),
    );
  });

  test('a forged header asking for absurd PBKDF2 work is refused at once', async () => {
    for (const p2c of [1e9, 2 ** 31, 1e308, -1, 0, 1.5, '1000', null]) {
      const header = JSON.parse(Buffer.from(guest.cipher.split('.')[0]!, 'base64url').toString('utf8'));
      header.p2c = p2c;
      const forged = [
        Buffer.from(JSON.stringify(header)).toString('base64url'),
        ...guest.cipher.split('.').slice(1),
      ].join('.');
      const started = Date.now();
      for (const { req, kind } of cipherRequests(forged)) {
        await expectAnswer(server.url, req, { kind, status: 400, code: 'ERR_TOKEN_INVALID' });
      }
      assert.ok(Date.now() - started < 5000, `p2c ${p2c} took ${Date.now() - started} ms`);
    }
  });
});

describe('query strings of the pages and the space API', () => {
  test('no data, empty data, repeated data, a wrong int: 400 (HTML for browsers)', async () => {
    const queries = [
      '',
      '?',
      '?data',
      '?data=',
      '?int=jose',
      `?int=jose&data=${q(guest.cipher)}&data=${q(guest.cipher)}`,
      `?int=jose&data[]=${q(guest.cipher)}`,
      `?int=jose&data[a]=${q(guest.cipher)}`,
      `?int=JOSE&data=${q(guest.cipher)}`,
      `?int=jose&int=jose&data=${q(guest.cipher)}`,
      `?int=&data=${q(guest.cipher)}`,
      `?int=jwt&data=${q(guest.cipher)}`,
      `?__proto__=x&data=`,
      `?constructor[prototype][polluted]=yes`,
      `?__proto__[polluted]=yes&int=jose`,
    ];
    for (const query of queries) {
      for (const page of [...PAGES, '/api/v1/space', '/api/v1/space/']) {
        for (const headers of [HTML, {}]) {
          const answer = await expectAnswer(
            server.url,
            { path: `${page}${query}`, headers },
            { kind: page.startsWith('/api/') ? 'api' : 'page', status: 400, code: 'ERR_VALIDATION' },
          );
          assertShape(answer, page.startsWith('/api/') ? 'api' : 'page');
        }
      }
    }
    assertNoPollution();
  });

  test('random extra parameters around a real cipher: the link still opens; hostile data values: 400', async () => {
    const param = fc.tuple(
      fc.oneof(nastyString, fc.constantFrom('v', 'x', '__proto__', 'constructor', 'ticket', 'DATA', 'Data')),
      nastyString,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(param, { maxLength: 4 }), fc.constantFrom(...PAGES), async (params, page) => {
        const extra = params
          .filter(([k]) => k !== 'data' && k !== 'int')
          .map(([k, v]) => `&${q(k)}=${q(v)}`)
          .join('');
        fc.pre(extra.length < 12_000);
        const answer = await send(server.url, {
          path: `${page}?int=jose&data=${q(guest.cipher)}${extra}`,
          headers: HTML,
        });
        assertSane(answer, { kind: 'page', status: 200 });
      }),
      runs(100),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(nastyString, fc.constantFrom(...BAD_PERCENT)),
        fc.constantFrom(...PAGES, '/api/v1/space'),
        async (value, page) => {
          const raw = BAD_PERCENT.includes(value) ? value : q(value);
          const answer = await send(server.url, { path: `${page}?int=jose&data=${raw}` });
          assertSane(answer, {
            kind: page.startsWith('/api/') ? 'api' : 'page',
            status: statusesFor(raw, [400]),
            code: /^ERR_(TOKEN_INVALID|VALIDATION)$/,
          });
        },
      ),
      runs(150),
    );
  });

  test('very long query strings: 400 below the header limit, 431 past it, in the envelope', async () => {
    for (const length of [1000, 8000, 15_000, 17_000, 40_000, 100_000]) {
      for (const page of ['/hc/v1/talk', '/api/v1/space']) {
        const path = `${page}?int=jose&data=${'A'.repeat(length)}`;
        const answer = await expectAnswer(
          server.url,
          { path },
          { kind: page.startsWith('/api/') ? 'api' : 'page', status: statusesFor(path, [400]) },
        );
        if (length > 17_000) assert.equal(answer.status, 431);
      }
    }
    await assertAlive(server.url);
  });
});

describe('short links', () => {
  test('unknown, odd and overlong codes: 404 (400 for a malformed %-encoding), HTML for browsers', async () => {
    const code = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9]{1,16}$/),
      nastyString.filter((s) => s.length > 0).map(q),
      fc.constantFrom(...BAD_PERCENT.map((b) => ({ raw: b }))),
      fc.constantFrom('..', '%2e%2e', '%2F', '.', 'A'.repeat(201), 'A'.repeat(5000)),
    );
    await fc.assert(
      fc.asyncProperty(code, fc.boolean(), async (c, html) => {
        const encoded = typeof c === 'string' ? c : c.raw;
        fc.pre(encoded !== guest.short && encoded !== host.short);
        const path = `/visit/${encoded}`;
        const badPercent = malformedPercent(encoded);
        const answer = await send(server.url, { path, headers: html ? HTML : {} });
        assertSane(answer, {
          kind: 'page',
          status: statusesFor(path, badPercent ? [400, 404] : [404]),
          code: /^ERR_(NOT_FOUND|VALIDATION)$/,
        });
      }),
      runs(250),
    );
    // A real code still redirects, to its own long link.
    const real = await send(server.url, { path: `/visit/${guest.short}` });
    assert.equal(real.status, 302);
    assert.equal(real.headers['location'], guest.longUrl);
  });
});

describe('the live visit API', () => {
  const LIVE = [
    { method: 'POST', path: '/live/join' },
    { method: 'POST', path: '/live/leave' },
    { method: 'POST', path: '/live/end' },
    { method: 'GET', path: '/live/status' },
    { method: 'GET', path: '/live/events' },
  ];

  /** A request carrying `t` as the ticket (in the body for POST, in the query for GET). */
  function withTicket(route: { method: string; path: string }, t: string) {
    if (route.method === 'GET') return { method: 'GET', path: `${route.path}?ticket=${q(t)}` };
    return {
      method: 'POST',
      path: route.path,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: t }),
    };
  }

  test('forged tickets: random strings, random MACs, real payloads re-signed: 403', async () => {
    const [payload, mac] = ticket.split('.') as [string, string];
    const forged = fc.oneof(
      nastyString,
      fc.tuple(b64url(120), b64url(32)).map(([p, m]) => `${p}.${m}`),
      // The right shape: a payload and 43 characters of MAC.
      fc
        .tuple(b64url(120), fc.uint8Array({ minLength: 32, maxLength: 32 }))
        .map(([p, m]) => `${p || 'e30'}.${Buffer.from(m).toString('base64url')}`),
      // A real payload with a random MAC, a real MAC on another payload.
      fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((m) => `${payload}.${Buffer.from(m).toString('base64url')}`),
      fc
        .record({ v: nastyString, o: nastyString, r: fc.constantFrom('host', 'guest'), x: fc.integer() })
        .map((t) => `${Buffer.from(JSON.stringify(t)).toString('base64url')}.${mac}`),
      fc.nat().map((n) => ticket.slice(0, n % ticket.length)),
      fc.constant(`${ticket}.${mac}`),
      fc.constant(`${ticket}x`),
      fc.constant(`${mac}.${payload}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...LIVE), forged, async (route, t) => {
        fc.pre(t !== ticket);
        const req = withTicket(route, t);
        await expectAnswer(server.url, req, {
          kind: 'api',
          status: statusesFor(req.path, [403]),
          code: 'ERR_FORBIDDEN',
        });
      }),
      runs(300),
    );
  });

  test('a real ticket with one character changed: 403 unless the MAC bytes are the same', async () => {
    const [payload, mac] = ticket.split('.') as [string, string];
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.='.split('')),
        async (at, c) => {
          const index = at % ticket.length;
          const t = replaceAt(ticket, index, c);
          fc.pre(t !== ticket);
          const [p2, m2] = t.split('.');
          const same =
            t.split('.').length === 2 &&
            p2 === payload &&
            /^[A-Za-z0-9_-]{43}$/.test(m2 ?? '') &&
            Buffer.from(m2!, 'base64url').equals(Buffer.from(mac, 'base64url'));
          const answer = await send(server.url, withTicket(LIVE[3]!, t));
          if (same) assertSane(answer, { kind: 'api', status: 200 });
          else assertSane(answer, { kind: 'api', status: 403, code: 'ERR_FORBIDDEN' });
        },
      ),
      runs(200),
    );
  });

  test('tickets of the wrong type, hostile bodies and queries: 403 (400 for a body that is no JSON)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...LIVE.filter((r) => r.method === 'POST')),
        hostileTree,
        async (route, tree) => {
          const body = `{"ticket":${jsonText(tree)}}`;
          const answer = await send(server.url, {
            method: 'POST',
            path: route.path,
            headers: { 'content-type': 'application/json' },
            body,
          });
          // `__proto__`/`constructor` keys anywhere are refused as JSON; everything else is no ticket.
          assertSane(answer, { kind: 'api', status: [400, 403], code: /^ERR_(FORBIDDEN|BAD_JSON)$/ });
          if (answer.status === 400) assert.match(body, /"(__proto__|constructor)"/);
        },
      ),
      runs(200),
    );
    for (const route of LIVE.filter((r) => r.method === 'GET')) {
      for (const query of [
        '',
        '?ticket',
        '?ticket=',
        `?ticket=${q(ticket)}&ticket=${q(ticket)}`,
        `?ticket[]=${q(ticket)}`,
        `?ticket[__proto__]=${q(ticket)}`,
        '?__proto__[polluted]=yes',
        `?ticket=${'%ED%A0%80'}`,
      ]) {
        await expectAnswer(
          server.url,
          { path: `${route.path}${query}` },
          { kind: 'api', status: 403, code: 'ERR_FORBIDDEN' },
        );
      }
    }
    assertNoPollution();
  });

  test('a real ticket with hostile extra fields still works; an event stream with a bad ticket never hangs', async () => {
    const status = await send(server.url, {
      method: 'POST',
      path: '/live/leave',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ticket, extra: '\u0000\uD800', nested: { deep: [[[1e308]]] } }),
    });
    assertSane(status, { kind: 'api', status: 200 });
    for (let i = 0; i < 20; i++) {
      await expectAnswer(
        server.url,
        { path: `/live/events?ticket=${q(`${ticket.slice(0, -1)}${i % 2 ? '!' : ''}`)}` },
        { kind: 'api', status: 403, code: 'ERR_FORBIDDEN' },
      );
    }
  });
});

describe('forged ciphers with the real failed-opening budget', () => {
  let limited: TestServer;
  before(async () => {
    limited = await startTestServer({ rateLimits: DEFAULT_RATE_LIMITS });
  });
  after(async () => {
    await assertAlive(limited.url);
    await limited.close();
  });

  test(`after ${DEFAULT_RATE_LIMITS.failedOpensPerAddress} failed openings a minute, forged ciphers get 429 with Retry-After; real links still open`, async () => {
    const made = await send(limited.url, {
      method: 'POST',
      path: '/api/v2/joseencrypt',
      headers: { authorization: `Bearer ${limited.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        aud: 'a4d886b0-979f-4e2c-a958-3e8c14605e51',
        jwt: { sub: 'budget' },
        iterations: 1000,
        provideShortUrls: true,
      }),
    });
    assert.equal(made.status, 200, made.text);
    const budget = DEFAULT_RATE_LIMITS.failedOpensPerAddress;
    assert.ok(budget > 0 && budget < 100, 'the default budget is tight: well under a hundred a minute');
    // Forged ciphers of the JWE shape (five segments), each one a failed opening.
    const forged = fc.sample(
      fc.array(b64url(200), { minLength: 5, maxLength: 5 }).map((s) => s.map((x) => x || 'AA').join('.')),
      { seed: SEED, numRuns: budget + 20 },
    );
    const statuses: number[] = [];
    for (const [i, cipher] of forged.entries()) {
      const requests = cipherRequests(cipher);
      const { req, kind } = requests[i % requests.length]!;
      const answer = await send(limited.url, req);
      statuses.push(answer.status);
      if (answer.status === 429) {
        assertSane(answer, { kind, status: 429, code: 'ERR_RATE_LIMITED' });
        assert.match(String(answer.headers['retry-after']), /^\d+$/);
        assertShape(answer, kind);
      } else assertSane(answer, { kind, status: 400, code: 'ERR_TOKEN_INVALID' });
    }
    assert.deepEqual(statuses.slice(0, budget), Array(budget).fill(400), statuses.join(','));
    assert.deepEqual(statuses.slice(budget), Array(20).fill(429), statuses.join(','));
    // Patients behind the same address with real links are not refused.
    const link = made.json.guest[0];
    const space = await send(limited.url, { path: `/api/v1/space?int=jose&data=${q(link.cipher)}` });
    assert.equal(space.status, 200, space.text);
    const short = await send(limited.url, { path: `/visit/${link.short}`, headers: HTML });
    assert.equal(short.status, 302);
    const page = await send(limited.url, {
      path: pathOf(short.headers['location'] as string),
      headers: HTML,
    });
    assert.equal(page.status, 200, page.text.slice(0, 200));
  });
});
