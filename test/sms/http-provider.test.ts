/**
 * The generic HTTP SMS provider against a real HTTP server on 127.0.0.1: a JSON template and a
 * form template, values escaped for each; the auth header; 429/5xx retriable, 4xx permanent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authHeader, HttpSms, templateProblem } from '../../src/adapters/sms/http.js';
import { ChannelError } from '../../src/errors.js';
import { type ScriptedServer, startScriptedServer } from '../support/scripted-server.js';

const TRICKY = 'Visit "A&B" \\ 50% = ok?\nhttps://v.example/s/x?a=1&b=2 ç';

describe('generic HTTP SMS provider', () => {
  let server: ScriptedServer;
  before(async () => {
    server = await startScriptedServer();
  });
  after(() => server.close());

  test('a JSON template: the values escaped as JSON strings, Bearer auth, the answer id kept', async () => {
    server.reset();
    server.script({ status: 202, body: { id: 'msg-42', accepted: true } });
    const sms = new HttpSms({
      url: `${server.url}/send`,
      body: '{"destination":"{{to}}","message":{"text":"{{text}}"},"type":"sms"}',
      auth: 'Bearer sk_live_0123456789abcdef',
    });
    const result = await sms.send({ to: '+14155550100', text: TRICKY });
    assert.deepEqual(result, { providerId: 'msg-42', status: 'queued' });
    const request = server.requests[0]!;
    assert.equal(request.path, '/send');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers.authorization, 'Bearer sk_live_0123456789abcdef');
    assert.deepEqual(request.body, { destination: '+14155550100', message: { text: TRICKY }, type: 'sms' });
  });

  test('a form template: the values percent-encoded, a named auth header', async () => {
    server.reset();
    server.script({ status: 200, body: 'OK' });
    const sms = new HttpSms({
      url: `${server.url}/sms`,
      body: 'api=1&to={{to}}&msg={{ text }}',
      auth: 'X-Api-Key: key-0123456789',
    });
    const result = await sms.send({ to: '+14155550100', text: TRICKY });
    assert.deepEqual(result, { status: 'queued' });
    const request = server.requests[0]!;
    assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(request.headers['x-api-key'], 'key-0123456789');
    assert.equal(request.headers.authorization, undefined);
    const form = new URLSearchParams(request.rawBody);
    assert.deepEqual(Object.fromEntries(form), { api: '1', to: '+14155550100', msg: TRICKY });
  });

  test('429 and 5xx are retriable, other 4xx permanent; the auth never in an error', async () => {
    const sms = new HttpSms({ url: `${server.url}/send`, auth: 'Bearer sk_live_0123456789abcdef' });
    const cases = [
      { status: 429, headers: { 'retry-after': '30' }, body: { error: 'slow down' }, permanent: false },
      { status: 502, body: 'bad gateway', permanent: false },
      { status: 400, body: { error: 'invalid number +14155550100' }, permanent: true },
      { status: 401, body: { error: 'bad key sk_live_0123456789abcdef' }, permanent: true },
    ];
    for (const c of cases) {
      server.reset();
      server.script({ status: c.status, ...(c.headers ? { headers: c.headers } : {}), body: c.body });
      const err = await sms.send({ to: '+14155550100', text: 'x' }).then(
        () => assert.fail('should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ChannelError);
      assert.equal(err.permanent, c.permanent, String(c.status));
      assert.ok(err.message.includes(String(c.status)));
      assert.ok(!err.message.includes('sk_live_0123456789abcdef'), err.message);
      assert.ok(!err.message.includes('+14155550100'), `number masked: ${err.message}`);
      if (c.status === 429) assert.equal(err.retryAfter, 30);
    }
  });

  test('templates are checked: both placeholders, and JSON that parses once filled', () => {
    assert.equal(templateProblem('{"to":"{{to}}","text":"{{text}}"}'), undefined);
    assert.equal(templateProblem('to={{to}}&text={{text}}'), undefined);
    assert.match(templateProblem('{"to":"{{to}}"}') ?? '', /\{\{text\}\}/);
    assert.match(templateProblem('{"to":{{to}},"text":"{{text}}"}') ?? '', /not JSON/);
    assert.deepEqual(authHeader('Bearer abc'), ['authorization', 'Bearer abc']);
    assert.deepEqual(authHeader('X-Key: abc'), ['x-key', 'abc']);
  });
});
