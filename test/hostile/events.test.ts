/**
 * Hostile input against the outbound events API (issue 15 §4): subscriptions, rotation, the
 * deliveries listing and replays. Property-based with the suite's fixed seed: hostile objects,
 * each field made hostile, malformed JSON, wrong content types, oversized bodies, odd ids, query
 * strings, bad Authorization. Every answer: never a 5xx, the right 4xx in the envelope, no
 * internals; afterwards no prototype is polluted and /healthz still answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  assertAlive,
  assertNoPollution,
  assertSane,
  BAD_AUTHORIZATION,
  BAD_PERCENT,
  hostileObject,
  hostileTree,
  jsonText,
  MALFORMED_JSON,
  malformedPercent,
  NOT_JSON_TYPES,
  nastyString,
  obj,
  q,
  raw,
  runs,
  send,
  statusesFor,
} from './support.js';

let server: TestServer;
let subscriptionId: string;

before(async () => {
  server = await startTestServer();
  const made = await send(server.url, {
    method: 'POST',
    path: '/api/events/subscriptions',
    headers: json(),
    body: JSON.stringify({ url: 'https://ehr.example.org/hooks', types: ['visit.created'] }),
  });
  assert.equal(made.status, 201, made.text);
  subscriptionId = made.json.id;
});
after(async () => {
  await assertAlive(server.url);
  assertNoPollution();
  await server.close();
});

function json(): Record<string, string> {
  return { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' };
}
const auth = () => ({ authorization: `Bearer ${server.key}` });

/** The JSON-body routes of outbound events, with what a well-formed body may answer. */
const bodyRoutes = () => [
  { path: '/api/events/subscriptions', ok: [201] },
  { path: `/api/events/subscriptions/${subscriptionId}/rotate`, ok: [200] },
];

describe('subscriptions', () => {
  test('hostile objects: 201 when valid, else 400', async () => {
    await fc.assert(
      fc.asyncProperty(hostileObject, async (tree) => {
        const answer = await send(server.url, {
          method: 'POST',
          path: '/api/events/subscriptions',
          headers: json(),
          body: jsonText(tree),
        });
        assertSane(answer, { kind: 'api', status: [201, 400], code: /^ERR_(VALIDATION|BAD_JSON)$/ });
      }),
      runs(150),
    );
  });

  test('each field made hostile: 201, or 400 naming that field', async () => {
    const valid: Record<string, unknown> = { url: 'https://ehr.example.org/hooks', types: ['visit.created'] };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('url', 'types', 'description'),
        fc.oneof(
          hostileTree,
          nastyString.map((s) => raw(s)),
        ),
        async (field, value) => {
          const entries = Object.entries(valid)
            .filter(([k]) => k !== field)
            .map(([k, v]): [string, ReturnType<typeof raw>] => [k, raw(v)]);
          const answer = await send(server.url, {
            method: 'POST',
            path: '/api/events/subscriptions',
            headers: json(),
            body: jsonText(obj([...entries, [field, value]])),
          });
          assertSane(answer, { kind: 'api', status: [201, 400], code: /^ERR_(VALIDATION|BAD_JSON)$/ });
          if (answer.status === 400 && answer.json?.code === 'ERR_VALIDATION')
            assert.ok(
              answer.json.errors.some((e: { path: string }) => e.path === field),
              `${field}: ${answer.text.slice(0, 300)}`,
            );
        },
      ),
      runs(150),
    );
  });

  test('hostile rotate bodies: 200 or 400; odd ids 404 (400 for a malformed %-encoding) on every route', async () => {
    await fc.assert(
      fc.asyncProperty(hostileObject, async (tree) => {
        const answer = await send(server.url, {
          method: 'POST',
          path: `/api/events/subscriptions/${subscriptionId}/rotate`,
          headers: json(),
          body: jsonText(tree),
        });
        assertSane(answer, { kind: 'api', status: [200, 400], code: /^ERR_(VALIDATION|BAD_JSON)$/ });
      }),
      runs(60),
    );
    const id = fc.oneof(
      nastyString.filter((s) => s.length > 0).map(q),
      fc.constantFrom(...BAD_PERCENT),
      fc.constantFrom('sub_', 'sub_%00', `sub_${'A'.repeat(250)}`, '..', '%2e%2e', '%2F'),
    );
    await fc.assert(
      fc.asyncProperty(
        id,
        fc.constantFrom(['GET', ''], ['DELETE', ''], ['POST', '/rotate']) as fc.Arbitrary<[string, string]>,
        async (encoded, [method, suffix]) => {
          const answer = await send(server.url, {
            method,
            path: `/api/events/subscriptions/${encoded}${suffix}`,
            ...(method === 'POST' ? { headers: json(), body: '{}' } : { headers: auth() }),
          });
          const expected = statusesFor(encoded, malformedPercent(encoded) ? [400, 404] : [404]);
          assertSane(answer, { kind: 'api', status: expected, code: /^ERR_(NOT_FOUND|VALIDATION)$/ });
        },
      ),
      runs(150),
    );
  });
});

describe('deliveries', () => {
  test('query strings: 200 exactly when every filter is known, single and well-formed', async () => {
    const key = fc.constantFrom('subscription', 'visit', 'status', 'limit', 'colour', '__proto__');
    const value = fc.oneof(
      nastyString,
      fc.constantFrom('pending', 'delivered', 'failed', '0', '1', '200', '201', '-1', 'sub_x', 'vis_y'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, value), { maxLength: 4 }), async (pairs) => {
        const query = pairs.map(([k, v]) => `${k}=${q(v)}`).join('&');
        const answer = await send(server.url, { path: `/api/events/deliveries?${query}`, headers: auth() });
        assertSane(answer, { kind: 'api', status: statusesFor(query, [200, 400]), code: 'ERR_VALIDATION' });
      }),
      runs(150),
    );
  });

  test('replays of odd ids: 400 or 404, never a 5xx', async () => {
    const id = fc.oneof(
      nastyString.filter((s) => s.length > 0).map(q),
      fc.constantFrom(...BAD_PERCENT),
      fc.constantFrom('0', '-1', '1e3', '9'.repeat(40), '1.5', '0x10'),
    );
    await fc.assert(
      fc.asyncProperty(id, async (encoded) => {
        const answer = await send(server.url, {
          method: 'POST',
          path: `/api/events/deliveries/${encoded}/replay`,
          headers: auth(),
        });
        assertSane(answer, {
          kind: 'api',
          status: statusesFor(encoded, [400, 404]),
          code: /^ERR_(NOT_FOUND|VALIDATION)$/,
        });
      }),
      runs(100),
    );
  });
});

describe('every events route', () => {
  test('malformed JSON 400, not JSON 415, over 64 KiB 413', async () => {
    for (const { path } of bodyRoutes()) {
      for (const body of MALFORMED_JSON.slice(0, 12)) {
        const answer = await send(server.url, { method: 'POST', path, headers: json(), body });
        assertSane(answer, { kind: 'api', status: 400, code: /^ERR_(BAD_JSON|VALIDATION)$/ });
      }
      for (const type of NOT_JSON_TYPES) {
        const answer = await send(server.url, {
          method: 'POST',
          path,
          headers: { ...auth(), 'content-type': type },
          body: 'url=x',
        });
        assertSane(answer, { kind: 'api', status: [400, 415] });
      }
      const big = await send(server.url, {
        method: 'POST',
        path,
        headers: json(),
        body: JSON.stringify({ description: 'x'.repeat(70 * 1024) }),
      });
      assertSane(big, { kind: 'api', status: 413 });
    }
  });

  test('missing, malformed and bogus keys: 401 with WWW-Authenticate, nothing done', async () => {
    const before = (await send(server.url, { path: '/api/events/subscriptions', headers: auth() })).json.items
      .length;
    for (const authorization of [undefined, ...BAD_AUTHORIZATION]) {
      for (const [method, path] of [
        ['POST', '/api/events/subscriptions'],
        ['GET', '/api/events/subscriptions'],
        ['GET', `/api/events/subscriptions/${subscriptionId}`],
        ['DELETE', `/api/events/subscriptions/${subscriptionId}`],
        ['POST', `/api/events/subscriptions/${subscriptionId}/rotate`],
        ['GET', '/api/events/deliveries'],
        ['POST', '/api/events/deliveries/1/replay'],
      ] as const) {
        const answer = await send(server.url, {
          method,
          path,
          headers: {
            ...(authorization === undefined ? {} : { authorization }),
            ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
          },
          ...(method === 'POST' ? { body: JSON.stringify({ url: 'https://x.example', types: '*' }) } : {}),
        });
        assertSane(answer, { kind: 'api', status: 401, code: 'ERR_UNAUTHORIZED' });
      }
    }
    const after = await send(server.url, {
      path: `/api/events/subscriptions/${subscriptionId}`,
      headers: auth(),
    });
    assert.equal(after.json.active, true, 'not unsubscribed');
    assert.equal(
      (await send(server.url, { path: '/api/events/subscriptions', headers: auth() })).json.items.length,
      before,
    );
  });
});
