/**
 * The document is no stricter than the server: the bodies the labs really send (Webex Connect's
 * string forms `"true"` and `"2"` included, which the server coerces, see src/broker/coerce.ts)
 * are valid against the request schema of the document the server serves (ajv, JSON Schema
 * 2020-12), AND the server answers them with a 2xx. Likewise `POST /api/v1/space` with `{}`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Value from 'typebox/value';
import { coerceJoseEncryptBody } from '../../src/broker/coerce.js';
import { AUDIENCE } from '../../src/domain/constants.js';
import { JoseEncryptRequest } from '../../src/domain/schema.js';
import type { OpenApiDocument } from '../../src/openapi/document.js';
import { call, type HttpAnswer, nowSeconds } from '../broker/helpers.js';
import { OpenApiChecker } from '../support/openapi.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let doc: OpenApiDocument;
let checker: OpenApiChecker;

before(async () => {
  server = await startTestServer();
  const served = await call(`${server.url}/openapi.json`);
  assert.equal(served.status, 200);
  doc = served.body as OpenApiDocument;
  checker = new OpenApiChecker(doc);
});
after(async () => {
  await server.close();
});

let n = 0;
const sub = (what: string) => `lab body ${what} ${++n} ${Date.now()}`;

/** The lab's bodies for POST /api/v2/joseencrypt (and v1), as they are sent. */
const LAB_BODIES: [string, () => Record<string, unknown>][] = [
  ["the lab's minimal body", () => ({ jwt: { sub: sub('minimal') }, aud: AUDIENCE })],
  [
    "the lab's Python snippet (provideShortUrls: true)",
    () => ({ jwt: { sub: sub('python') }, aud: AUDIENCE, provideShortUrls: true }),
  ],
  [
    'Webex Connect\'s string forms: "provideShortUrls": "true", "numGuest": "2", "numHost": "1"',
    () => ({
      jwt: { sub: sub('connect') },
      aud: AUDIENCE,
      provideShortUrls: 'true',
      numGuest: '2',
      numHost: '1',
    }),
  ],
  [
    '"loginUrlForHost": "false", "provideShortUrls": "false", "numHost": "0"',
    () => ({
      jwt: { sub: sub('connect-false') },
      aud: AUDIENCE,
      loginUrlForHost: 'false',
      provideShortUrls: 'false',
      numHost: '0',
    }),
  ],
  [
    'string epoch seconds in the JWT ("nbf", "exp") and string crypto counts',
    () => ({
      jwt: { sub: sub('times'), nbf: String(nowSeconds() - 60), exp: String(nowSeconds() + 900) },
      aud: AUDIENCE,
      numGuest: '1',
      saltLength: '16',
      iterations: '1000',
    }),
  ],
];

const requestSchema = (path: string, method: 'post' = 'post') => {
  const body = doc.paths[path]?.[method]?.requestBody;
  assert.ok(body, `${method.toUpperCase()} ${path} documents no request body`);
  const media = body.content['application/json'];
  assert.ok(media?.schema, `${method.toUpperCase()} ${path} documents no JSON body`);
  return media.schema;
};

function post(path: string, body: unknown, key: string | null = server.key): Promise<HttpAnswer> {
  return call(`${server.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

describe("the lab's joseencrypt bodies: valid in the document, and 2xx from the server", () => {
  for (const version of ['v2', 'v1'] as const) {
    for (const [name, make] of LAB_BODIES) {
      test(`${version}: ${name}`, async () => {
        const path = `/api/${version}/joseencrypt`;
        const body = make();
        checker.assertValid(requestSchema(path), body, `${path} request body`);
        const answer = await post(path, body);
        assert.equal(answer.status, 200, answer.text);
        checker.check('POST', path, answer);
      });
    }
  }

  test('the document still refuses what the server refuses: other strings, other types, unknown fields', async () => {
    const path = '/api/v2/joseencrypt';
    const validate = checker.validator(requestSchema(path));
    const refused = [
      { jwt: { sub: 'x' }, aud: AUDIENCE, provideShortUrls: 'yes' },
      { jwt: { sub: 'x' }, aud: AUDIENCE, provideShortUrls: 'True' },
      { jwt: { sub: 'x' }, aud: AUDIENCE, provideShortUrls: 1 },
      { jwt: { sub: 'x' }, aud: AUDIENCE, numGuest: '2.5' },
      { jwt: { sub: 'x' }, aud: AUDIENCE, numGuest: 'two' },
      { jwt: { sub: 'x' }, aud: AUDIENCE, numGuest: true },
      { jwt: { sub: 'x' }, aud: AUDIENCE, numGuest: 26 },
      { jwt: { sub: 'x', nbf: 'soon' }, aud: AUDIENCE },
      { jwt: { sub: 'x' }, aud: AUDIENCE, verticalType: 'cc' },
      { jwt: { sub: 'x' }, aud: AUDIENCE, colour: 'red' },
      { jwt: { sub: 'x' } },
    ];
    for (const body of refused) {
      assert.equal(validate(body), false, `the document accepts ${JSON.stringify(body)}`);
      // The server's own verdict, the same: its validator after its coercion.
      assert.equal(Value.Check(JoseEncryptRequest, coerceJoseEncryptBody(body)), false, JSON.stringify(body));
      const answer = await post(path, body);
      assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.text}`);
    }
  });
});

describe("POST /api/v1/space with the body Cisco's samples send, {}", () => {
  for (const path of ['/api/v1/space', '/api/v1/space/']) {
    test(`${path}: {} is valid in the document, and the server answers 200`, async () => {
      const links = await post('/api/v2/joseencrypt', { jwt: { sub: sub('space') }, aud: AUDIENCE });
      assert.equal(links.status, 200, links.text);
      const cipher = (links.body as { guest: { cipher: string }[] }).guest[0]!.cipher;
      checker.assertValid(requestSchema(path), {}, `${path} request body`);
      const answer = await post(`${path}?int=jose&v=1&data=${encodeURIComponent(cipher)}`, {}, null);
      assert.equal(answer.status, 200, answer.text);
      checker.check('POST', path, answer);
    });
  }
});
