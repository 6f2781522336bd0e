/**
 * Real answers match the document: a server with the bot (against the Webex emulator), real
 * requests to every documented operation, including each documented example body, and each
 * answer checked against the response the document gives for its route and status (media type,
 * required headers, and the JSON body against its schema with ajv). The last test fails if any
 * operation went unchecked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { triggerSignature } from '../../src/hooks/signatures.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../../src/openapi/document.js';
import { call, HTML, type HttpAnswer, nowSeconds } from '../broker/helpers.js';
import { type Receiver, startReceiver } from '../events/receiver.js';
import { StaffClient, visitForm } from '../staff/helpers.js';
import { eventually } from '../support/eventually.js';
import { OpenApiChecker } from '../support/openapi.js';
import { ROOMY_LIMITS, startTestServer, type TestServer } from '../support/server.js';
import { type SmtpTestServer, startSmtpServer } from '../support/smtp.js';
import {
  messageDelivery,
  sparkSignatureOf,
  startWebexEmulator,
  type WebexEmulator,
} from '../support/webex-emulator.js';
import { FAST, SseReader, ticketOf } from '../visits/helpers.js';

let emulator: WebexEmulator;
let server: TestServer;
let checker: OpenApiChecker;
let doc: OpenApiDocument;
let receiver: Receiver;
let smtp: SmtpTestServer;

before(async () => {
  emulator = await startWebexEmulator();
  // Email on (a real SMTP server on 127.0.0.1), so a resend can be queued.
  smtp = await startSmtpServer();
  server = await startTestServer({
    email: { url: smtp.url, from: { name: 'Clinic', address: 'visits@clinic.example' } },
    webex: { token: emulator.token, apiUrl: emulator.apiUrl, webhookSecret: 'openapi-test-webhook-secret' },
    jobs: { pollMs: 50, leaseSeconds: 2 },
    events: { allowPrivate: ['127.0.0.1/32'], timing: { pollMs: 50 } },
  });
  receiver = await startReceiver();
  doc = buildOpenApiDocument({ serverUrl: server.server.publicUrl });
  checker = new OpenApiChecker(doc);
});
after(async () => {
  await server.close();
  await emulator.close();
  await receiver.stop();
  await smtp.stop();
});

type Init = {
  key?: string | null;
  json?: unknown;
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
};

/** A request to the server (the test key unless `key` says otherwise), answer read in full. */
function send(method: string, path: string, init: Init = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...init.headers };
  const key = init.key === undefined ? server.key : init.key;
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  let body: string | undefined;
  if (init.json !== undefined) body = JSON.stringify(init.json);
  if (init.raw !== undefined) body = init.raw;
  if (body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  const url = path.startsWith('http') ? path : `${server.url}${path}`;
  return call(url, { method, headers, ...(body !== undefined ? { body } : {}) });
}

/** Asserts the status, then that the answer is the one documented for `method template`. */
function expect(answer: HttpAnswer, status: number, method: string, template: string): HttpAnswer {
  assert.equal(answer.status, status, `${method} ${template}: ${answer.text.slice(0, 400)}`);
  checker.check(method, template, answer);
  return answer;
}

const examplesOf = (path: string) =>
  Object.values(doc.paths[path]!.post!.requestBody!.content['application/json']!.examples ?? {}).map(
    (e) => e.value as Record<string, unknown>,
  );

describe('joseencrypt, v2 and v1', () => {
  test('every documented example: 200 with the v2 answer; short links with provideShortUrls', async () => {
    const examples = examplesOf('/api/v2/joseencrypt');
    assert.ok(examples.length >= 2);
    for (const example of examples) {
      const answer = expect(
        await send('POST', '/api/v2/joseencrypt', { json: example }),
        200,
        'POST',
        '/api/v2/joseencrypt',
      );
      assert.equal(answer.body.host.length, 1);
      assert.equal(answer.body.guest.length, 1);
      if (example['provideShortUrls']) {
        assert.match(answer.body.baseUrl, /\/visit\/$/);
        assert.ok(answer.body.guest[0].short);
      } else assert.equal(answer.body.baseUrl, undefined);
    }
  });

  test('v1: ciphers as strings, with and without provideShortUrls', async () => {
    for (const example of examplesOf('/api/v2/joseencrypt')) {
      const answer = expect(
        await send('POST', '/api/v1/joseencrypt', { json: example }),
        200,
        'POST',
        '/api/v1/joseencrypt',
      );
      assert.equal(typeof answer.body.guest[0], 'string');
    }
  });

  test('errors in the envelope: 400, 401, 413, 415, and 405 for another method', async () => {
    const path = '/api/v2/joseencrypt';
    expect(
      await send('POST', path, { json: { jwt: { sub: '' }, aud: 'x', numHost: 99 } }),
      400,
      'POST',
      path,
    );
    expect(await send('POST', path, { raw: '{"jwt":' }), 400, 'POST', path);
    const unauthorized = expect(await send('POST', path, { key: null, json: {} }), 401, 'POST', path);
    assert.match(unauthorized.headers.get('www-authenticate') ?? '', /^Bearer/);
    expect(
      await send('POST', path, { key: 'ick_notarealkeynotarealkeynotareal', json: {} }),
      401,
      'POST',
      path,
    );
    expect(await send('POST', path, { raw: 'hello', contentType: 'text/plain' }), 415, 'POST', path);
    const big = JSON.stringify({ jwt: { sub: 'x'.repeat(70 * 1024) }, aud: 'x' });
    expect(await send('POST', path, { raw: big }), 413, 'POST', path);
    const other = await send('GET', path);
    assert.equal(other.status, 405);
    checker.assertMatches(doc.components.responses['MethodNotAllowed']!, other, 'GET /api/v2/joseencrypt');
    assert.equal(other.headers.get('allow'), 'POST');
    const nowhere = await send('GET', '/api/v3/nothing');
    assert.equal(nowhere.status, 404);
    checker.assertMatches(doc.components.responses['NotFound']!, nowhere, 'GET an unknown route');
  });
});

describe('link pages and the space API', () => {
  let short: { baseUrl: string; guest: { cipher: string; short: string }[]; host: { cipher: string }[] };
  before(async () => {
    const answer = await send('POST', '/api/v2/joseencrypt', {
      json: { ...examplesOf('/api/v2/joseencrypt')[1], iterations: 1000 },
    });
    short = answer.body;
  });

  test('a short link: 302 to the long link, whose page is 200 HTML; unknown codes 404', async () => {
    const redirect = expect(
      await send('GET', `/visit/${short.guest[0]!.short}`, { key: null }),
      302,
      'GET',
      '/visit/{code}',
    );
    const location = redirect.headers.get('location')!;
    expect(await send('GET', location, { key: null, headers: HTML }), 200, 'GET', '/{vertical}/v1/{page}');
    expect(await send('GET', '/visit/nope', { key: null }), 404, 'GET', '/visit/{code}');
    expect(await send('GET', '/visit/nope', { key: null, headers: HTML }), 404, 'GET', '/visit/{code}');
  });

  test('long-link pages: 400 without a cipher (page or envelope), 404 for an unknown kind, 403 before nbf', async () => {
    const page = '/{vertical}/v1/{page}';
    expect(await send('GET', '/hc/v1/talk', { key: null, headers: HTML }), 400, 'GET', page);
    expect(await send('GET', '/hc/v1/talk', { key: null }), 400, 'GET', page);
    expect(await send('GET', '/hc/v1/talk?data=not-a-token', { key: null, headers: HTML }), 400, 'GET', page);
    expect(await send('GET', '/cc/v1/talk?data=x', { key: null }), 404, 'GET', page);
    const later = await send('POST', '/api/v2/joseencrypt', {
      json: {
        jwt: { sub: 'openapi-later', nbf: nowSeconds() + 3600, exp: nowSeconds() + 7200 },
        aud: examplesOf('/api/v2/joseencrypt')[0]!['aud'],
        iterations: 1000,
      },
    });
    const cipher = later.body.guest[0].cipher as string;
    expect(
      await send('GET', `/hc/v1/talk?int=jose&v=1&data=${cipher}`, { key: null, headers: HTML }),
      403,
      'GET',
      page,
    );
  });

  test('the space API, GET and POST, with and without the trailing slash; 400 without or with a bad cipher', async () => {
    const cipher = encodeURIComponent(short.host[0]!.cipher);
    for (const path of ['/api/v1/space', '/api/v1/space/']) {
      for (const method of ['GET', 'POST']) {
        const answer = expect(
          await send(method, `${path}?int=jose&data=${cipher}`, { key: null }),
          200,
          method,
          path,
        );
        assert.equal(answer.body.isHost, true);
      }
      expect(await send('GET', path, { key: null }), 400, 'GET', path);
      expect(await send('POST', `${path}?data=forged`, { key: null }), 400, 'POST', path);
    }
  });
});

describe('visits', () => {
  let id: string;

  test('create: every documented example, and no body at all: 201 with Location', async () => {
    for (const example of examplesOf('/api/visits')) {
      const answer = expect(await send('POST', '/api/visits', { json: example }), 201, 'POST', '/api/visits');
      assert.equal(answer.headers.get('location'), `/api/visits/${answer.body.id}`);
      id = answer.body.id;
    }
    expect(await send('POST', '/api/visits'), 201, 'POST', '/api/visits');
    expect(
      await send('POST', '/api/visits', { json: { hosts: -1, colour: 'red' } }),
      400,
      'POST',
      '/api/visits',
    );
    expect(await send('POST', '/api/visits', { key: null, json: {} }), 401, 'POST', '/api/visits');
  });

  test('list, read, events, add links', async () => {
    const list = expect(await send('GET', '/api/visits?limit=2'), 200, 'GET', '/api/visits');
    assert.equal(list.body.items.length, 2);
    expect(await send('GET', '/api/visits?limit=0&colour=red'), 400, 'GET', '/api/visits');
    expect(await send('GET', `/api/visits/${id}`), 200, 'GET', '/api/visits/{id}');
    expect(await send('GET', '/api/visits/vis_nothing'), 404, 'GET', '/api/visits/{id}');
    expect(await send('GET', `/api/visits/${id}`, { key: null }), 401, 'GET', '/api/visits/{id}');
    expect(await send('GET', `/api/visits/${id}/events`), 200, 'GET', '/api/visits/{id}/events');
    expect(await send('GET', `/api/visits/${id}/deliveries`), 200, 'GET', '/api/visits/{id}/deliveries');
    expect(
      await send('GET', '/api/visits/vis_nothing/deliveries'),
      404,
      'GET',
      '/api/visits/{id}/deliveries',
    );
    expect(
      await send('GET', `/api/visits/${id}/deliveries`, { key: null }),
      401,
      'GET',
      '/api/visits/{id}/deliveries',
    );
    for (const example of examplesOf('/api/visits/{id}/links')) {
      const more = expect(
        await send('POST', `/api/visits/${id}/links`, { json: example }),
        201,
        'POST',
        '/api/visits/{id}/links',
      );
      assert.equal(more.body.guests.length, 2);
    }
    expect(
      await send('POST', `/api/visits/${id}/links`, { json: { guests: 0 } }),
      400,
      'POST',
      '/api/visits/{id}/links',
    );
  });

  test('withdraw one link: 200 with what it did, then 409; 400, 401, 404', async () => {
    const T = '/api/visits/{id}/links/{role}/{index}';
    const made = expect(
      await send('POST', '/api/visits', { json: { guests: 2 } }),
      201,
      'POST',
      '/api/visits',
    );
    const path = `/api/visits/${made.body.id}/links`;
    const revoked = expect(await send('DELETE', `${path}/guest/1`), 200, 'DELETE', T);
    assert.equal(revoked.body.revocation.linkStopped, true);
    expect(await send('DELETE', `${path}/guest/1`), 409, 'DELETE', T);
    expect(await send('DELETE', `${path}/patient/1`), 400, 'DELETE', T);
    expect(await send('DELETE', `${path}/guest/9`), 404, 'DELETE', T);
    expect(await send('DELETE', `${path}/guest/0`, { key: null }), 401, 'DELETE', T);
  });

  test('resend a link: 202 with the queued delivery; 400 naming the field, 401, 404, then 409 once cancelled', async () => {
    const T = '/api/visits/{id}/links/{role}/{index}/resend';
    const made = expect(
      await send('POST', '/api/visits', {
        json: { guests: 2, recipients: [{ role: 'guest', email: 'resend@patients.example' }] },
      }),
      201,
      'POST',
      '/api/visits',
    );
    const path = `/api/visits/${made.body.id}/links`;
    const queued = expect(await send('POST', `${path}/guest/0/resend`), 202, 'POST', T);
    assert.equal(queued.body.trigger, 'resend');
    expect(await send('POST', `${path}/guest/0/resend`, { json: { channel: 'email' } }), 202, 'POST', T);
    const noPhone = expect(
      await send('POST', `${path}/guest/0/resend`, { json: { channel: 'sms' } }),
      400,
      'POST',
      T,
    );
    assert.deepEqual(
      noPhone.body.errors.map((e: { path: string }) => e.path),
      ['channel'],
    );
    expect(await send('POST', `${path}/guest/1/resend`), 400, 'POST', T);
    expect(await send('POST', `${path}/guest/9/resend`), 404, 'POST', T);
    expect(await send('POST', `${path}/guest/0/resend`, { key: null }), 401, 'POST', T);
    expect(await send('DELETE', `/api/visits/${made.body.id}`), 200, 'DELETE', '/api/visits/{id}');
    expect(await send('POST', `${path}/guest/0/resend`), 409, 'POST', T);
  });

  test('cancel: 200 with what it guarantees, then 409; the cancelled links answer 410', async () => {
    const cancelled = expect(await send('DELETE', `/api/visits/${id}`), 200, 'DELETE', '/api/visits/{id}');
    assert.equal(cancelled.body.cancellation.linksStopped, true);
    expect(await send('DELETE', `/api/visits/${id}`), 409, 'DELETE', '/api/visits/{id}');
    expect(
      await send('POST', `/api/visits/${id}/links`, { json: { guests: 1 } }),
      409,
      'POST',
      '/api/visits/{id}/links',
    );
    const link = cancelled.body.guests[0];
    expect(
      await send('GET', link.longUrl, { key: null, headers: HTML }),
      410,
      'GET',
      '/{vertical}/v1/{page}',
    );
    expect(
      await send('GET', `/api/v1/space?data=${encodeURIComponent(link.cipher)}`, { key: null }),
      410,
      'GET',
      '/api/v1/space',
    );
  });
});

describe('outbound events', () => {
  test('subscriptions: create (every example), list, read, rotate, delete; deliveries and a replay', async () => {
    const subs = '/api/events/subscriptions';
    for (const example of examplesOf(subs)) {
      const made = expect(await send('POST', subs, { json: example }), 201, 'POST', subs);
      assert.equal(made.headers.get('location'), `${subs}/${made.body.id}`);
      expect(await send('DELETE', `${subs}/${made.body.id}`), 200, 'DELETE', `${subs}/{id}`);
    }
    expect(
      await send('POST', subs, { json: { url: 'http://10.1.2.3/', types: ['nope'] } }),
      400,
      'POST',
      subs,
    );
    expect(await send('POST', subs, { key: null, json: {} }), 401, 'POST', subs);
    expect(await send('POST', subs, { raw: 'hello', contentType: 'text/plain' }), 415, 'POST', subs);
    expect(
      await send('POST', subs, { raw: JSON.stringify({ url: 'x'.repeat(70 * 1024) }) }),
      413,
      'POST',
      subs,
    );
    const sub = expect(
      await send('POST', subs, { json: { url: receiver.url, types: ['visit.created'] } }),
      201,
      'POST',
      subs,
    ).body;
    expect(await send('GET', subs), 200, 'GET', subs);
    expect(await send('GET', subs, { key: null }), 401, 'GET', subs);
    expect(await send('GET', `${subs}/${sub.id}`), 200, 'GET', `${subs}/{id}`);
    expect(await send('GET', `${subs}/sub_nothing`), 404, 'GET', `${subs}/{id}`);
    for (const example of examplesOf(`${subs}/{id}/rotate`))
      expect(
        await send('POST', `${subs}/${sub.id}/rotate`, { json: example }),
        200,
        'POST',
        `${subs}/{id}/rotate`,
      );
    expect(await send('POST', `${subs}/${sub.id}/rotate`), 200, 'POST', `${subs}/{id}/rotate`);
    expect(
      await send('POST', `${subs}/${sub.id}/rotate`, { json: { grace: 'later' } }),
      400,
      'POST',
      `${subs}/{id}/rotate`,
    );
    expect(await send('POST', `${subs}/sub_nothing/rotate`), 404, 'POST', `${subs}/{id}/rotate`);

    expect(await send('POST', '/api/visits', { json: FAST }), 201, 'POST', '/api/visits');
    const list = '/api/events/deliveries';
    const [delivered] = await eventually(
      async () =>
        expect(await send('GET', `${list}?subscription=${sub.id}&status=delivered`), 200, 'GET', list).body
          .items,
      (items: { id: number }[]) => items.length > 0,
      'the delivery',
      20_000,
    );
    assert.ok(delivered);
    expect(await send('GET', `${list}?status=lost`), 400, 'GET', list);
    const replay = `${list}/{id}/replay`;
    expect(await send('POST', `${list}/${delivered.id}/replay`), 202, 'POST', replay);
    expect(await send('POST', `${list}/999999999/replay`), 404, 'POST', replay);
    expect(await send('DELETE', `${subs}/${sub.id}`), 200, 'DELETE', `${subs}/{id}`);
    expect(await send('DELETE', `${subs}/${sub.id}`), 404, 'DELETE', `${subs}/{id}`);
    // Its subscription stopped: nothing to replay it to.
    expect(await send('POST', `${list}/${delivered.id}/replay`), 409, 'POST', replay);
  });
});

describe('the live API of the visit pages', () => {
  test('status, events, join, leave, end; refused tickets 403', async () => {
    const made = await send('POST', '/api/visits', {
      json: { ...FAST, devices: ['room@example.room.wbx2.com'] },
    });
    assert.equal(made.status, 201, made.text);
    const ticketOfLink = async (url: string) =>
      ticketOf((await send('GET', url, { key: null, headers: HTML })).text);
    const guest = await ticketOfLink(made.body.guests[0].longUrl);
    const host = await ticketOfLink(made.body.hosts[0].longUrl);
    const q = (t: string) => `?ticket=${encodeURIComponent(t)}`;

    expect(await send('GET', `/live/status${q(guest)}`, { key: null }), 200, 'GET', '/live/status');
    const stream = await SseReader.open(`${server.url}/live/events${q(guest)}`);
    try {
      checker.check('GET', '/live/events', { status: 200, headers: stream.response.headers, body: '' });
      const frame = await stream.next((f) => f.event === 'status', 'the first status');
      const media = checker.documented('GET', '/live/events', 200).content!['text/event-stream']!;
      checker.assertValid(media['x-event-data'], frame.json, 'an event of /live/events');
    } finally {
      await stream.close();
    }
    expect(
      await send('POST', '/live/join', { key: null, json: { ticket: guest } }),
      200,
      'POST',
      '/live/join',
    );
    expect(await send('POST', `/live/join${q(host)}`, { key: null }), 200, 'POST', '/live/join');
    expect(
      await send('POST', '/live/leave', { key: null, json: { ticket: guest } }),
      200,
      'POST',
      '/live/leave',
    );
    expect(await send('POST', '/live/end', { key: null, json: { ticket: guest } }), 403, 'POST', '/live/end');
    const ended = expect(
      await send('POST', '/live/end', { key: null, json: { ticket: host } }),
      200,
      'POST',
      '/live/end',
    );
    assert.equal(ended.body.state, 'ended');
    expect(await send('GET', '/live/status?ticket=forged.ticket', { key: null }), 403, 'GET', '/live/status');
    expect(await send('GET', '/live/events', { key: null }), 403, 'GET', '/live/events');
    expect(
      await send('POST', '/live/join', { key: null, raw: 'x', contentType: 'text/plain' }),
      415,
      'POST',
      '/live/join',
    );
  });
});

describe('webhooks', () => {
  test('POST /hooks/visits with an API key: every documented example, 201 with flat links', async () => {
    emulator.addPerson({ email: 'doctor@example.org' });
    emulator.addPerson({ email: 'patient@example.com' });
    for (const example of examplesOf('/hooks/visits')) {
      const answer = expect(
        await send('POST', '/hooks/visits', { json: example }),
        201,
        'POST',
        '/hooks/visits',
      );
      assert.ok(answer.body.guestUrl);
      if (example['notify'])
        assert.deepEqual(
          answer.body.delivery.map((d: { status: string }) => d.status),
          ['sent', 'sent'],
        );
    }
    expect(
      await send('POST', '/hooks/visits', { json: { notify: { host: 'nobody' } } }),
      400,
      'POST',
      '/hooks/visits',
    );
  });

  test('Idempotency-Key: a retry replays (201, Idempotent-Replayed), another body is 409', async () => {
    const headers = { 'idempotency-key': `openapi-${Date.now()}` };
    const first = expect(
      await send('POST', '/hooks/visits', { json: FAST, headers }),
      201,
      'POST',
      '/hooks/visits',
    );
    const again = expect(
      await send('POST', '/hooks/visits', { json: FAST, headers }),
      201,
      'POST',
      '/hooks/visits',
    );
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    expect(
      await send('POST', '/hooks/visits', { json: { ...FAST, guests: 2 }, headers }),
      409,
      'POST',
      '/hooks/visits',
    );
  });

  test('signed with a hook secret: 201; a wrong signature 401', async () => {
    const { context } = server.server;
    const { hook, secret } = await context.trigger.createHook(context.org, 'openapi');
    const raw = JSON.stringify(FAST);
    const timestamp = nowSeconds();
    const headers = (signature: string) => ({
      'x-ic-hook': hook.id,
      'x-ic-timestamp': String(timestamp),
      'x-ic-signature': signature,
    });
    expect(
      await send('POST', '/hooks/visits', {
        key: null,
        raw,
        headers: headers(triggerSignature(secret, timestamp, raw)),
      }),
      201,
      'POST',
      '/hooks/visits',
    );
    expect(
      await send('POST', '/hooks/visits', { key: null, raw, headers: headers(`v1=${'0'.repeat(64)}`) }),
      401,
      'POST',
      '/hooks/visits',
    );
  });

  test("POST /hooks/webex: Webex's signed delivery is received; an unsigned one 401", async () => {
    const person = emulator.addPerson();
    const message = emulator.seedMessage({ from: person, text: 'help' });
    const raw = JSON.stringify(messageDelivery(message));
    const signature = sparkSignatureOf('openapi-test-webhook-secret', raw);
    const answer = expect(
      await send('POST', '/hooks/webex', { key: null, raw, headers: { 'x-spark-signature': signature } }),
      200,
      'POST',
      '/hooks/webex',
    );
    assert.equal(answer.body.accepted, true);
    expect(await send('POST', '/hooks/webex', { key: null, raw }), 401, 'POST', '/hooks/webex');
  });
});

describe('a server without the bot, with a limit of one issuing request a minute', () => {
  let plain: TestServer;
  before(async () => {
    plain = await startTestServer({ rateLimits: { ...ROOMY_LIMITS, issuePerKey: 1 } });
  });
  after(async () => {
    await plain.close();
  });

  test('/hooks/webex and /hooks/webex/meetings are 404 without the bot; the second joseencrypt call is 429 with Retry-After', async () => {
    const at = (path: string, init: RequestInit) => call(`${plain.url}${path}`, init);
    for (const path of ['/hooks/webex', '/hooks/webex/meetings'])
      expect(
        await at(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        }),
        404,
        'POST',
        path,
      );
    const init = {
      method: 'POST',
      headers: { authorization: `Bearer ${plain.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...examplesOf('/api/v2/joseencrypt')[0], iterations: 1000 }),
    };
    expect(await at('/api/v2/joseencrypt', init), 200, 'POST', '/api/v2/joseencrypt');
    const refused = expect(await at('/api/v2/joseencrypt', init), 429, 'POST', '/api/v2/joseencrypt');
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
  });

  test("Twilio's SMS webhooks are 404 without SMS, and 415 for anything but a form", async () => {
    const at = (path: string, init: RequestInit) => call(`${plain.url}${path}`, init);
    for (const path of ['/hooks/sms/twilio/status', '/hooks/sms/twilio/inbound']) {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      expect(await at(path, { method: 'POST', headers: form, body: 'MessageSid=SM1' }), 404, 'POST', path);
      const json = { 'content-type': 'application/json' };
      expect(await at(path, { method: 'POST', headers: json, body: '{}' }), 415, 'POST', path);
    }
  });
});

describe('operations and documentation', () => {
  test('health, readiness, metrics', async () => {
    expect(await send('GET', '/healthz', { key: null }), 200, 'GET', '/healthz');
    expect(await send('GET', '/readyz', { key: null }), 200, 'GET', '/readyz');
    const metrics = expect(await send('GET', '/metrics', { key: null }), 200, 'GET', '/metrics');
    assert.match(metrics.text, /ic_http_requests_total/);
  });

  test('/openapi.json is this document, with this server in `servers`', async () => {
    const answer = expect(await send('GET', '/openapi.json', { key: null }), 200, 'GET', '/openapi.json');
    assert.deepEqual(answer.body, doc);
    assert.deepEqual(answer.body.servers, [{ url: server.server.publicUrl, description: 'This server' }]);
  });

  test('/docs is a page under the CSP, and the assets it uses are served', async () => {
    const page = expect(await send('GET', '/docs', { key: null }), 200, 'GET', '/docs');
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'; style-src 'self'/);
    for (const asset of ['/assets/app.css', '/assets/docs.css', '/assets/visit.js']) {
      expect(await send('GET', asset, { key: null }), 200, 'GET', '/assets/{file}');
    }
    expect(await send('GET', '/assets/nothing.css', { key: null }), 404, 'GET', '/assets/{file}');
  });
});

describe('the staff pages', () => {
  test('sign in, the dashboard, make, list, read and cancel a visit, sign out', async () => {
    const client = new StaffClient(server.url);
    const form = (path: string, method: 'post', type = 'application/x-www-form-urlencoded') =>
      doc.paths[path]![method]!.requestBody!.content[type]!.schema;
    const page = (
      answer: { status: number; headers: Headers; text: string },
      status: number,
      method: string,
      path: string,
    ) => {
      assert.equal(answer.status, status, `${method} ${path}: ${answer.text.slice(0, 300)}`);
      checker.check(method, path, {
        status: answer.status,
        headers: answer.headers,
        body: answer.status === 303 ? '' : answer.text,
      });
    };
    page(await client.get('/'), 200, 'GET', '/');
    page(await client.get('/visits'), 303, 'GET', '/visits');
    page(await client.get('/staff/events'), 303, 'GET', '/staff/events');
    page(await client.post('/session', { key: 'ick_wrong' }), 401, 'POST', '/session');
    checker.assertValid(form('/session', 'post'), { key: server.key }, 'the sign-in form');
    page(await client.signIn(server.key), 303, 'POST', '/session');
    page(await client.get('/'), 200, 'GET', '/');
    const csrf = await client.csrf();
    const fields = visitForm(csrf, { subject: 'openapi staff visit' });
    checker.assertValid(form('/visits', 'post'), fields, 'the new-visit form');
    page(await client.post('/visits', { ...fields, _csrf: 'stale' }), 403, 'POST', '/visits');
    page(await client.post('/visits', { ...fields, hosts: 'many' }), 400, 'POST', '/visits');
    const made = await client.post('/visits', fields);
    page(made, 303, 'POST', '/visits');
    const visitPath = made.location!;
    page(await client.get('/visits?tab=upcoming&page=1'), 200, 'GET', '/visits');
    page(await client.get(visitPath), 200, 'GET', '/visits/{id}');
    page(await client.get('/visits/vis_nothing'), 404, 'GET', '/visits/{id}');
    page(await client.get(`${visitPath}/cancel`), 200, 'GET', '/visits/{id}/cancel');
    // Resend: a visit with a recipient (email is on), and the staff visit without one.
    const R = '/visits/{id}/links/{role}/{index}/resend';
    const withRecipient = expect(
      await send('POST', '/api/visits', {
        json: { guests: 1, recipients: [{ role: 'guest', email: 'staff.resend@patients.example' }] },
      }),
      201,
      'POST',
      '/api/visits',
    );
    const resendPath = `/visits/${withRecipient.body.id}/links/guest/0/resend`;
    checker.assertValid(form(R, 'post'), { _csrf: csrf }, 'the resend form');
    page(await client.post(resendPath, { _csrf: 'stale' }), 403, 'POST', R);
    page(await client.post(resendPath, { _csrf: csrf }), 303, 'POST', R);
    page(await client.post(`${visitPath}/links/guest/0/resend`, { _csrf: csrf }), 400, 'POST', R);
    page(
      await client.post(`/visits/${withRecipient.body.id}/links/guest/5/resend`, { _csrf: csrf }),
      404,
      'POST',
      R,
    );
    page(await client.get('/visits/vis_nothing/cancel'), 404, 'GET', '/visits/{id}/cancel');
    checker.assertValid(form('/visits/{id}/cancel', 'post'), { _csrf: csrf }, 'the cancel form');
    page(await client.post(`${visitPath}/cancel`, { _csrf: 'stale' }), 403, 'POST', '/visits/{id}/cancel');
    // The staff pages' stream tells of the cancel (an `event: visit` as documented).
    const staffStream = await SseReader.open(`${server.url}/staff/events`, { cookie: client.cookie! });
    try {
      checker.check('GET', '/staff/events', { status: 200, headers: staffStream.response.headers, body: '' });
      page(await client.post(`${visitPath}/cancel`, { _csrf: csrf }), 303, 'POST', '/visits/{id}/cancel');
      const frame = await staffStream.next((f) => f.event === 'visit', 'the cancelled visit');
      assert.equal(frame.json.state, 'cancelled');
      const media = checker.documented('GET', '/staff/events', 200).content!['text/event-stream']!;
      checker.assertValid(media['x-event-data'], frame.json, 'an event of /staff/events');
    } finally {
      await staffStream.close();
    }
    page(await client.post(`${visitPath}/cancel`, { _csrf: csrf }), 409, 'POST', '/visits/{id}/cancel');
    page(await client.post(`${visitPath}/links/guest/0/resend`, { _csrf: csrf }), 409, 'POST', R);
    page(await client.get(`${visitPath}/cancel`), 409, 'GET', '/visits/{id}/cancel');
    page(
      await client.post('/visits/vis_nothing/cancel', { _csrf: csrf }),
      404,
      'POST',
      '/visits/{id}/cancel',
    );
    page(await client.post('/session/end', { _csrf: 'stale' }), 403, 'POST', '/session/end');
    page(await client.post('/session/end', { _csrf: csrf }), 303, 'POST', '/session/end');
    page(
      await client.post('/session', { key: server.key }, { origin: 'https://evil.example' }),
      403,
      'POST',
      '/session',
    );
  });
});

test('every documented operation was answered and checked above', () => {
  assert.deepEqual(checker.unchecked(), []);
  assert.ok(checker.seen.size >= 70, `only ${checker.seen.size} route-status pairs were checked`);
});
