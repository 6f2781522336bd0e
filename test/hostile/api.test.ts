/**
 * Hostile input against the JSON API: joseencrypt v1 and v2, /api/visits and its sub-routes, and
 * every JSON body the service reads (hooks, live, space). Property-based with a fixed seed: hostile
 * objects and trees, malformed JSON, deep nesting, prototype keys, huge numbers, unicode, wrong
 * content types, oversized bodies, bad Authorization, odd ids, query strings and methods. Every
 * answer: never a 5xx, the right 4xx in the error envelope, no internals; afterwards no prototype
 * is polluted and /healthz still answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { AUDIENCE } from '../../src/domain/constants.js';
import { parseWhen } from '../../src/domain/local-time.js';
import { VISIT_STATES } from '../../src/domain/visit-state.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  assertAlive,
  assertNoPollution,
  assertSane,
  BAD_AUTHORIZATION,
  BAD_PERCENT,
  deepJson,
  expectAnswer,
  hostileKey,
  hostileObject,
  hostileTree,
  jsonText,
  MALFORMED_JSON,
  malformedJson,
  malformedPercent,
  NOT_JSON_TYPES,
  NUMBER_LITERALS,
  nastyString,
  numberLiteral,
  obj,
  POLLUTERS,
  q,
  raw,
  runs,
  send,
  statusesFor,
  type Tree,
} from './support.js';

let server: TestServer;
let visitId: string;
let revokedKey: string;
const FAST_CRYPTO: [string, Tree] = ['crypto', obj([['iterations', raw(1000)]])];

before(async () => {
  server = await startTestServer();
  const made = await send(server.url, {
    method: 'POST',
    path: '/api/visits',
    headers: json(),
    body: JSON.stringify({ subject: 'hostile', guests: 1, crypto: { iterations: 1000 } }),
  });
  assert.equal(made.status, 201, made.text);
  visitId = made.json.id;
  const revoked = await server.server.context.apiKeys.create(server.server.context.org, 'revoked');
  await server.server.context.apiKeys.revoke(server.server.context.org, revoked.record.id);
  revokedKey = revoked.key;
});
after(async () => {
  await assertAlive(server.url);
  assertNoPollution();
  await server.close();
});

/** The test key and a JSON Content-Type (for requests with a body). */
function json(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${server.key}`, 'content-type': 'application/json', ...extra };
}

/** The test key alone (requests without a body). */
const auth = () => ({ authorization: `Bearer ${server.key}` });

/** Every route that reads a JSON body, with what a well-formed but wrong body answers. */
function jsonRoutes(): { path: string; ok: number[]; kind: 'api' }[] {
  return [
    { path: '/api/v1/joseencrypt', ok: [200], kind: 'api' },
    { path: '/api/v2/joseencrypt', ok: [200], kind: 'api' },
    { path: '/api/visits', ok: [201], kind: 'api' },
    { path: `/api/visits/${visitId}/links`, ok: [201], kind: 'api' },
    { path: '/hooks/visits', ok: [201], kind: 'api' },
    { path: '/live/join', ok: [], kind: 'api' },
    { path: '/live/leave', ok: [], kind: 'api' },
    { path: '/live/end', ok: [], kind: 'api' },
    { path: '/api/v1/space', ok: [], kind: 'api' },
    { path: '/api/v1/space/', ok: [], kind: 'api' },
  ];
}

/** A valid joseencrypt body as a tree (fast PBKDF2), to mutate one field at a time. */
const joseTree = (sub: string): [string, Tree][] => [
  ['aud', raw(AUDIENCE)],
  ['jwt', obj([['sub', raw(sub)]])],
  ['iterations', raw(1000)],
];

const JOSE_NUMERIC = ['numHost', 'numGuest', 'iterations', 'saltLength'];
/** Literals no numeric field of joseencrypt accepts (outside every range, not integers, not numbers). */
const NEVER_VALID_NUMBERS = [
  '1e308',
  '-1e308',
  '1.7976931348623157e308',
  '1e309',
  '-1e309',
  '123456789012345678901234567890',
  '0.5',
  '3.14159',
  '"NaN"',
  '"Infinity"',
  '"-Infinity"',
  '"1e308"',
  '"0x10"',
  'true',
  'null',
  '[]',
  '{}',
  '"1.5"',
];

describe('joseencrypt v1 and v2', () => {
  test('hostile objects are refused with 400 naming a field, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('v1', 'v2'), hostileObject, async (version, tree) => {
        const answer = await send(server.url, {
          method: 'POST',
          path: `/api/${version}/joseencrypt`,
          headers: json(),
          body: jsonText(tree),
        });
        assertSane(answer, { kind: 'api', status: 400, code: /^ERR_(VALIDATION|BAD_JSON)$/ });
      }),
      runs(250),
    );
  });

  test('any JSON value as the whole body: 400, an object is required', async () => {
    await fc.assert(
      fc.asyncProperty(hostileTree, async (tree) => {
        await expectAnswer(
          server.url,
          { method: 'POST', path: '/api/v2/joseencrypt', headers: json(), body: jsonText(tree) },
          { kind: 'api', status: 400, code: /^ERR_(VALIDATION|BAD_JSON)$/ },
        );
      }),
      runs(150),
    );
  });

  test('one field of a valid body made hostile: 200 when still valid, else 400 at that field', async () => {
    const fields = ['aud', 'jwt', 'sub', 'nbf', 'exp', ...JOSE_NUMERIC, 'provideShortUrls', 'verticalType'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('v1', 'v2'),
        fc.constantFrom(...fields),
        fc.oneof(
          hostileTree,
          numberLiteral.map((text): Tree => ({ t: 'raw', text })),
        ),
        async (version, field, value) => {
          const entries = joseTree('mutated');
          const inJwt = ['sub', 'nbf', 'exp'].includes(field);
          if (inJwt)
            entries[1] = [
              'jwt',
              obj([
                ['sub', raw('mutated')],
                [field, value],
              ]),
            ];
          else entries.push([field, value]);
          const answer = await send(server.url, {
            method: 'POST',
            path: `/api/${version}/joseencrypt`,
            headers: json(),
            body: jsonText(obj(entries)),
          });
          assertSane(answer, { kind: 'api', status: [200, 400] });
          if (answer.status === 400 && answer.json.code === 'ERR_VALIDATION') {
            const paths = answer.json.errors.map((e: { path?: string }) => e.path ?? '');
            const at = inJwt ? `jwt.${field}` : field;
            assert.ok(
              paths.some((p: string) => p === at || p.startsWith(`${at}.`) || p.startsWith(`${at}[`)),
              `${at}: ${answer.text}`,
            );
          }
        },
      ),
      runs(300),
    );
  });

  test('huge, negative-zero, NaN-ish and past-double numbers in every numeric field', async () => {
    for (const version of ['v1', 'v2']) {
      for (const field of [...JOSE_NUMERIC, 'nbf', 'exp']) {
        for (const literal of [...NUMBER_LITERALS, ...NEVER_VALID_NUMBERS]) {
          const entries = joseTree('numbers');
          if (field === 'nbf' || field === 'exp') {
            entries[1] = [
              'jwt',
              obj([
                ['sub', raw('numbers')],
                [field, { t: 'raw', text: literal }],
              ]),
            ];
          } else entries.push([field, { t: 'raw', text: literal }]);
          const answer = await send(server.url, {
            method: 'POST',
            path: `/api/${version}/joseencrypt`,
            headers: json(),
            body: jsonText(obj(entries)),
          });
          if (NEVER_VALID_NUMBERS.includes(literal)) {
            assertSane(answer, { kind: 'api', status: 400, code: 'ERR_VALIDATION' });
          } else assertSane(answer, { kind: 'api', status: [200, 400] });
        }
      }
    }
  });
});

const TIME_FIELDS = ['start', 'end', 'ttl', 'timeZone'];

describe('/api/visits and its sub-routes', () => {
  test('hostile objects to POST /api/visits: 201 when valid, else 400', async () => {
    await fc.assert(
      fc.asyncProperty(hostileObject, async (tree) => {
        const body = tree.t === 'obj' ? obj([FAST_CRYPTO, ...tree.entries]) : tree;
        const answer = await send(server.url, {
          method: 'POST',
          path: '/api/visits',
          headers: json(),
          body: jsonText(body),
        });
        assertSane(answer, { kind: 'api', status: [201, 400], code: /^ERR_(VALIDATION|BAD_JSON)$/ });
      }),
      runs(150),
    );
  });

  test('each visit field made hostile (unicode, huge numbers, nesting): 201 or 400 at that field', async () => {
    const fields = [
      'subject',
      'start',
      'end',
      'ttl',
      'timeZone',
      'hosts',
      'guests',
      'devices',
      'vertical',
      'recipients',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.oneof(
          hostileTree,
          nastyString.map(raw),
          numberLiteral.map((text): Tree => ({ t: 'raw', text })),
        ),
        async (field, value) => {
          const answer = await send(server.url, {
            method: 'POST',
            path: '/api/visits',
            headers: json(),
            body: jsonText(obj([FAST_CRYPTO, [field, value]])),
          });
          assertSane(answer, { kind: 'api', status: [201, 400] });
          if (answer.status === 400 && answer.json.code === 'ERR_VALIDATION') {
            // A time names the window it breaks (a start in the past makes the end too early).
            const related = TIME_FIELDS.includes(field) ? TIME_FIELDS : [field];
            const paths = answer.json.errors.map((e: { path?: string }) => e.path ?? '');
            assert.ok(
              paths.some((p: string) => related.some((f) => p === f || p.startsWith(`${f}[`))),
              `${field}: ${answer.text}`,
            );
          }
          if (answer.status === 201 && field === 'subject') {
            // What was stored reads back as JSON, the same.
            const read = await send(server.url, { path: `/api/visits/${answer.json.id}`, headers: auth() });
            assertSane(read, { kind: 'api', status: 200 });
            assert.equal(read.json.subject, answer.json.subject);
          }
        },
      ),
      runs(200),
    );
  });

  test('each field of a recipient made hostile: 201 or 400 naming that recipient', async () => {
    const fields = ['role', 'index', 'name', 'email', 'phone', 'channel', 'language', 'timeZone'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.oneof(
          hostileTree,
          nastyString.map(raw),
          numberLiteral.map((text): Tree => ({ t: 'raw', text })),
        ),
        async (field, value) => {
          const entries: [string, Tree][] = [
            ['role', raw('guest')],
            ['email', raw('someone@patients.example')],
          ].filter(([k]) => k !== field) as [string, Tree][];
          entries.push([field, value]);
          const answer = await send(server.url, {
            method: 'POST',
            path: '/api/visits',
            headers: json(),
            body: jsonText(obj([FAST_CRYPTO, ['recipients', { t: 'arr', items: [obj(entries)] }]])),
          });
          assertSane(answer, { kind: 'api', status: [201, 400] });
          if (answer.status === 400 && answer.json.code === 'ERR_VALIDATION') {
            const paths = answer.json.errors.map((e: { path?: string }) => e.path ?? '');
            assert.ok(
              paths.some((p: string) => p.startsWith('recipients[0]')),
              `${field}: ${answer.text}`,
            );
          }
        },
      ),
      runs(150),
    );
  });

  test('POST /api/visits/:id/links with hostile bodies: 201 or 400', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostileObject,
          fc
            .tuple(fc.constantFrom('hosts', 'guests'), numberLiteral)
            .map(([k, text]) => obj([[k, { t: 'raw', text }]])),
        ),
        async (tree) => {
          const answer = await send(server.url, {
            method: 'POST',
            path: `/api/visits/${visitId}/links`,
            headers: json(),
            body: jsonText(tree),
          });
          assertSane(answer, { kind: 'api', status: [201, 400], code: /^ERR_(VALIDATION|BAD_JSON)$/ });
        },
      ),
      runs(150),
    );
  });

  test('odd visit ids in the path: 404 (400 for a malformed %-encoding), on every sub-route', async () => {
    const id = fc.oneof(
      nastyString.filter((s) => s.length > 0).map(q),
      fc.constantFrom(...BAD_PERCENT),
      fc.constantFrom('vis_', 'vis_%00', `vis_${'A'.repeat(250)}`, '..', '%2e%2e', '%2F', 'vis_x%2F..%2F'),
    );
    await fc.assert(
      fc.asyncProperty(
        id,
        fc.constantFrom(
          ['GET', ''],
          ['DELETE', ''],
          ['GET', '/events'],
          ['GET', '/deliveries'],
          ['POST', '/links'],
          ['DELETE', '/links/guest/0'],
          ['POST', '/links/guest/0/resend'],
        ) as fc.Arbitrary<[string, string]>,
        async (encoded, [method, suffix]) => {
          const badPercent = malformedPercent(encoded);
          const answer = await send(server.url, {
            method,
            path: `/api/visits/${encoded}${suffix}`,
            ...(method === 'POST'
              ? { headers: json(), body: suffix.endsWith('/resend') ? '{}' : '{"guests":1}' }
              : { headers: auth() }),
          });
          const expected = statusesFor(encoded, badPercent ? [400, 404] : [404]);
          assertSane(answer, { kind: 'api', status: expected, code: /^ERR_(NOT_FOUND|VALIDATION)$/ });
        },
      ),
      runs(200),
    );
  });

  test('DELETE /api/visits/:id/links/:role/:index with odd roles and indexes: 400 naming the field, 404, or once 200 then 409', async () => {
    const made = await send(server.url, {
      method: 'POST',
      path: '/api/visits',
      headers: json(),
      body: JSON.stringify({ guests: 2, crypto: { iterations: 1000 } }),
    });
    assert.equal(made.status, 201);
    const segment = fc.oneof(
      nastyString.filter((s) => s.length > 0).map(q),
      fc.constantFrom(...BAD_PERCENT),
      fc.constantFrom(
        'host',
        'guest',
        'GUEST',
        '0',
        '1',
        '2',
        '-1',
        '1e3',
        '0x1',
        '01',
        '9999999',
        '%200',
        '%20',
      ),
    );
    await fc.assert(
      fc.asyncProperty(segment, segment, async (role, index) => {
        const answer = await send(server.url, {
          method: 'DELETE',
          path: `/api/visits/${made.json.id}/links/${role}/${index}`,
          headers: auth(),
        });
        const badPercent = malformedPercent(role) || malformedPercent(index);
        assertSane(answer, {
          kind: 'api',
          status: statusesFor(`${role}/${index}`, badPercent ? [400, 404] : [200, 400, 404, 409]),
          code: /^ERR_(NOT_FOUND|VALIDATION|CONFLICT)$/,
        });
        if (answer.status === 400 && !badPercent && answer.json?.errors?.[0]?.path !== undefined) {
          assert.ok(
            answer.json.errors.some((e: { path?: string }) => e.path === 'role' || e.path === 'index'),
            answer.text,
          );
        }
      }),
      runs(200),
    );
  });

  test('POST /api/visits/:id/links/:role/:index/resend with odd roles, indexes and bodies: 400 naming the field, 404, never a 5xx', async () => {
    // This server has no SMTP_URL and the visit no recipients: nothing can be queued.
    const made = await send(server.url, {
      method: 'POST',
      path: '/api/visits',
      headers: json(),
      body: JSON.stringify({ guests: 2, crypto: { iterations: 1000 } }),
    });
    assert.equal(made.status, 201);
    const segment = fc.oneof(
      nastyString.filter((s) => s.length > 0).map(q),
      fc.constantFrom(...BAD_PERCENT),
      fc.constantFrom('host', 'guest', 'GUEST', '0', '1', '-1', '1e3', '01', '9999999', '%20'),
    );
    const body = fc.oneof(
      fc.constantFrom(
        '',
        '{}',
        'null',
        '[]',
        '"sms"',
        '{"channel":"sms"}',
        '{"channel":"fax"}',
        '{"channel":["email"]}',
        '{"channel":null}',
        '{"__proto__":{"channel":"sms"}}',
        '{"channel":"email","x":1}',
        '{',
      ),
      nastyString.map((v) => JSON.stringify({ channel: v })),
    );
    await fc.assert(
      fc.asyncProperty(segment, segment, body, async (role, index, text) => {
        const answer = await send(server.url, {
          method: 'POST',
          path: `/api/visits/${made.json.id}/links/${role}/${index}/resend`,
          headers: text === '' ? auth() : json(),
          ...(text === '' ? {} : { body: text }),
        });
        const badPercent = malformedPercent(role) || malformedPercent(index);
        assertSane(answer, {
          kind: 'api',
          status: statusesFor(`${role}/${index}`, [400, 404]),
          // ERR_BAD_JSON: not JSON, or a `__proto__` key (refused by the parser).
          code: /^ERR_(NOT_FOUND|VALIDATION|BAD_JSON)$/,
        });
        if (answer.status === 400 && !badPercent && answer.json?.errors?.[0]?.path !== undefined) {
          assert.ok(
            answer.json.errors.every((e: { path?: string }) =>
              ['role', 'index', 'channel', 'recipient', '', '__proto__', 'x'].includes(e.path ?? ''),
            ),
            answer.text,
          );
        }
      }),
      runs(150),
    );
  });

  test('GET /api/visits query strings: 200 exactly when every filter is known, single and in range', async () => {
    const knownKey = fc.constantFrom('limit', 'offset', 'from', 'to', 'state', 'q');
    const value = fc.oneof(
      fc.nat({ max: 200 }).map(String),
      numberLiteral,
      fc.constantFrom(...VISIT_STATES, 'OPEN', '', ' 1', '1 ', '01', '+1'),
      nastyString.map((s) => s.replace(/[\uD800-\uDFFF]/g, '')),
    );
    const pair = fc.tuple(
      fc.oneof({ weight: 4, arbitrary: knownKey }, { weight: 1, arbitrary: hostileKey }),
      value,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(pair, { maxLength: 5 }), async (pairs) => {
        const clean = pairs.map(([k, v]): [string, string] => [k.replace(/[\uD800-\uDFFF]/g, ''), v]);
        const query = clean.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        const answer = await send(server.url, {
          path: `/api/visits${query ? `?${query}` : ''}`,
          headers: auth(),
        });
        const expected = listQueryValid(clean) ? 200 : 400;
        assertSane(answer, {
          kind: 'api',
          status: expected,
          ...(expected === 400 ? { code: 'ERR_VALIDATION' } : {}),
        });
        if (expected === 200) assert.ok(Array.isArray(answer.json.items), answer.text);
      }),
      runs(300),
    );
  });

  test('duplicate query parameters and prototype keys in the query are refused, nothing polluted', async () => {
    for (const query of [
      'limit=1&limit=2',
      'offset=0&offset=0',
      'state=open&state=ended',
      'q=a&q=b',
      '__proto__=x',
      '__proto__[polluted]=yes',
      'constructor[prototype][polluted]=yes',
      'constructor=x&prototype=y',
      'limit[]=1',
      'limit[__proto__]=1',
      `q=${'%F0%9F%98%80'.repeat(201)}`,
      `q=${'x'.repeat(8000)}`,
    ]) {
      await expectAnswer(
        server.url,
        { path: `/api/visits?${query}`, headers: auth() },
        { kind: 'api', status: 400, code: 'ERR_VALIDATION' },
      );
    }
    assertNoPollution();
  });
});

/** The oracle of GET /api/visits' filters (as src/server/routes/visits.ts documents them). */
function listQueryValid(pairs: [string, string][]): boolean {
  const seen = new Map<string, string[]>();
  for (const [k, v] of pairs) seen.set(k, [...(seen.get(k) ?? []), v]);
  const range = (key: string, min: number, max: number) => {
    const values = seen.get(key);
    if (!values) return true;
    if (values.length !== 1) return false;
    const v = values[0]!;
    return /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max;
  };
  // from and to take what a visit's start and end take (the domain's own parser is the oracle of
  // which texts are times; what this checks is that every other answer is a clean 400).
  const when = (key: string) => {
    const values = seen.get(key);
    if (!values) return true;
    if (values.length !== 1) return false;
    const v = values[0]!;
    return (
      v.length >= 1 &&
      v.length <= 64 &&
      parseWhen(v, { now: Math.floor(Date.now() / 1000), timeZone: 'UTC' }).ok
    );
  };
  for (const key of seen.keys())
    if (!['limit', 'offset', 'from', 'to', 'state', 'q', 'timeZone'].includes(key)) return false;
  const state = seen.get('state');
  if (state && (state.length !== 1 || !(VISIT_STATES as readonly string[]).includes(state[0]!))) return false;
  const text = seen.get('q');
  if (text && (text.length !== 1 || text[0]!.length > 200)) return false;
  return range('limit', 1, 100) && range('offset', 0, 1_000_000) && when('from') && when('to');
}

describe('every JSON body the service reads', () => {
  test('malformed JSON: 400 ERR_BAD_JSON on every route', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...jsonRoutes()), malformedJson, async (route, body) => {
        await expectAnswer(
          server.url,
          { method: 'POST', path: route.path, headers: json(), body },
          { kind: 'api', status: 400, code: 'ERR_BAD_JSON' },
        );
      }),
      runs(250),
    );
    for (const route of jsonRoutes()) {
      for (const body of MALFORMED_JSON) {
        await expectAnswer(
          server.url,
          { method: 'POST', path: route.path, headers: json(), body },
          { kind: 'api', status: 400, code: 'ERR_BAD_JSON' },
        );
      }
    }
  });

  test('10 000 levels of nesting (and as deep as 64 KiB allows): a 4xx, never a stack overflow', async () => {
    const bodies = [
      deepJson(10_000, 'array'),
      deepJson(10_000, 'object'),
      deepJson(4_000, 'proto'),
      deepJson(32_000, 'array'),
      `{"aud":"${AUDIENCE}","jwt":{"sub":${deepJson(10_000, 'array')}}}`,
      `{"jwt":${deepJson(10_000, 'object')}}`,
      `{"subject":${deepJson(10_000, 'array')},"devices":${deepJson(10_000, 'array')}}`,
      `{"ticket":${deepJson(10_000, 'object')}}`,
      `{"data":{"id":${deepJson(10_000, 'array')}}}`,
      `{"notify":${deepJson(10_000, 'object')}}`,
    ];
    for (const route of jsonRoutes()) {
      for (const body of bodies) {
        const answer = await send(server.url, { method: 'POST', path: route.path, headers: json(), body });
        // Live and space routes refuse what they cannot use (403 for no ticket, 400 for no token).
        assertSane(answer, { kind: 'api', status: [400, 403] });
        if (route.path.startsWith('/live/')) assert.ok([400, 403].includes(answer.status));
        else assert.equal(answer.status, 400, answer.text);
      }
    }
    await assertAlive(server.url);
  });

  test('__proto__, constructor and prototype keys anywhere: refused or ignored, no prototype polluted', async () => {
    const polluted = fc.oneof(
      fc.constantFrom(...POLLUTERS),
      // Nested inside an otherwise valid body.
      fc.constantFrom(...POLLUTERS).map((p) => obj([...joseTree('proto'), ['extra', p]])),
      fc.constantFrom(...POLLUTERS).map((p) => obj([...joseTree('proto').slice(0, 1), ['jwt', p]])),
      fc.constantFrom(...POLLUTERS).map((p) => obj([FAST_CRYPTO, ['devices', { t: 'arr', items: [p] }]])),
      fc.constantFrom(...POLLUTERS).map((p) => obj([['ticket', p]])),
      fc.constantFrom(...POLLUTERS).map((p) => obj([['notify', p]])),
      fc.constantFrom(...POLLUTERS).map((p) => obj([['data', p]])),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...jsonRoutes()), polluted, async (route, tree) => {
        const answer = await send(server.url, {
          method: 'POST',
          path: route.path,
          headers: json(),
          body: jsonText(tree),
        });
        assertSane(answer, { kind: 'api', status: [400, 403] });
        assertNoPollution();
      }),
      runs(200),
    );
  });

  test('a body that is not JSON: 415 on every JSON-only route (the space API reads no body)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...jsonRoutes()),
        fc.constantFrom(...NOT_JSON_TYPES),
        fc.oneof(fc.constant('{}'), malformedJson),
        async (route, type, body) => {
          const answer = await send(server.url, {
            method: 'POST',
            path: route.path,
            headers: json({ 'content-type': type }),
            body,
          });
          const space = route.path.startsWith('/api/v1/space');
          // The space API reads the token from the query; a text body is ignored there.
          const status = space && type === 'text/plain' ? 400 : 415;
          assertSane(answer, { kind: 'api', status });
          if (status === 415) assert.equal(answer.json.code, 'ERR_UNSUPPORTED_MEDIA_TYPE');
        },
      ),
      runs(200),
    );
    for (const route of jsonRoutes()) {
      // No Content-Type at all, with a body.
      const answer = await send(server.url, {
        method: 'POST',
        path: route.path,
        headers: { authorization: `Bearer ${server.key}` },
        body: '{}',
      });
      assertSane(answer, { kind: 'api', status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' });
    }
  });

  test('bodies over 64 KiB: 413 on every route, with or without Content-Length', async () => {
    const sizes = [64 * 1024 + 1, 200 * 1024, 2 * 1024 * 1024];
    for (const route of jsonRoutes()) {
      for (const size of sizes) {
        for (const chunked of [false, true]) {
          const body = `{"a":"${'x'.repeat(size)}"}`;
          await expectAnswer(
            server.url,
            { method: 'POST', path: route.path, headers: json(), body, chunked },
            { kind: 'api', status: 413, code: 'ERR_BODY_TOO_LARGE' },
          );
        }
      }
    }
    await assertAlive(server.url);
  });
});

describe('Authorization', () => {
  const keyRoutes = () => [
    { method: 'POST', path: '/api/v1/joseencrypt', body: '{}' },
    { method: 'POST', path: '/api/v2/joseencrypt', body: '{}' },
    { method: 'GET', path: '/api/visits' },
    { method: 'POST', path: '/api/visits', body: '{}' },
    { method: 'GET', path: `/api/visits/${visitId}` },
    { method: 'DELETE', path: `/api/visits/${visitId}` },
    { method: 'GET', path: `/api/visits/${visitId}/events` },
    { method: 'POST', path: `/api/visits/${visitId}/links`, body: '{"guests":1}' },
    { method: 'DELETE', path: `/api/visits/${visitId}/links/guest/0` },
    { method: 'POST', path: `/api/visits/${visitId}/links/guest/0/resend`, body: '{}' },
    { method: 'POST', path: '/hooks/visits', body: '{}' },
  ];
  const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e]/g, '');

  test('missing, malformed, bogus and revoked keys: 401 with WWW-Authenticate, nothing done', async () => {
    const authorization = fc.oneof(
      fc.constantFrom(...BAD_AUTHORIZATION.map(headerSafe)),
      fc.string({ unit: 'binary-ascii', maxLength: 200 }).map((s) => `Bearer ${headerSafe(s)}`),
      fc.string({ unit: 'binary-ascii', maxLength: 200 }).map(headerSafe),
      fc.constant('REVOKED'),
      fc.nat().map((n) => `FLIP:${n}`),
      fc.constant('NONE'),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keyRoutes()), authorization, async (route, auth) => {
        const headers: Record<string, string> = route.body ? { 'content-type': 'application/json' } : {};
        if (auth === 'REVOKED') headers['authorization'] = `Bearer ${revokedKey}`;
        else if (auth.startsWith('FLIP:')) {
          // The real key with one character changed.
          const i = Number(auth.slice(5)) % server.key.length;
          const c = server.key[i] === 'A' ? 'B' : 'A';
          headers['authorization'] = `Bearer ${server.key.slice(0, i)}${c}${server.key.slice(i + 1)}`;
        } else if (auth !== 'NONE') headers['authorization'] = auth;
        const answer = await send(server.url, {
          method: route.method,
          path: route.path,
          headers,
          ...(route.body ? { body: route.body } : {}),
        });
        assertSane(answer, { kind: 'api', status: 401, code: 'ERR_UNAUTHORIZED' });
        assert.match(String(answer.headers['www-authenticate']), /^Bearer /);
      }),
      runs(300),
    );
    // The visit was never cancelled by any of them.
    const visit = await send(server.url, { path: `/api/visits/${visitId}`, headers: auth() });
    assert.notEqual(visit.json.state, 'cancelled');
  });
});

describe('methods', () => {
  test('another standard method on a known path: 405 with Allow, before any body is read', async () => {
    // Each path with the methods it really has.
    const paths: [string, string[]][] = [
      ['/api/v1/joseencrypt', ['POST']],
      ['/api/v2/joseencrypt', ['POST']],
      ['/api/visits', ['GET', 'POST']],
      [`/api/visits/${visitId}/events`, ['GET']],
      [`/api/visits/${visitId}/links`, ['POST']],
      ['/hooks/visits', ['POST']],
      ['/hooks/webex', ['POST']],
      ['/live/join', ['POST']],
      ['/live/status', ['GET']],
      ['/api/v1/space', ['GET', 'POST']],
      ['/healthz', ['GET']],
      ['/metrics', ['GET']],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'POST'),
        fc.constantFrom(undefined, '', '{', '{"a":1}', 'x'.repeat(70_000)),
        async ([path, own], method, body) => {
          const answer = await send(server.url, {
            method,
            path,
            ...(body !== undefined ? { headers: json(), body } : { headers: auth() }),
          });
          if (!own.includes(method)) {
            // Whatever the body (broken, huge): the method is what is wrong.
            assertSane(answer, { kind: 'api', status: 405, code: 'ERR_METHOD_NOT_ALLOWED' });
            assert.deepEqual(String(answer.headers['allow']).split(', ').sort(), [...own].sort());
          } else {
            // The method is the route's own: whatever it answers, sanely.
            assertSane(answer, { kind: 'api', status: [200, 201, 400, 401, 403, 404, 409, 413, 415] });
          }
        },
      ),
      runs(200),
    );
  });

  test('methods no route has (PROPFIND, SEARCH…): 404; ones HTTP does not know: 400', async () => {
    for (const path of ['/api/visits', '/api/v2/joseencrypt', '/hooks/webex', '/healthz', '/nowhere']) {
      for (const method of ['PROPFIND', 'MKCOL', 'COPY', 'LOCK', 'SEARCH', 'PURGE', 'REPORT', 'TRACE']) {
        await expectAnswer(
          server.url,
          { method, path, headers: auth() },
          { kind: 'api', status: 404, code: 'ERR_NOT_FOUND' },
        );
      }
      await expectAnswer(
        server.url,
        { method: 'FOO', path },
        { kind: 'api', status: 400, code: 'ERR_VALIDATION' },
      );
    }
  });
});
