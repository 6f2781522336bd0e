/**
 * Every refusal of the broker over real HTTP: the status, Webex's error envelope
 * `{message, errors:[{description}], trackingId}` plus our `code`, and a `TrackingID` header
 * equal to the body's trackingId (reference §7.2, §8.6, §11.3–11.4). Never a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BODY_LIMIT_BYTES } from '../../src/server/app.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  AUDIENCE,
  assertEnvelope,
  assertHtml,
  call,
  encrypt,
  HTML,
  joseBody,
  nowSeconds,
} from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const paths = (body: { errors: { path?: string }[] }) => body.errors.map((e) => e.path);
const errorAt = (body: { errors: { path?: string; description: string; rule?: string }[] }, path: string) => {
  const found = body.errors.find((e) => e.path === path);
  assert.ok(found, `no error at ${path}: ${JSON.stringify(body.errors)}`);
  return found;
};

function post(path: string, init: { headers?: Record<string, string>; body?: string } = {}) {
  return call(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${server.key}`,
      'content-type': 'application/json',
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
}

describe('400 validation', () => {
  test('names every bad field at once, each with its path', async () => {
    const answer = await encrypt(server, {
      aud: 'not-the-audience',
      jwt: { sub: '   ', Nbf: 1671480433000 },
      numHost: 30,
      numGuest: -1,
      provideShortUrls: 'yes',
      verticalType: 'cc',
      jweAlg: 'RSA-OAEP',
      enc: 'A512GCM',
      jwsAlg: 'none',
      saltLength: 4,
      iterations: 5,
      hostDisplayName: 'Dr Who',
    });
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    const expected = [
      'aud',
      'jwt.sub',
      'jwt.Nbf',
      'numHost',
      'numGuest',
      'provideShortUrls',
      'verticalType',
      'jweAlg',
      'enc',
      'jwsAlg',
      'saltLength',
      'iterations',
      'hostDisplayName',
    ];
    assert.deepEqual(
      [...paths(answer.body)].sort(),
      [...expected].sort(),
      `every bad field, once each: ${JSON.stringify(answer.body.errors, null, 1)}`,
    );
    for (const e of answer.body.errors) assert.equal(typeof e.rule, 'string');
  });

  test('a missing jwt and aud are both required', async () => {
    const answer = await encrypt(server, { numHost: 1 });
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    assert.equal(errorAt(answer.body, 'aud').rule, 'required');
    assert.equal(errorAt(answer.body, 'jwt').rule, 'required');
  });

  test('a missing jwt.sub is required', async () => {
    const answer = await encrypt(server, { aud: AUDIENCE, jwt: {} });
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    assert.equal(errorAt(answer.body, 'jwt.sub').rule, 'required');
  });

  test('"Nbf" (Cisco\'s own sample) says: did you mean jwt.nbf, and spots the milliseconds', async () => {
    for (const body of [
      { aud: AUDIENCE, jwt: { sub: 'capital', Nbf: 1671480433000 } },
      { aud: AUDIENCE, jwt: { sub: 'capital' }, Nbf: 1671480433000 },
    ]) {
      const answer = await encrypt(server, body);
      assertEnvelope(answer, 400, 'ERR_VALIDATION');
      const error = answer.body.errors.find((e: { path: string }) => /Nbf$/.test(e.path));
      assert.ok(error, JSON.stringify(answer.body.errors));
      assert.match(error.description, /did you mean jwt\.nbf\?/);
      assert.match(error.description, /milliseconds/);
    }
  });

  test('"Exp" says: did you mean jwt.exp', async () => {
    const answer = await encrypt(server, { aud: AUDIENCE, jwt: { sub: 'capital', Exp: nowSeconds() + 600 } });
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    assert.match(errorAt(answer.body, 'jwt.Exp').description, /did you mean jwt\.exp\?/);
  });

  test('millisecond timestamps in jwt.nbf and jwt.exp are refused, with the seconds they meant', async () => {
    const ms = Date.now();
    const answer = await encrypt(server, {
      aud: AUDIENCE,
      jwt: { sub: 'ms', nbf: ms + 60_000, exp: ms + 600_000 },
    });
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    for (const field of ['jwt.nbf', 'jwt.exp']) {
      const error = errorAt(answer.body, field);
      assert.equal(error.rule, 'milliseconds');
      assert.match(error.description, /looks like milliseconds; in seconds that is \d{10}/);
    }
  });

  test('an exp in the past and an nbf after exp are refused', async () => {
    const now = nowSeconds();
    const past = await encrypt(server, { aud: AUDIENCE, jwt: { sub: 'past', exp: now - 10 } });
    assertEnvelope(past, 400, 'ERR_VALIDATION');
    assert.equal(errorAt(past.body, 'jwt.exp').rule, 'past');
    const order = await encrypt(server, {
      aud: AUDIENCE,
      jwt: { sub: 'order', nbf: now + 600, exp: now + 60 },
    });
    assertEnvelope(order, 400, 'ERR_VALIDATION');
    assert.equal(errorAt(order.body, 'jwt.nbf').rule, 'order');
  });

  test('a wrong aud is refused, naming the documented audience', async () => {
    const answer = await encrypt(server, {
      aud: '9b5cbbf6-f9bc-42ef-a20c-14028b25372b',
      jwt: { sub: 'aud' },
    });
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    assert.deepEqual(paths(answer.body), ['aud']);
    assert.ok(errorAt(answer.body, 'aud').description.includes(AUDIENCE));
  });

  test('a body that is not an object (array, null, string) is a validation error', async () => {
    for (const raw of ['[]', 'null', '"text"', '42']) {
      const answer = await post('/api/v2/joseencrypt', { body: raw });
      assertEnvelope(answer, 400, 'ERR_VALIDATION');
    }
  });
});

describe('malformed JSON: 400 ERR_BAD_JSON, never 500', () => {
  for (const [name, raw] of [
    ['truncated', '{"aud":'],
    ['trailing comma', `{"aud":"${AUDIENCE}","jwt":{"sub":"x"},}`],
    ['single quotes', "{'aud':'x'}"],
    ['garbage', 'hello'],
  ]) {
    test(`${name}`, async () => {
      const answer = await post('/api/v2/joseencrypt', { body: raw! });
      assertEnvelope(answer, 400, 'ERR_BAD_JSON');
    });
  }

  test('on v1 too', async () => {
    assertEnvelope(await post('/api/v1/joseencrypt', { body: '{"jwt":' }), 400, 'ERR_BAD_JSON');
  });

  test('an empty body is no body: 400 naming the missing object, never 500', async () => {
    const answer = await post('/api/v2/joseencrypt', { body: '' });
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    assert.match(answer.text, /the body must be a JSON object \(got nothing\)/);
  });
});

describe('401 with WWW-Authenticate: Bearer', () => {
  const body = JSON.stringify(joseBody('auth'));
  const refused = async (authorization: string | undefined) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (authorization !== undefined) headers['authorization'] = authorization;
    const answer = await call(`${server.url}/api/v2/joseencrypt`, { method: 'POST', headers, body });
    assertEnvelope(answer, 401, 'ERR_UNAUTHORIZED');
    assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer\b/);
    return answer;
  };

  test('missing Authorization', async () => {
    await refused(undefined);
  });

  test('malformed Authorization', async () => {
    for (const value of [
      'Bearer',
      'Bearer ',
      `Basic ${Buffer.from('user:pass').toString('base64')}`,
      server.key, // no scheme
      'Bearer not-a-key',
      `Bearer ${server.key.slice(0, -1)}`,
      `Bearer ${server.key} extra`,
    ]) {
      await refused(value);
    }
  });

  test('a well-formed but unknown key', async () => {
    const answer = await refused(`Bearer ick_${'A1b2C3d4'.repeat(4)}`);
    assert.ok(!answer.text.includes('A1b2C3d4'), 'the key is not echoed');
  });

  test('a revoked key: works, then is revoked and refused', async () => {
    const { context } = server.server;
    const { key, record } = await context.apiKeys.create(context.org, 'to revoke');
    const ok = await encrypt(server, joseBody('before revoke'), { key });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(await context.apiKeys.revoke(context.org, record.id), true);
    const answer = await refused(`Bearer ${key}`);
    assert.match(answer.body.message, /revoked/);
    // The test's own key is untouched.
    assert.equal((await encrypt(server, joseBody('other key'))).status, 200);
  });

  test('v1 needs a key too', async () => {
    const answer = await call(`${server.url}/api/v1/joseencrypt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assertEnvelope(answer, 401, 'ERR_UNAUTHORIZED');
    assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer\b/);
  });
});

describe('404, 405, 413, 415', () => {
  test('an unknown route answers 404 JSON to API clients', async () => {
    for (const [method, path] of [
      ['GET', '/nothing/here'],
      ['POST', '/api/v3/joseencrypt'],
      ['GET', '/api/v2/space'],
    ]) {
      const answer = await call(`${server.url}${path}`, { method: method! });
      assertEnvelope(answer, 404, 'ERR_NOT_FOUND');
    }
  });

  test('an unknown route answers an HTML 404 page to browsers', async () => {
    const answer = await call(`${server.url}/nothing/<here>`, { headers: HTML });
    const html = assertHtml(answer, 404);
    assert.match(answer.headers.get('trackingid') ?? '', /^IC_/);
    assert.match(html, /Link not found/);
    assert.ok(!html.includes('<here>'), 'the path is escaped');
  });

  test('405 with Allow: GET /api/v2/joseencrypt', async () => {
    for (const version of ['v1', 'v2']) {
      const answer = await call(`${server.url}/api/${version}/joseencrypt`);
      assertEnvelope(answer, 405, 'ERR_METHOD_NOT_ALLOWED');
      assert.equal(answer.headers.get('allow'), 'POST');
    }
  });

  test('405 with Allow: DELETE /visit/abc1234, PUT /api/v1/space', async () => {
    const visit = await call(`${server.url}/visit/abc1234`, { method: 'DELETE' });
    assertEnvelope(visit, 405, 'ERR_METHOD_NOT_ALLOWED');
    assert.deepEqual(
      (visit.headers.get('allow') ?? '').split(/,\s*/).filter((m) => m !== 'HEAD'),
      ['GET'],
    );
    const space = await call(`${server.url}/api/v1/space?int=jose&data=x`, { method: 'PUT' });
    assertEnvelope(space, 405, 'ERR_METHOD_NOT_ALLOWED');
    assert.deepEqual((space.headers.get('allow') ?? '').split(/,\s*/).sort(), ['GET', 'POST']);
  });

  test(`413 for a body over ${BODY_LIMIT_BYTES / 1024} KiB`, async () => {
    assert.equal(BODY_LIMIT_BYTES, 64 * 1024);
    const raw = JSON.stringify(joseBody('x'.repeat(BODY_LIMIT_BYTES)));
    assert.ok(raw.length > BODY_LIMIT_BYTES);
    const answer = await post('/api/v2/joseencrypt', { body: raw });
    assertEnvelope(answer, 413, 'ERR_BODY_TOO_LARGE');
  });

  test('a body just under 64 KiB is read (and refused for its content, not its size)', async () => {
    const raw = JSON.stringify({ ...joseBody('big'), padding: 'x'.repeat(60 * 1024) });
    assert.ok(raw.length < BODY_LIMIT_BYTES);
    const answer = await post('/api/v2/joseencrypt', { body: raw });
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    assert.deepEqual(paths(answer.body), ['padding']);
  });

  test('415 for text/plain (and other non-JSON types)', async () => {
    const raw = JSON.stringify(joseBody('typed'));
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded']) {
      const answer = await post('/api/v2/joseencrypt', { headers: { 'content-type': type }, body: raw });
      assertEnvelope(answer, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
    }
  });

  test('application/json with a charset is JSON', async () => {
    const answer = await post('/api/v2/joseencrypt', {
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(joseBody('charset')),
    });
    assert.equal(answer.status, 200, answer.text);
  });
});

describe('TrackingID', () => {
  test('every answer carries one, successful ones too, and each is new', async () => {
    const answers = [
      await encrypt(server, joseBody('tracked')),
      await encrypt(server, joseBody('tracked'), { version: 'v1' }),
      await call(`${server.url}/healthz`),
      await call(`${server.url}/`, { headers: HTML }),
      await call(`${server.url}/nothing`),
    ];
    const ids = answers.map((a) => a.headers.get('trackingid'));
    for (const id of ids) assert.match(id ?? '', /^IC_[0-9a-f-]{36}$/);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(answers[0]!.status, 200);
  });

  test("a client's own request id is never used as the TrackingID", async () => {
    const answer = await call(`${server.url}/nothing`, {
      headers: { 'request-id': 'mine', 'x-request-id': 'mine' },
    });
    assert.notEqual(answer.headers.get('trackingid'), 'mine');
    assert.equal(answer.body.trackingId, answer.headers.get('trackingid'));
  });
});
