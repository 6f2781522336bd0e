/**
 * The OpenAPI document: valid for a real OpenAPI 3.1 validator, with exactly the routes the app
 * registers, its schemas the ones the server validates with, and every example a valid request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { validate } from '@readme/openapi-parser';
import Value from 'typebox/value';
import { coerceJoseEncryptBody } from '../../src/broker/coerce.js';
import { AUDIENCE } from '../../src/domain/constants.js';
import { JoseEncryptRequest } from '../../src/domain/schema.js';
import { AddLinksInput, VisitInput } from '../../src/domain/visit-input.js';
import { TriggerInput } from '../../src/hooks/trigger.js';
import {
  buildOpenApiDocument,
  HTTP_METHODS,
  headerName,
  type OpenApiDocument,
} from '../../src/openapi/document.js';
import { registeredRoutes } from '../../src/server/app.js';
import { FIELDS } from '../../src/server/staff/form.js';
import { OpenApiChecker } from '../support/openapi.js';
import { startTestServer, type TestServer } from '../support/server.js';

type JsonLike = Record<string, unknown>;
const doc = buildOpenApiDocument({ serverUrl: 'http://127.0.0.1:8080' });
const checker = new OpenApiChecker(doc);

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    HTTP_METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method]! })),
  );

describe('the document is valid OpenAPI 3.1', () => {
  test('@readme/openapi-parser finds no error and no warning', async () => {
    const result = await validate(structuredClone(doc) as never);
    assert.deepEqual(result, { valid: true, warnings: [], specification: 'OpenAPI' });
    assert.equal(doc.openapi, '3.1.0');
  });

  test('the validator is not blind: a document with a broken response is refused', async () => {
    const broken = structuredClone(doc) as OpenApiDocument;
    delete (broken.paths['/healthz']!.get!.responses['200'] as { description?: string }).description;
    (broken.paths['/api/visits/{id}']!.get!.parameters as unknown[]).length = 0; // {id} undeclared
    const result = await validate(broken as never);
    assert.equal(result.valid, false);
  });

  test('operation ids are unique, every tag is declared, every JSON success has a schema', () => {
    const ids = operations().map((o) => o.op.operationId);
    assert.equal(new Set(ids).size, ids.length);
    const tags = new Set(doc.tags.map((t) => t.name));
    for (const { method, path, op } of operations()) {
      assert.ok(
        op.tags.every((t) => tags.has(t)),
        `${method} ${path}: undeclared tag`,
      );
      for (const [status, r] of Object.entries(op.responses)) {
        const response = checker.resolveResponse(r);
        const json = response.content?.['application/json'];
        if (json) assert.ok(json.schema, `${method} ${path} ${status}: JSON without a schema`);
        // Errors are the envelope; only /readyz answers its own 503 body (for load balancers).
        if (/^[45]/.test(status) && json && path !== '/readyz')
          assert.deepEqual(
            json.schema,
            { $ref: '#/components/schemas/WebexError' },
            `${method} ${path} ${status}`,
          );
      }
    }
  });
});

describe('every route the server registers is in the document, and nothing else', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('the same set of METHOD path', () => {
    const fromApp = new Set(
      registeredRoutes(server.server.app)
        .filter((r) => r.method !== 'HEAD' && !r.methodNotAllowed)
        // fastify's `:id` is OpenAPI's `{id}`; the static files' wildcard is `{file}`.
        .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{file}')}`),
    );
    const fromDoc = new Set(operations().map(({ method, path }) => `${method.toUpperCase()} ${path}`));
    assert.ok(fromApp.size > 30, `only ${fromApp.size} routes were seen`);
    assert.deepEqual(
      [...fromApp].filter((r) => !fromDoc.has(r)),
      [],
      'routes the app registers that the document does not describe',
    );
    assert.deepEqual(
      [...fromDoc].filter((r) => !fromApp.has(r)),
      [],
      'operations the document describes that the app does not register',
    );
  });

  test('every other method of a documented path is a 405 the app generated', () => {
    const generated = registeredRoutes(server.server.app).filter((r) => r.methodNotAllowed);
    for (const { method, path } of operations()) {
      const url = path.replace(/\{(\w+)\}/g, ':$1').replace(/\{file\}$/, '*');
      assert.ok(
        !generated.some((r) => r.url === url && r.method === method.toUpperCase()),
        `${method} ${path} is documented but answered 405`,
      );
    }
  });
});

describe('the schemas are the server’s own', () => {
  const bodyOf = (path: string) => doc.paths[path]!.post!.requestBody!.content['application/json']!.schema;

  test('request bodies reference the TypeBox schemas by their $id', () => {
    // On the wire (JoseEncryptWireBody): JoseEncryptRequest with Cisco's string forms too.
    assert.deepEqual(bodyOf('/api/v2/joseencrypt'), { $ref: '#/components/schemas/JoseEncryptRequest' });
    assert.deepEqual(bodyOf('/api/v1/joseencrypt'), { $ref: '#/components/schemas/JoseEncryptRequest' });
    assert.deepEqual(bodyOf('/api/visits'), { $ref: '#/components/schemas/VisitInput' });
    assert.deepEqual(bodyOf('/api/visits/{id}/links'), { $ref: '#/components/schemas/AddLinksInput' });
    assert.deepEqual(bodyOf('/hooks/visits'), { $ref: '#/components/schemas/TriggerInput' });
  });

  // The same verdict from the server (TypeBox, after the broker's coercion of Cisco's string
  // forms for joseencrypt) and from ajv on the document.
  const server =
    (schema: unknown, coerce: (v: unknown) => unknown = (v) => v) =>
    (value: unknown) =>
      Value.Check(schema as never, coerce(value));
  const cases: [string, (value: unknown) => boolean, unknown[], unknown[]][] = [
    [
      'JoseEncryptRequest',
      server(JoseEncryptRequest, coerceJoseEncryptBody),
      [
        { jwt: { sub: 'a' }, aud: AUDIENCE },
        { jwt: { sub: 'a', nbf: '1', exp: ' 2 ' }, aud: AUDIENCE, numGuest: '2', provideShortUrls: 'true' },
        { jwt: { sub: 'a' }, aud: AUDIENCE, loginUrlForHost: 'false', iterations: '1000' },
        {
          jwt: { sub: 'a', nbf: 1, exp: 2, flow: { id: 'sip-no-knock', data: [{ uri: 'r@x.example.com' }] } },
          aud: 'x',
          numGuest: 25,
        },
      ],
      [
        { jwt: { sub: '' }, aud: AUDIENCE },
        { jwt: { sub: 'a' } },
        { jwt: { sub: 'a', Nbf: 1 }, aud: AUDIENCE },
        { jwt: { sub: 'a' }, aud: AUDIENCE, numHost: 26 },
        { jwt: { sub: 'a' }, aud: AUDIENCE, verticalType: 'cc' },
        { jwt: { sub: 'a', flow: { id: 'sip-no-knock', data: [{ uri: 'not a uri' }] } }, aud: AUDIENCE },
        { jwt: { sub: 'a' }, aud: AUDIENCE, provideShortUrls: 'yes' },
        { jwt: { sub: 'a' }, aud: AUDIENCE, numGuest: '2.0' },
        { jwt: { sub: 'a', nbf: 'now' }, aud: AUDIENCE },
        { jwt: { sub: 'a' }, aud: 1 },
      ],
    ],
    [
      'VisitInput',
      server(VisitInput),
      [
        {},
        { subject: 's', start: '+10m', ttl: '45m', guests: 2, devices: ['sip:r@x.example.com'] },
        { start: 1, ttl: 60 },
      ],
      [
        { hosts: -1 },
        { guests: 501 },
        { colour: 'red' },
        { shortUrls: 'yes' },
        { crypto: { iterations: 5 } },
      ],
    ],
    [
      'TriggerInput',
      server(TriggerInput),
      [{ notify: { host: 'a@b.example', guests: { roomId: 'r' } } }],
      [{ notify: { host: 'not an email' } }, { notify: { guests: { room: 'r' } } }],
    ],
    [
      'AddLinksInput',
      server(AddLinksInput),
      [{}, { hosts: 1, guests: 500 }],
      [{ guests: 501 }, { extra: 1 }],
    ],
  ];
  for (const [name, serverAccepts, valid, invalid] of cases) {
    test(`${name}: the server and the document agree`, () => {
      const fromDoc = checker.validator({ $ref: `#/components/schemas/${name}` });
      for (const value of [...valid, ...invalid]) {
        const expected = valid.includes(value);
        assert.equal(serverAccepts(value), expected, `the server on ${JSON.stringify(value)}`);
        assert.equal(fromDoc(value), expected, `the document on ${JSON.stringify(value)}`);
      }
    });
  }

  test('every example body is valid against its schema', () => {
    let count = 0;
    for (const { method, path, op } of operations()) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        for (const [name, example] of Object.entries(media.examples ?? {})) {
          checker.assertValid(media.schema, example.value, `${method} ${path} ${type} example ${name}`);
          count++;
        }
      }
    }
    assert.ok(count >= 6, `only ${count} examples`);
  });

  test("the lab's minimal body and the short-link body are the joseencrypt examples", () => {
    const examples =
      doc.paths['/api/v2/joseencrypt']!.post!.requestBody!.content['application/json']!.examples!;
    const values = Object.values(examples).map((e) => e.value as Record<string, unknown>);
    assert.ok(values.some((v) => Object.keys(v).sort().join() === 'aud,jwt' && v['aud'] === AUDIENCE));
    assert.ok(values.some((v) => v['provideShortUrls'] === true));
  });

  test('no optional field of a request body carries `default` (generated clients would require it); it is said in words', () => {
    const found: string[] = [];
    const walk = (schema: unknown, where: string) => {
      if (typeof schema !== 'object' || schema === null) return;
      const s = schema as Record<string, unknown>;
      const required = new Set((s['required'] as string[] | undefined) ?? []);
      for (const [name, p] of Object.entries(
        (s['properties'] as Record<string, Record<string, unknown>>) ?? {},
      )) {
        if (!required.has(name) && 'default' in p) found.push(`${where}.${name}`);
        walk(p, `${where}.${name}`);
      }
      if (s['items']) walk(s['items'], `${where}[]`);
    };
    for (const name of ['JoseEncryptRequest', 'VisitInput', 'AddLinksInput', 'TriggerInput'])
      walk(doc.components.schemas[name], name);
    assert.deepEqual(found, []);
    const vertical = (doc.components.schemas['VisitInput']!['properties'] as Record<string, JsonLike>)[
      'vertical'
    ]!;
    assert.match(String(vertical['description']), /Default: `"hc"`\./);
    // Responses keep theirs: the server fills them.
    assert.ok(JSON.stringify(doc.components.schemas['Visit']).includes('"default"'));
  });

  test('the staff form schema names every field the form reads', () => {
    const form = doc.components.schemas['VisitForm']!['properties'] as Record<string, unknown>;
    for (const field of [...FIELDS, 'timeZone', '_csrf']) assert.ok(form[field], `VisitForm lacks ${field}`);
  });
});

describe('security', () => {
  const security = (method: 'get' | 'post' | 'delete', path: string) => doc.paths[path]![method]!.security;

  test('the schemes: bearer API key, the trigger signature headers, Webex’s signature, the staff cookie', () => {
    const s = doc.components.securitySchemes;
    assert.deepEqual(
      { type: s.apiKey.type, scheme: (s.apiKey as { scheme: string }).scheme },
      { type: 'http', scheme: 'bearer' },
    );
    assert.deepEqual(
      [s.hookId, s.hookTimestamp, s.hookSignature, s.sparkSignature].map(
        (x) => x.type === 'apiKey' && `${x.in} ${x.name}`,
      ),
      ['header X-IC-Hook', 'header X-IC-Timestamp', 'header X-IC-Signature', 'header X-Spark-Signature'],
    );
    assert.equal(
      s.staffSession.type === 'apiKey' && `${s.staffSession.in} ${s.staffSession.name}`,
      'cookie ic_session',
    );
    assert.equal(headerName('x-ic-signature'), 'X-IC-Signature');
  });

  test('every operation declares its security; the public ones `security: []`', () => {
    const undeclared = operations().filter(({ op }) => !Array.isArray(op.security));
    assert.deepEqual(
      undeclared.map(({ method, path }) => `${method} ${path}`),
      [],
    );
    const open = operations().filter(({ op }) => op.security.length === 0);
    assert.ok(open.some(({ path }) => path === '/live/join'));
    assert.ok(open.some(({ path }) => path === '/{vertical}/v1/{page}'));
  });

  test('each route names the credentials it checks', () => {
    assert.deepEqual(security('post', '/api/v2/joseencrypt'), [{ apiKey: [] }]);
    assert.deepEqual(security('delete', '/api/visits/{id}'), [{ apiKey: [] }]);
    assert.deepEqual(security('post', '/hooks/visits'), [
      { apiKey: [] },
      { hookId: [], hookTimestamp: [], hookSignature: [] },
    ]);
    assert.deepEqual(security('post', '/hooks/webex'), [{ sparkSignature: [] }]);
    assert.deepEqual(security('get', '/visits'), [{ staffSession: [] }]);
    assert.deepEqual(security('get', '/api/v1/space'), []);
    assert.deepEqual(security('get', '/healthz'), []);
    const idempotency = doc.paths['/hooks/visits']!.post!.parameters!.find(
      (p) => p.name === 'Idempotency-Key',
    );
    assert.equal(idempotency?.in, 'header');
  });
});
