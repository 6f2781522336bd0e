/**
 * `instant-connect export postman` (the built CLI): a Postman v2.1 collection generated from the
 * OpenAPI document, with the lab's variables, and an environment holding them; its joseencrypt
 * requests, with the variables filled in as Postman would, work against the project's broker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AUDIENCE } from '../../src/domain/constants.js';
import { buildOpenApiDocument, HTTP_METHODS } from '../../src/openapi/document.js';
import type { PostmanCollection, PostmanEnvironment, PostmanItem } from '../../src/openapi/postman.js';
import { removeDir, runCli, show, tempDir } from '../cli/run-cli.js';
import { OpenApiChecker } from '../support/openapi.js';
import { startTestServer, type TestServer } from '../support/server.js';

const requests = (c: PostmanCollection): PostmanItem[] => c.item.flatMap((folder) => folder.item);
const doc = buildOpenApiDocument();

async function exportToStdout(args: string[] = []): Promise<PostmanCollection> {
  const result = await runCli(['export', 'postman', ...args]);
  assert.equal(result.code, 0, show(result));
  return JSON.parse(result.stdout) as PostmanCollection;
}

describe('the collection on stdout', () => {
  let collection: PostmanCollection;
  before(async () => {
    collection = await exportToStdout();
  });

  test('is a Postman v2.1 collection whose variables are mtg-broker-url and bot-token', () => {
    assert.equal(
      collection.info.schema,
      'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    );
    assert.match(
      collection.info._postman_id,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.deepEqual(
      collection.variable.map((v) => v.key),
      ['mtg-broker-url', 'bot-token', 'data', 'code', 'ticket', 'visit-id', 'subscription-id'],
    );
    assert.equal(collection.variable[1]!.value, '', 'no token is ever written');
    assert.ok(collection.variable.slice(2).every((v) => v.value === '' && v.description));
  });

  test("has the lab's request: POST {{mtg-broker-url}}/api/v2/joseencrypt with Bearer {{bot-token}} and its minimal body", () => {
    const lab = requests(collection).filter(
      (i) => i.request.method === 'POST' && i.request.url.raw === '{{mtg-broker-url}}/api/v2/joseencrypt',
    );
    assert.equal(lab.length, 2, 'the minimal body and the one with short links');
    for (const item of lab) {
      assert.deepEqual(item.request.auth, {
        type: 'bearer',
        bearer: [{ key: 'token', value: '{{bot-token}}', type: 'string' }],
      });
      assert.deepEqual(item.request.url.host, ['{{mtg-broker-url}}']);
      assert.deepEqual(item.request.url.path, ['api', 'v2', 'joseencrypt']);
      assert.ok(item.request.header.some((h) => h.key === 'Content-Type' && h.value === 'application/json'));
    }
    const bodies = lab.map((i) => JSON.parse(i.request.body!.raw) as Record<string, unknown>);
    // A new subject per send: the same subject is the same meeting space.
    assert.deepEqual(bodies[0], { jwt: { sub: 'lab-visit-0001-{{$guid}}' }, aud: AUDIENCE });
    assert.equal(bodies[1]!['provideShortUrls'], true);
  });

  test('holds every documented operation but the staff pages, the event stream, the Webex and Twilio webhooks and the replay of a delivery, each once per example body', () => {
    const fromCollection = new Set(
      requests(collection).map((i) => {
        const path = `/${i.request.url.path.map((s) => s.replace(/^:(\w+)$/, '{$1}')).join('/')}`;
        return `${i.request.method} ${path}`;
      }),
    );
    const expected = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of HTTP_METHODS) {
        const op = item[method];
        const left = [
          '/live/events',
          '/hooks/webex',
          '/hooks/webex/meetings',
          '/hooks/sms/twilio/status',
          '/hooks/sms/twilio/inbound',
          '/api/events/deliveries/{id}/replay',
        ];
        if (op && !op.tags.includes('Staff pages') && !left.includes(path))
          expected.add(`${method.toUpperCase()} ${path}`);
      }
    }
    assert.deepEqual([...fromCollection].sort(), [...expected].sort());
    for (const item of requests(collection)) {
      assert.ok(item.request.url.raw.startsWith('{{mtg-broker-url}}/'), item.request.url.raw);
      if (item.request.body) JSON.parse(item.request.body.raw);
    }
  });

  test('every request has a test script: the status, then pm.test checks of its answer', () => {
    for (const item of requests(collection)) {
      const script = item.event.find((e) => e.listen === 'test')?.script.exec.join('\n') ?? '';
      assert.match(script, /pm\.test\(/, item.name);
      assert.match(script, /pm\.response\.to\.have\.status\(\d{3}\)|pm\.response\.code/, item.name);
      assert.ok(script.split('pm.test(').length > 2 || /oneOf\(\[201, 400\]\)/.test(script), item.name);
    }
  });

  test('each variable a request uses is set by an earlier request, or by the environment', () => {
    const known = new Set(['mtg-broker-url', 'bot-token', '$guid']);
    for (const item of requests(collection)) {
      const used = JSON.stringify(item.request).match(/\{\{[^}]+\}\}/g) ?? [];
      for (const name of used.map((u) => u.slice(2, -2)))
        assert.ok(known.has(name), `${item.name} uses {{${name}}}`);
      const script = item.event.map((e) => e.script.exec.join('\n')).join('\n');
      for (const [, name] of script.matchAll(/collectionVariables\.set\('([\w-]+)'/g)) known.add(name!);
    }
  });

  test('the Visits folder runs last and its cancellation is the last request; the host joins before it ends', () => {
    const names = requests(collection).map((i) => i.name);
    assert.equal(collection.item.at(-1)!.name, 'Visits');
    assert.equal(names.at(-1), 'Cancel a visit');
    assert.ok(names.indexOf('Make a visit') < names.indexOf('Read a visit'));
    const live = collection.item
      .find((f) => f.name === 'Live visits')!
      .item.map((i) => i.request.url.path.at(-1));
    assert.deepEqual(live, ['join', 'status', 'leave', 'end']);
    const short = requests(collection).find((i) => i.name === 'Follow a short link')!;
    assert.deepEqual(short.protocolProfileBehavior, { followRedirects: false });
  });

  test('the same document always gives the same collection', async () => {
    assert.deepEqual(await exportToStdout(), collection);
  });
});

describe('--out writes the collection and, next to it, the environment', () => {
  let dir: string;
  before(() => {
    dir = tempDir('ic-postman-');
  });
  after(() => removeDir(dir));

  test('FILE and FILE.environment.json (in place of .json); nothing on stdout', async () => {
    const out = join(dir, 'ic.postman.json');
    const result = await runCli(['export', 'postman', '--out', out]);
    assert.equal(result.code, 0, show(result));
    assert.equal(result.stdout, '');
    const collection = JSON.parse(readFileSync(out, 'utf8')) as PostmanCollection;
    assert.ok(requests(collection).length > 20);
    const environment = JSON.parse(
      readFileSync(join(dir, 'ic.postman.environment.json'), 'utf8'),
    ) as PostmanEnvironment;
    assert.equal(environment._postman_variable_scope, 'environment');
    assert.equal(environment.name, 'instant-connect: local (http://127.0.0.1:8080)');
    assert.deepEqual(environment.values, [
      { key: 'mtg-broker-url', value: 'http://127.0.0.1:8080', type: 'default', enabled: true },
      { key: 'bot-token', value: '', type: 'secret', enabled: true },
    ]);
    assert.match(result.stderr, /set bot-token/);
  });

  test("--broker commercial or usgov sets Cisco's broker; --environment-out chooses the file", async () => {
    for (const [broker, url] of [
      ['commercial', 'https://mtg-broker-a.wbx2.com'],
      ['usgov', 'https://mtg-broker.gov.ciscospark.com'],
      ['https://visits.example.org/', 'https://visits.example.org'],
    ] as const) {
      const env = join(dir, `${broker.replace(/\W/g, '')}-env.json`);
      const result = await runCli(['export', 'postman', '--broker', broker, '--environment-out', env]);
      assert.equal(result.code, 0, show(result));
      const collection = JSON.parse(result.stdout) as PostmanCollection;
      assert.equal(collection.variable[0]!.value, url);
      const environment = JSON.parse(readFileSync(env, 'utf8')) as PostmanEnvironment;
      assert.equal(environment.values.find((v) => v.key === 'mtg-broker-url')?.value, url);
    }
  });

  test('--out DIR (or a new DIR/) writes instant-connect.postman.json and its environment in DIR', async () => {
    const out = tempDir('ic-postman-dir-');
    try {
      const result = await runCli(['export', 'postman', '--out', out]);
      assert.equal(result.code, 0, show(result));
      assert.deepEqual(
        JSON.parse(readFileSync(join(out, 'instant-connect.postman.json'), 'utf8')),
        await exportToStdout(),
      );
      const environment = JSON.parse(
        readFileSync(join(out, 'instant-connect.postman.environment.json'), 'utf8'),
      ) as PostmanEnvironment;
      assert.equal(environment.values[0]!.value, 'http://127.0.0.1:8080');
      const made = join(out, 'new', 'postman/');
      const again = await runCli(['export', 'postman', '--out', made]);
      assert.equal(again.code, 0, show(again));
      assert.ok(readFileSync(join(made, 'instant-connect.postman.environment.json'), 'utf8'));
    } finally {
      removeDir(out);
    }
  });

  test('the local and the commercial environments have distinct ids and names', async () => {
    const environments: PostmanEnvironment[] = [];
    for (const broker of ['local', 'commercial']) {
      const env = join(dir, `${broker}-named.json`);
      const result = await runCli(['export', 'postman', '--broker', broker, '--environment-out', env]);
      assert.equal(result.code, 0, show(result));
      environments.push(JSON.parse(readFileSync(env, 'utf8')) as PostmanEnvironment);
    }
    const [local, commercial] = environments as [PostmanEnvironment, PostmanEnvironment];
    assert.notEqual(local.id, commercial.id);
    assert.notEqual(local.name, commercial.name);
    assert.equal(commercial.name, 'instant-connect: commercial (https://mtg-broker-a.wbx2.com)');
  });

  test('PUBLIC_URL is the local default; a broker that is not a URL exits 2', async () => {
    const result = await runCli(['export', 'postman'], { env: { PUBLIC_URL: 'https://clinic.example.org' } });
    assert.equal(result.code, 0, show(result));
    assert.equal(
      (JSON.parse(result.stdout) as PostmanCollection).variable[0]!.value,
      'https://clinic.example.org',
    );
    const bad = await runCli(['export', 'postman', '--broker', 'ftp://x']);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /--broker/);
  });
});

describe("the lab's Postman steps against the project's broker", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('each joseencrypt request, its variables filled in from the environment, answers 200 as documented', async () => {
    const collection = await exportToStdout(['--broker', server.url]);
    const variables: Record<string, string> = {
      ...Object.fromEntries(collection.variable.map((v) => [v.key, v.value])),
      'bot-token': server.key, // what a person pastes into the environment
    };
    const fill = (text: string) =>
      text.replace(/\{\{(\$?[\w-]+)\}\}/g, (_, name: string) =>
        name === '$guid' ? randomUUID() : (variables[name] ?? ''),
      );
    const checker = new OpenApiChecker(doc);
    const lab = requests(collection).filter((i) => i.request.url.raw.endsWith('/joseencrypt'));
    assert.equal(lab.length, 3, 'v2 twice, v1 once');
    for (const { request } of lab) {
      const headers: Record<string, string> = Object.fromEntries(
        request.header.map((h) => [h.key, fill(h.value)]),
      );
      if (request.auth?.type === 'bearer')
        headers['Authorization'] = `Bearer ${fill(request.auth.bearer[0]!.value)}`;
      const response = await fetch(fill(request.url.raw), {
        method: request.method,
        headers,
        body: fill(request.body!.raw),
      });
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      const path = new URL(fill(request.url.raw)).pathname;
      checker.check(request.method, path, { status: response.status, headers: response.headers, body });
    }
  });
});

test('export openapi prints the document GET /openapi.json serves (less its servers)', async () => {
  const result = await runCli(['export', 'openapi']);
  assert.equal(result.code, 0, show(result));
  assert.deepEqual(JSON.parse(result.stdout), JSON.parse(JSON.stringify(doc)));
});
